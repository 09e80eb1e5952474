import TLS
import Media

/// What one audio stream of a call needs from signalling (XEP-0167 payload type, XEP-0320
/// fingerprint and setup, RFC 5763 §5) and the encoder settings (RFC 7587 Opus over RTP).
public struct MediaSessionConfiguration: Sendable {
    /// The Opus bitrate a session uses unless told otherwise (bits per second). 48 kbit/s rather
    /// than 32: in-band FEC takes its bits from the speech's own budget, and measured here
    /// (wideband PESQ, see BENCHMARKS.md) 32 kbit/s cannot both stay above 3.8 on a clean call
    /// and reach 3.0 at 10% loss, while 48 kbit/s does both with room (3.99 and 3.59).
    public static let defaultOpusBitrate = 48_000
    /// The loss percentage the encoder protects against before RTCP reports steer it: a call
    /// starts protected (the first report comes after about a second, and losses in that second
    /// cost about 0.4 PESQ at 10% loss) and relaxes slowly while reports show a clean path.
    public static let defaultExpectedLossPercent = 10

    /// DTLS role from the resolved `setup` attribute: `active` is the client, `passive` the server.
    public var role: DTLSConnection.Role
    /// This call's certificate; its fingerprint is what we signalled.
    public var certificate: DTLSCertificate
    /// The peer's signalled fingerprint: hash name ("sha-256") and value ("AB:CD:...").
    public var remoteFingerprint: (hash: String, value: String)
    /// Dynamic RTP payload type negotiated for Opus (RFC 7587 §7).
    public var payloadType: UInt8
    /// Dynamic RTP payload type negotiated for telephone-event (RFC 4733), or nil when the peer
    /// did not offer it (then `sendDTMF` refuses and no events are recognised).
    public var telephoneEventPayloadType: UInt8?
    /// That payload type's clock rate: 48000, or 8000 where the peer offers only that. Event
    /// timestamps stay on the audio's 48 kHz clock; event durations count in this rate.
    public var telephoneEventClockRate: Int
    /// Every agreed telephone-event payload type with its clock rate: events arriving on any of
    /// them are recognised. A peer need not send on the one we send on: libwebrtc, with Opus,
    /// sends on the lowest clock rate agreed (8000 when both are).
    public var receivedTelephoneEvents: [UInt8: Int]
    /// The negotiated RFC 2198 `red` payload type repeating our Opus payload type (XEP-0167,
    /// `fmtp 111/111`), or nil. When set, RED packets from the peer are taken (a lost frame is
    /// restored from the packets after it), and ours carry redundancy as `redundancy` decides.
    public var redPayloadType: UInt8?
    /// How much redundancy to send, and the Opus bit rate beside it, by the loss the peer
    /// reports. Only used with `redPayloadType`.
    public var redundancy: RedundancyController
    /// Our RTP synchronisation source.
    public var ssrc: UInt32
    /// CNAME sent in RTCP SDES (RFC 3550 §6.5.1).
    public var cname: String
    public var opusBitrate: Int
    /// Opus encoder complexity 0-10 (`OPUS_SET_COMPLEXITY`), or nil for libopus's default (9 in
    /// 1.3.1). Encoding is most of a call's CPU: about 500 us per 20 ms frame at 9 and about
    /// 300 us at 5 on this project's benchmark machine (BENCHMARKS.md, calls in one process).
    public var opusComplexity: Int?
    /// Opus in-band FEC (RFC 6716 §2.1.7). The loss percentage told to the encoder starts at
    /// `expectedLossPercent` and then follows the peer's RTCP reports (`ExpectedLossEstimator`).
    public var forwardErrorCorrection: Bool
    public var expectedLossPercent: Int
    public var discontinuousTransmission: Bool
    /// Interval between RTCP compound packets (RFC 3550 §6.2; fixed here, about one second).
    public var rtcpInterval: Duration
    public var jitterBuffer: AdaptiveJitterBufferSettings
    /// Whether the jitter buffer may shorten frames to bring its delay back to target (NetEq-style
    /// accelerate). Off keeps every played frame exactly 20 ms.
    public var timeStretching: Bool
    /// TEST ONLY: drops this fraction (0...1) of outgoing RTP packets, after encoding and before
    /// SRTP, with a seeded generator so runs repeat. RTCP, DTLS and STUN are never dropped.
    /// Leave `nil` in real calls.
    public var testOnlyOutgoingRTPLoss: (fraction: Double, seed: UInt64)?
    /// TEST ONLY: with `testOnlyOutgoingRTPLoss`, drop in bursts of this mean length (packets;
    /// Gilbert-Elliott) instead of independently.
    public var testOnlyOutgoingLossMeanBurst: Double?

    public init(
        role: DTLSConnection.Role, certificate: DTLSCertificate, remoteFingerprint: (hash: String, value: String),
        payloadType: UInt8 = 111, telephoneEventPayloadType: UInt8? = 101, telephoneEventClockRate: Int = 48_000,
        receivedTelephoneEvents: [UInt8: Int]? = nil, redPayloadType: UInt8? = nil,
        redundancy: RedundancyController? = nil, ssrc: UInt32 = UInt32.random(in: 1...UInt32.max), cname: String = "jinglekit",
        opusBitrate: Int = MediaSessionConfiguration.defaultOpusBitrate, opusComplexity: Int? = nil,
        forwardErrorCorrection: Bool = true, expectedLossPercent: Int = MediaSessionConfiguration.defaultExpectedLossPercent,
        discontinuousTransmission: Bool = false, rtcpInterval: Duration = .seconds(1),
        jitterBuffer: AdaptiveJitterBufferSettings = .init(), timeStretching: Bool = true,
        testOnlyOutgoingRTPLoss: (fraction: Double, seed: UInt64)? = nil
    ) {
        self.role = role
        self.certificate = certificate
        self.remoteFingerprint = remoteFingerprint
        self.payloadType = payloadType
        self.telephoneEventPayloadType = telephoneEventPayloadType
        self.telephoneEventClockRate = telephoneEventClockRate
        self.redPayloadType = redPayloadType
        self.redundancy = redundancy ?? RedundancyController(levels: RedundancyController.defaultLevels(cleanBitrate: opusBitrate))
        self.receivedTelephoneEvents =
            receivedTelephoneEvents
            ?? telephoneEventPayloadType.map { [$0: telephoneEventClockRate] } ?? [:]
        self.ssrc = ssrc
        self.cname = cname
        self.opusBitrate = opusBitrate
        self.opusComplexity = opusComplexity
        self.forwardErrorCorrection = forwardErrorCorrection
        self.expectedLossPercent = expectedLossPercent
        self.discontinuousTransmission = discontinuousTransmission
        self.rtcpInterval = rtcpInterval
        self.jitterBuffer = jitterBuffer
        self.timeStretching = timeStretching
        self.testOnlyOutgoingRTPLoss = testOnlyOutgoingRTPLoss
    }
}

/// Jitter-buffer bounds for the receive side (`AdaptiveJitterBuffer.Configuration` at 48 kHz, 20 ms frames).
/// The 60 ms floor leaves a packet 50 ms to arrive after the frame before it is played, so a
/// sender or receiver thread that is late by a scheduling hiccup does not cause an underrun.
public struct AdaptiveJitterBufferSettings: Sendable, Hashable {
    public var minimumDelay: Duration
    public var maximumDelay: Duration
    public init(minimumDelay: Duration = .milliseconds(60), maximumDelay: Duration = .milliseconds(400)) {
        self.minimumDelay = minimumDelay
        self.maximumDelay = maximumDelay
    }
}
