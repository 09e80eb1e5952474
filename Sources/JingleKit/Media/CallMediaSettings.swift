import Transport

/// How calls get their media (XEP-0176 ICE-UDP over libnice, XEP-0320 DTLS-SRTP, RFC 7587 Opus):
/// which local addresses and STUN/TURN servers ICE uses, and the encoder's settings.
public struct CallMediaSettings: Sendable {
    /// Local addresses for host candidates; empty lets libnice use every interface (loopback only when listed).
    public var localAddresses: [String]
    /// STUN and TURN servers given explicitly (literal IP addresses).
    public var iceServers: [ICEServer]
    /// Also ask the XMPP server for STUN/TURN services and credentials (XEP-0215) for each call.
    public var discoverServers: Bool
    /// Use relayed candidates only (the peer sees only the relay's address).
    public var relayOnly: Bool
    /// Opus target bitrate in bits per second (RFC 7587 §3.1.1); 48 kbit/s by default, which keeps
    /// speech clear with in-band FEC on (see `MediaSessionConfiguration.defaultOpusBitrate`).
    public var opusBitrate: Int
    /// Opus encoder complexity 0-10, or nil for libopus's default (see
    /// `MediaSessionConfiguration.opusComplexity`: lower costs less CPU per call).
    public var opusComplexity: Int?
    /// Opus in-band forward error correction (RFC 6716 §2.1.7).
    public var forwardErrorCorrection: Bool
    /// Opus discontinuous transmission: fewer packets during silence.
    public var discontinuousTransmission: Bool
    /// Bounds of the receive jitter buffer's delay (it adapts between them).
    public var jitterBuffer: AdaptiveJitterBufferSettings
    /// Let the jitter buffer shorten or lengthen frames to steer its delay (lower latency);
    /// off keeps every played frame exactly 20 ms (a recorder that prefers fidelity to latency).
    public var timeStretching: Bool
    /// How long `localCandidates()` waits for gathering before the offer or answer goes out; later
    /// candidates are trickled in transport-info (XEP-0176 §5).
    public var gatheringWait: Duration
    /// How long ICE and DTLS may take after the peer's transport is known before the call fails
    /// with `<failed-transport/>`.
    public var connectTimeout: Duration
    /// Testing only: this share (0...1) of our outgoing RTP packets is dropped before ICE, with a
    /// fixed seed, so a test can show what the peer does with a lossy stream.
    public var testOnlyOutgoingRTPLoss: Double?
    /// Testing only: with `testOnlyOutgoingRTPLoss`, drop in bursts of this mean length (packets,
    /// Gilbert-Elliott) instead of independently.
    public var testOnlyOutgoingLossMeanBurst: Double?

    /// The most remote ICE candidates one call hands to libnice, offer and trickle together
    /// (later ones are dropped): a hostile peer cannot make the agent check an unbounded number
    /// of candidate pairs (RFC 8445 §6.1.2.5 prunes, but only after forming them).
    public static let maximumRemoteCandidates = 64

    public init(
        localAddresses: [String] = [], iceServers: [ICEServer] = [], discoverServers: Bool = true,
        relayOnly: Bool = false, opusBitrate: Int = MediaSessionConfiguration.defaultOpusBitrate, forwardErrorCorrection: Bool = true,
        discontinuousTransmission: Bool = false, jitterBuffer: AdaptiveJitterBufferSettings = .init(),
        timeStretching: Bool = true, gatheringWait: Duration = .seconds(2),
        connectTimeout: Duration = .seconds(30), opusComplexity: Int? = nil
    ) {
        self.localAddresses = localAddresses
        self.iceServers = iceServers
        self.discoverServers = discoverServers
        self.relayOnly = relayOnly
        self.opusBitrate = opusBitrate
        self.opusComplexity = opusComplexity
        self.forwardErrorCorrection = forwardErrorCorrection
        self.discontinuousTransmission = discontinuousTransmission
        self.jitterBuffer = jitterBuffer
        self.timeStretching = timeStretching
        self.gatheringWait = gatheringWait
        self.connectTimeout = connectTimeout
    }
}
