import Jingle

/// The remote half of a content's transport as signalled (XEP-0176 §5 ICE-UDP credentials and
/// candidates, XEP-0320 §3 DTLS fingerprint) and the DTLS role we ended up with (RFC 5763 §5).
public struct RemoteMediaParameters: Sendable, Hashable {
    public var ufrag: String?
    public var pwd: String?
    public var candidates: [Candidate]
    public var fingerprint: Fingerprint?
    public var dtlsRole: DTLSRole?
    /// The payload types both sides agreed on (XEP-0167 §5: the answer's list), ids as on the wire.
    public var payloadTypes: [PayloadType]

    public init(
        ufrag: String?, pwd: String?, candidates: [Candidate], fingerprint: Fingerprint?, dtlsRole: DTLSRole?,
        payloadTypes: [PayloadType] = []
    ) {
        self.ufrag = ufrag
        self.pwd = pwd
        self.candidates = candidates
        self.fingerprint = fingerprint
        self.dtlsRole = dtlsRole
        self.payloadTypes = payloadTypes
    }
}

/// What a media transport reports to the call while it runs.
public enum MediaTransportEvent: Sendable, Hashable {
    /// Candidates gathered after the offer/answer went out: the call sends them in a transport-info.
    case localCandidates([Candidate])
    /// ICE connectivity checks succeeded on this pair (RFC 8445 §8).
    case iceConnected(SelectedCandidatePair)
    /// ICE selected a pair and DTLS-SRTP completed with the signalled fingerprint.
    case connected
    /// The first packet of the peer's audio was decoded.
    case firstAudio
    /// The peer sent an RFC 4733 telephone-event (a DTMF digit).
    case dtmf(Character)
    /// The call's audio source returned no more frames.
    case audioSourceFinished
    /// ICE or DTLS failed; the call ends with `<failed-transport/>` or `<security-error/>`.
    case failed(Reason)
    /// The transport restarted ICE (RFC 8445 §9) with new credentials; an `iceConnected` after
    /// this one reports the new generation's pair.
    case iceRestarted
    /// After an ICE restart: a media packet arrived once ICE had reconnected.
    case mediaResumed
}

/// One call's transport for its audio content: ICE agent (XEP-0176) plus DTLS-SRTP (XEP-0320).
/// The call asks for local credentials and candidates for its offer or answer, hands over the
/// peer's parameters once known, forwards trickled candidates, and closes it when the call ends.
public protocol MediaTransport: AnyObject, Sendable {
    /// ufrag/pwd and our DTLS certificate fingerprint, for the offer or answer.
    func localTransport() async -> LocalTransport
    /// Candidates gathered so far (host candidates at least), for the offer or answer.
    func localCandidates() async -> [Candidate]
    /// The peer's credentials, candidates and fingerprint from its offer or answer; starts connectivity checks.
    func start(remote: RemoteMediaParameters) async
    /// Candidates the peer trickled in a transport-info.
    func addRemoteCandidates(_ candidates: [Candidate]) async
    /// Progress reports; finishes when the transport closes.
    var events: AsyncStream<MediaTransportEvent> { get }
    /// Releases sockets and agents; called once when the call ends.
    func close() async
    /// ICE restart (RFC 8445 §9, XEP-0176 §2.4); DTLS and SRTP keep their association (XEP-0320).
    /// With `remote` nil we initiate: new local credentials, the peer's old candidates dropped.
    /// With `remote` (the peer's new ufrag, pwd and candidates) the transport restarts too,
    /// unless this is the answer to its own restart, then uses the peer's new credentials.
    /// Returns our credentials after the restart (then `localCandidates()` are re-signalled),
    /// or nil when the transport cannot restart (the call then keeps its old credentials).
    func restartICE(remote: RemoteMediaParameters?) async -> LocalTransport?
    /// Media counters of the call so far; nil before the media session exists, or for
    /// transports that carry no audio.
    var mediaStatistics: CallMediaStatistics? { get }
}

extension MediaTransport {
    /// Transports that cannot restart ICE keep their credentials.
    public func restartICE(remote: RemoteMediaParameters?) async -> LocalTransport? { nil }
    /// Transports without a media session have no counters.
    public var mediaStatistics: CallMediaStatistics? { nil }
}

/// Makes one `MediaTransport` per call: the seam where ICE over libnice, DTLS and SRTP plug in.
public protocol MediaTransportProvider: Sendable {
    func makeTransport(sid: String, role: Creator) async throws -> any MediaTransport
}

/// The candidate pair ICE uses (RFC 8445 §4), as the W3C candidate-pair statistics describe it.
public struct SelectedCandidatePair: Sendable, Hashable, Codable, CustomStringConvertible {
    public var localType: CandidateType
    public var localAddress: String
    public var localPort: UInt16
    public var remoteType: CandidateType
    public var remoteAddress: String
    public var remotePort: UInt16
    /// `udp` or `tcp`.
    public var transportProtocol: String

    public init(
        localType: CandidateType, localAddress: String, localPort: UInt16, remoteType: CandidateType,
        remoteAddress: String, remotePort: UInt16, transportProtocol: String
    ) {
        self.localType = localType
        self.localAddress = localAddress
        self.localPort = localPort
        self.remoteType = remoteType
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.transportProtocol = transportProtocol
    }

    /// Whether either end is a TURN relay.
    public var isRelayed: Bool { localType == .relay || remoteType == .relay }

    public var description: String {
        "\(localType.rawValue) \(localAddress):\(localPort) -> \(remoteType.rawValue) \(remoteAddress):\(remotePort) (\(transportProtocol))"
    }
}

/// A media transport that carries audio: the call's PCM source and sink, mute, DTMF and
/// statistics reach it through this protocol.
protocol AudioMediaTransport: MediaTransport {
    /// Connects the call's audio slots; called once, right after the transport is made.
    func route(_ audio: CallAudioRouting)
    /// Queues RFC 4733 telephone-events for `digits` (0-9, *, #, A-D).
    func sendDTMF(_ digits: String) throws(CallError)
}
