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
    /// Opus target bitrate in bits per second (RFC 7587 §3.1.1).
    public var opusBitrate: Int
    /// Opus in-band forward error correction (RFC 6716 §2.1.7).
    public var forwardErrorCorrection: Bool
    /// Opus discontinuous transmission: fewer packets during silence.
    public var discontinuousTransmission: Bool
    /// How long `localCandidates()` waits for gathering before the offer or answer goes out; later
    /// candidates are trickled in transport-info (XEP-0176 §5).
    public var gatheringWait: Duration
    /// How long ICE and DTLS may take after the peer's transport is known before the call fails
    /// with `<failed-transport/>`.
    public var connectTimeout: Duration

    public init(localAddresses: [String] = [], iceServers: [ICEServer] = [], discoverServers: Bool = true,
                relayOnly: Bool = false, opusBitrate: Int = 32_000, forwardErrorCorrection: Bool = true,
                discontinuousTransmission: Bool = false, gatheringWait: Duration = .seconds(2),
                connectTimeout: Duration = .seconds(30)) {
        self.localAddresses = localAddresses
        self.iceServers = iceServers
        self.discoverServers = discoverServers
        self.relayOnly = relayOnly
        self.opusBitrate = opusBitrate
        self.forwardErrorCorrection = forwardErrorCorrection
        self.discontinuousTransmission = discontinuousTransmission
        self.gatheringWait = gatheringWait
        self.connectTimeout = connectTimeout
    }
}
