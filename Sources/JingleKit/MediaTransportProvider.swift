import Jingle

/// The remote half of a content's transport as signalled (XEP-0176 §5 ICE-UDP credentials and
/// candidates, XEP-0320 §3 DTLS fingerprint) and the DTLS role we ended up with (RFC 5763 §5).
public struct RemoteMediaParameters: Sendable, Hashable {
    public var ufrag: String?
    public var pwd: String?
    public var candidates: [Candidate]
    public var fingerprint: Fingerprint?
    public var dtlsRole: DTLSRole?

    public init(ufrag: String?, pwd: String?, candidates: [Candidate], fingerprint: Fingerprint?, dtlsRole: DTLSRole?) {
        self.ufrag = ufrag
        self.pwd = pwd
        self.candidates = candidates
        self.fingerprint = fingerprint
        self.dtlsRole = dtlsRole
    }
}

/// What a media transport reports to the call while it runs.
public enum MediaTransportEvent: Sendable, Hashable {
    /// Candidates gathered after the offer/answer went out: the call sends them in a transport-info.
    case localCandidates([Candidate])
    /// ICE selected a pair and DTLS-SRTP completed with the signalled fingerprint.
    case connected
    /// ICE or DTLS failed; the call ends with `<failed-transport/>` or `<security-error/>`.
    case failed(Reason)
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
}

/// Makes one `MediaTransport` per call: the seam where ICE over libnice, DTLS and SRTP plug in.
public protocol MediaTransportProvider: Sendable {
    func makeTransport(sid: String, role: Creator) async throws -> any MediaTransport
}
