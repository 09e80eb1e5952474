import Synchronization
import Transport

/// One STUN or TURN server a call's ICE agent was given, and what came of it: the first thing to
/// read when a call could not connect (a relay-only call whose TURN server is unreachable or
/// refuses its credentials gathers no candidate at all).
public struct ICEServerStatus: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Outcome: String, Sendable, Hashable, Codable {
        /// TURN: libnice got a relayed candidate from it (or, failing that, a separate Allocate succeeded).
        case allocated
        /// TURN: the server answered the Allocate with an error (`errorCode`, `detail`).
        case error
        /// TURN: no answer (`detail`: timeout, ICMP port unreachable, TCP refused).
        case noAnswer
        /// TURN: no relayed candidate from libnice yet, and the separate Allocate has not finished.
        case pending
        /// STUN: a server-reflexive candidate came from it.
        case reflexive
        /// STUN: no server-reflexive candidate distinct from the host ones (none on loopback), or no answer.
        case noReflexive
        /// Not checked (TURN over TLS without a relayed candidate).
        case notChecked
    }

    /// `stun:HOST:PORT`, `turn:HOST:PORT?transport=udp|tcp`, `turns:HOST:PORT?transport=tcp`.
    public var server: String
    public var outcome: Outcome
    /// Relayed (TURN) or server-reflexive (STUN) addresses, `ip:port`.
    public var addresses: [String]
    /// The STUN error code (RFC 8489 §14.8) of a refused Allocate, e.g. 401.
    public var errorCode: Int?
    /// The reason phrase and what it usually means, or why there was no answer.
    public var detail: String?

    public init(server: String, outcome: Outcome, addresses: [String] = [], errorCode: Int? = nil, detail: String? = nil) {
        self.server = server
        self.outcome = outcome
        self.addresses = addresses
        self.errorCode = errorCode
        self.detail = detail
    }

    public var description: String {
        var text = "\(server): "
        switch outcome {
        case .allocated: text += "allocated"
        case .error: text += "error \(errorCode.map(String.init) ?? "?")"
        case .noAnswer: text += "no answer"
        case .pending: text += "no relayed candidate"
        case .reflexive: text += "reflexive address"
        case .noReflexive: text += "no reflexive address"
        case .notChecked: text += "not checked"
        }
        if !addresses.isEmpty { text += " \(addresses.joined(separator: ", "))" }
        if let detail { text += " (\(detail))" }
        return text
    }

    /// The server as a URI (RFC 7064/7065).
    public static func uri(_ s: ICEServer) -> String {
        let host = s.address.contains(":") ? "[\(s.address)]" : s.address
        return switch s.kind {
        case .stun: "stun:\(host):\(s.port)"
        case .turnUDP: "turn:\(host):\(s.port)?transport=udp"
        case .turnTCP: "turn:\(host):\(s.port)?transport=tcp"
        case .turnTLS: "turns:\(host):\(s.port)?transport=tcp"
        }
    }

    init(_ server: ICEServer, probe: TURNProbeOutcome) {
        let uri = Self.uri(server)
        switch probe {
        case .allocated(let relayed, _, _):
            self.init(
                server: uri, outcome: .allocated, addresses: relayed,
                detail: "libnice got no relayed candidate, but a separate Allocate succeeded")
        case .error(let code, let reason):
            self.init(
                server: uri, outcome: .error, errorCode: code,
                detail: reason + (TURNProbeOutcome.hint(code).map { ": \($0)" } ?? ""))
        case .noAnswer(let why):
            self.init(server: uri, outcome: .noAnswer, detail: why)
        case .notTried(let why):
            self.init(server: uri, outcome: .notChecked, detail: "no relayed candidate; \(why)")
        }
    }
}

/// Follows which configured server each local candidate came from (libnice names the TURN server
/// of each relayed candidate), and once gathering is over (or the offer goes out) asks every
/// TURN server that gave nothing why, with one Allocate of its own (`TURNProbe`).
final class ICEServerTracker: Sendable {
    private let servers: [ICEServer]
    private let probeTimeout: Duration
    private struct State {
        var statuses: [ICEServerStatus]
        var fromLibnice: [Bool]
        var probed = false
    }
    private let state: Mutex<State>

    init(servers: [ICEServer], probeTimeout: Duration = .seconds(3)) {
        self.servers = servers
        self.probeTimeout = probeTimeout
        state = Mutex(
            State(
                statuses: servers.map { s in
                    ICEServerStatus(server: ICEServerStatus.uri(s), outcome: s.isTURN ? .pending : .noReflexive)
                }, fromLibnice: servers.map { _ in false }))
    }

    var statuses: [ICEServerStatus] { state.withLock { $0.statuses } }

    /// One of our candidates, as libnice gathered it.
    func gathered(_ candidate: ICECandidate) {
        state.withLock { s in
            switch candidate.kind {
            case .relayed:
                guard let from = candidate.relayServer else { return }
                // Several entries may share an address and port (TURN over UDP and TCP): the
                // first without a candidate yet takes it.
                let matching = servers.indices.filter { servers[$0].isTURN && Self.endpoint(servers[$0]) == from }
                guard let i = matching.first(where: { !s.fromLibnice[$0] }) ?? matching.first else { return }
                s.fromLibnice[i] = true
                s.statuses[i].outcome = .allocated
                s.statuses[i].errorCode = nil
                s.statuses[i].detail = nil
                s.statuses[i].addresses.append("\(candidate.address):\(candidate.port)")
            case .serverReflexive:
                for i in servers.indices where !servers[i].isTURN {
                    s.statuses[i].outcome = .reflexive
                    s.statuses[i].addresses.append("\(candidate.address):\(candidate.port)")
                }
            case .host, .peerReflexive:
                break
            }
        }
    }

    /// Gathering is over, or the offer is going out: each TURN server without a relayed candidate
    /// gets one Allocate of its own, whose answer says why (once per call).
    func diagnose() {
        let toProbe = state.withLock { s -> [Int] in
            guard !s.probed else { return [] }
            s.probed = true
            return servers.indices.filter { servers[$0].isTURN && !s.fromLibnice[$0] }
        }
        for i in toProbe {
            let server = servers[i]
            let timeout = probeTimeout
            Task.detached { [weak self] in
                let outcome = await TURNProbe.allocate(on: server, timeout: timeout)
                self?.state.withLock { s in
                    // A relayed candidate that arrived meanwhile says more than the probe.
                    guard !s.fromLibnice[i] else { return }
                    s.statuses[i] = ICEServerStatus(server, probe: outcome)
                }
            }
        }
    }

    static func endpoint(_ s: ICEServer) -> String {
        s.address.contains(":") ? "[\(s.address)]:\(s.port)" : "\(s.address):\(s.port)"
    }
}
