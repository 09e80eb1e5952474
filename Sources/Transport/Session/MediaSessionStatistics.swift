/// A snapshot of one media session (counters in the spirit of RFC 3550 §6.4 and the W3C
/// webrtc-stats inbound/outbound RTP and candidate-pair entries).
public struct MediaSessionStatistics: Sendable, Hashable {
    /// RTP packets handed to ICE (after the test-only loss stage) and their SRTP bytes.
    public var packetsSent = 0
    public var bytesSent = 0
    /// 20 ms frames the Opus encoder encoded (`send(frame:)`), and Opus packets sent as they
    /// were handed over (`send(opusPacket:)`, no encoding).
    public var framesEncoded = 0
    public var opusPacketsPassedThrough = 0
    /// RTP packets the test-only loss stage dropped.
    public var packetsDroppedByLossStage = 0
    public var packetsReceived = 0
    public var bytesReceived = 0
    /// SRTP/SRTCP packets that failed authentication or replay checks.
    public var packetsRejected = 0
    /// Our view of the peer's stream: cumulative lost packets and fraction lost in the last interval (0...1).
    public var packetsLost: Int = 0
    public var fractionLost: Double = 0
    /// Interarrival jitter of the received stream (RFC 3550 §6.4.1).
    public var jitter: Duration = .zero
    /// What the peer reported about our stream in its last RTCP report block.
    public var remoteFractionLost: Double = 0
    public var remotePacketsLost: Int = 0
    public var remoteJitter: Duration = .zero
    /// The packet-loss percentage the Opus encoder currently protects against with in-band FEC,
    /// smoothed from the peer's RTCP reports (0 when FEC is off).
    public var encoderExpectedLossPercent = 0
    /// RFC 4733 telephone-event packets sent and received (valid ones), malformed ones received,
    /// and DTMF digits reported.
    public var telephoneEventPacketsSent = 0
    public var telephoneEventPacketsReceived = 0
    public var telephoneEventPacketsMalformed = 0
    public var dtmfDigitsReceived = 0
    /// Round-trip time from the peer's LSR/DLSR (RFC 3550 §6.4.1), once known.
    public var roundTripTime: Duration?
    public var rtcpSent = 0
    public var rtcpReceived = 0
    public var decodedFrames = 0
    public var concealedFrames = 0
    public var fecRecoveredFrames = 0
    /// Frames restored from a later packet's RFC 2198 redundancy before the decoder would have
    /// concealed them, and RED packets received.
    public var redRecoveredFrames = 0
    public var redPacketsReceived = 0
    /// Whether RED was agreed with the peer (`MediaSessionConfiguration.redPayloadType`).
    public var redAgreed = false
    /// Redundant frames each packet we send repeats now (0: plain Opus), and the Opus bit rate
    /// beside it (`RedundancyController`).
    public var redDistance = 0
    public var opusBitrate = 0
    /// Frames of silence played through gaps the sender left without losing a packet (DTX).
    public var silenceFrames = 0
    /// Frames the jitter buffer shortened (accelerate), and frames it concealed because nothing
    /// was buffered (expand: each lengthens the delay by one frame; included in `concealedFrames`).
    public var acceleratedFrames = 0
    public var expandedFrames = 0
    /// Current jitter-buffer delay.
    public var jitterBufferDelay: Duration = .zero
    /// The ICE pair in use, as "local address:port -> remote address:port".
    public var selectedPair: String?
    /// Candidate types of the pair in use (RFC 8445 §5.1.1): `.relayed` means through TURN.
    public var selectedLocalCandidateKind: ICECandidate.Kind?
    public var selectedRemoteCandidateKind: ICECandidate.Kind?
    public var srtpProfile: SRTPProfile?
    /// How long after the session started DTLS completed.
    public var dtlsHandshakeDuration: Duration?
    /// DTLS records sent (flights and their retransmissions, RFC 6347 §4.2.4) and received: a
    /// handshake that stalls shows here whether anything reached the peer or came back.
    public var dtlsDatagramsSent = 0
    public var dtlsDatagramsReceived = 0
    /// Datagrams (DTLS, SRTP or SRTCP) the ICE agent refused to send, for example before a
    /// candidate pair was selected.
    public var sendFailures = 0

    public init() {}
}
