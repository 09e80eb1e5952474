import Synchronization
import Jingle

/// A transport for signalling tests and the harness only: it produces syntactically valid ICE
/// credentials (RFC 8445 §5.3 lengths), a random SHA-256-shaped DTLS fingerprint (XEP-0320) and one
/// host candidate on 127.0.0.1, and carries no media at all. It never reports `connected`. An ICE
/// restart (RFC 8445 §9) gets fresh random credentials, so signalling-only peers answer restarts.
public struct SignallingOnlyTransportProvider: MediaTransportProvider {
    public init() {}
    public func makeTransport(sid: String, role: Creator) async throws -> any MediaTransport {
        SignallingOnlyTransport()
    }
}

/// See `SignallingOnlyTransportProvider`: signalling-only, no sockets are opened.
public final class SignallingOnlyTransport: MediaTransport {
    /// Our credentials, and whether we restarted and wait for the peer's new ones.
    private let state: Mutex<(local: LocalTransport, awaitingRestartAnswer: Bool)>
    private let candidate: Candidate
    public let events: AsyncStream<MediaTransportEvent>
    private let sink: AsyncStream<MediaTransportEvent>.Continuation

    public init() {
        var g = SystemRandomNumberGenerator()
        let token = Self.token
        let fingerprint = (0..<32).map { _ in
            let b = UInt8.random(in: 0...255, using: &g)
            let hex = String(b, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
        state = Mutex((LocalTransport(ufrag: token(8), pwd: token(24), fingerprintHash: "sha-256", fingerprint: fingerprint), false))
        // RFC 8445 §5.1.2.1 priority of a host candidate, component 1, local preference 65535.
        candidate = Candidate(
            component: 1, foundation: "1", id: token(10), ip: "127.0.0.1", network: 0,
            port: UInt16.random(in: 49152...65535, using: &g), priority: (126 << 24) | (65535 << 8) | 255,
            type: .host)
        (events, sink) = AsyncStream.makeStream(of: MediaTransportEvent.self)
    }

    /// `n` random ICE characters (RFC 8445 §5.3).
    private static func token(_ n: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/")
        var g = SystemRandomNumberGenerator()
        return String((0..<n).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &g)] })
    }

    public func localTransport() async -> LocalTransport { state.withLock { $0.local } }
    public func localCandidates() async -> [Candidate] { [candidate] }
    public func start(remote: RemoteMediaParameters) async {}
    public func addRemoteCandidates(_ candidates: [Candidate]) async {}
    public func close() async { sink.finish() }

    public func restartICE(remote: RemoteMediaParameters?) async -> LocalTransport? {
        state.withLock { s in
            if remote != nil, s.awaitingRestartAnswer {
                s.awaitingRestartAnswer = false
            } else {
                s.awaitingRestartAnswer = remote == nil
                s.local.ufrag = Self.token(8)
                s.local.pwd = Self.token(24)
            }
            return s.local
        }
    }
}
