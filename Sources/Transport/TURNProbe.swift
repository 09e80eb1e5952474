#if canImport(Glibc)
    import Glibc
#endif
import DriverClock
import EngineTime
import Foundation
import STUN
import TURNClientEngine

/// What one TURN Allocate (RFC 8656 §7) with given credentials came to.
public enum TURNProbeOutcome: Sendable, Hashable, CustomStringConvertible {
    /// The server allocated: relayed and server-reflexive addresses (`ip:port`), lifetime in seconds.
    case allocated(relayed: [String], mapped: String?, lifetime: UInt32)
    /// The server answered with an error (RFC 8489 §14.8), after the credential retry for 401.
    case error(code: Int, reason: String)
    /// Nothing usable came back: no response in time, ICMP port unreachable, a refused or closed
    /// TCP connection. The text says which.
    case noAnswer(String)
    /// Not tried (a STUN-only server, TURN over TLS, an address that does not parse).
    case notTried(String)

    public var description: String {
        switch self {
        case .allocated(let relayed, let mapped, let lifetime):
            "allocated, relayed \(relayed.joined(separator: ", "))\(mapped.map { ", mapped \($0)" } ?? ""), lifetime \(lifetime) s"
        case .error(let code, let reason):
            "error \(code) \(reason)\(Self.hint(code).map { ": \($0)" } ?? "")"
        case .noAnswer(let why): "no answer (\(why))"
        case .notTried(let why): "not tried (\(why))"
        }
    }

    /// What an error code usually means for a server whose credentials the XMPP server handed out.
    public static func hint(_ code: Int) -> String? {
        switch code {
        case 401:
            "the relay refused the credentials; with XEP-0215 TURN REST credentials the XMPP server's and the relay's shared secrets differ (or their clocks, for the expiry time)"
        case 403: "the relay forbids this client or request"
        case 437: "allocation mismatch (a stale allocation from this address and port)"
        case 441: "wrong credentials for this allocation"
        case 486: "the relay's allocation quota for this user is reached"
        case 508: "the relay has no relay port free"
        default: nil
        }
    }

    public var isAllocated: Bool {
        if case .allocated = self { true } else { false }
    }
}

/// One TURN allocation attempt, to say why a relay does or does not work: the sans-IO
/// `TURNClient` engine over a UDP or TCP socket of its own, on a plain thread (the calling task
/// only awaits). An allocation that succeeds is released at once (Refresh with lifetime 0).
public enum TURNProbe {
    /// Allocates on `server` (TURN over UDP or TCP) with its credentials; gives up after `timeout`.
    public static func allocate(on server: ICEServer, timeout: Duration = .seconds(5)) async -> TURNProbeOutcome {
        await withCheckedContinuation { (done: CheckedContinuation<TURNProbeOutcome, Never>) in
            Thread.detachNewThread {
                done.resume(
                    returning: run(
                        server,
                        timeout: Double(timeout.components.seconds)
                            + Double(timeout.components.attoseconds) / 1e18))
            }
        }
    }

    /// The blocking attempt.
    static func run(_ server: ICEServer, timeout: Double) -> TURNProbeOutcome {
        let username: String, password: String, tcp: Bool
        switch server.kind {
        case .stun: return .notTried("a STUN server has no allocations")
        case .turnTLS: return .notTried("TURN over TLS is not probed")
        case .turnUDP(let u, let p): (username, password, tcp) = (u, p, false)
        case .turnTCP(let u, let p): (username, password, tcp) = (u, p, true)
        }
        guard let address = SocketAddressBytes(host: server.address, port: server.port) else {
            return .notTried("'\(server.address)' is not an address")
        }
        let fd = socket(address.family, Int32(tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return .notTried("cannot open a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let clock = EngineClock()
        let deadline = clock.now + .seconds(timeout)
        let transport = tcp ? "TCP" : "UDP"
        // Connected, so a UDP socket reports ICMP port unreachable as ECONNREFUSED.
        let connected = address.withSockaddr { connect(fd, $0, $1) }
        if connected != 0 {
            guard errno == EINPROGRESS else { return .noAnswer(connectError(errno, transport)) }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ms = Int32(max(0, milliseconds(deadline - clock.now)))
            guard poll(&p, 1, ms) == 1 else { return .noAnswer("no TCP connection within \(format(timeout)) s") }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error != 0 { return .noAnswer(connectError(error, transport)) }
        }

        var configuration = TURNClient.Configuration(username: username, password: password)
        configuration.reliable = tcp
        var client = TURNClient(configuration: configuration)
        var stream: [UInt8] = []
        var outcome: TURNProbeOutcome?
        var released = false
        func now() -> EngineInstant { clock.now }
        func perform(_ actions: [TURNClient.Action]) {
            for action in actions {
                switch action {
                case .send(let bytes):
                    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                case .event(.allocated(let relayed, let mapped, let lifetime, _)):
                    outcome = .allocated(relayed: relayed.map(\.description), mapped: mapped?.description, lifetime: lifetime)
                case .event(.failed(.allocate, let error)):
                    outcome = .error(code: error.code, reason: error.reason)
                case .event(.timedOut(.allocate)):
                    outcome = .noAnswer("no response to Allocate over \(transport)")
                case .event(.deallocated), .event(.failed(.refresh, _)), .event(.timedOut(.refresh)):
                    released = true
                case .event:
                    break
                }
            }
        }
        perform(client.allocate(now: now()))
        // Waits for the outcome, then (after a success) briefly for the release.
        var releaseBy: EngineInstant?
        while true {
            if outcome != nil, releaseBy == nil {
                guard outcome?.isAllocated == true else { break }
                releaseBy = now() + .seconds(1)
                perform(client.refresh(lifetime: 0, now: now()))
            }
            if released { break }
            let limit = releaseBy ?? deadline
            let current = now()
            if current >= limit {
                if outcome == nil { outcome = .noAnswer("no response within \(format(timeout)) s over \(transport)") }
                break
            }
            let wake = min(limit, client.nextDeadline ?? limit)
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(max(0, min(1000, milliseconds(wake - current))).rounded(.up)))
            if ready == 1 {
                var buffer = [UInt8](repeating: 0, count: 65_536)
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 {
                    if errno == EAGAIN || errno == EINTR { continue }
                    if outcome == nil {
                        outcome = .noAnswer(
                            errno == ECONNREFUSED
                                ? "ICMP port unreachable: nothing listens on UDP \(server.address):\(server.port)"
                                : "\(transport) receive failed: \(String(cString: strerror(errno)))")
                    }
                    break
                }
                if n == 0, tcp {
                    if outcome == nil { outcome = .noAnswer("the server closed the TCP connection") }
                    break
                }
                if tcp {
                    stream += buffer[..<n]
                    while let frame = nextFrame(&stream) { perform(client.handle(frame, now: now())) }
                } else {
                    perform(client.handle(Array(buffer[..<n]), now: now()))
                }
            } else {
                perform(client.handleTimeout(now: now()))
            }
        }
        return outcome ?? .noAnswer("no response within \(format(timeout)) s over \(transport)")
    }

    /// One STUN message or ChannelData frame from the head of a TCP stream (RFC 8656 §12.5:
    /// ChannelData padded to 4 bytes over TCP), or nil until it has fully arrived.
    static func nextFrame(_ stream: inout [UInt8]) -> [UInt8]? {
        guard stream.count >= 4 else { return nil }
        let length = Int(stream[2]) << 8 | Int(stream[3])
        let total = stream[0] & 0xC0 == 0 ? 20 + length : 4 + (length + 3) & ~3
        guard stream.count >= total else { return nil }
        let frame = Array(stream[..<total])
        stream.removeFirst(total)
        return frame
    }

    static func connectError(_ code: Int32, _ transport: String) -> String {
        code == ECONNREFUSED ? "\(transport) connection refused" : "\(transport) connect failed: \(String(cString: strerror(code)))"
    }

    /// `interval` in milliseconds, for `poll`'s timeout.
    static func milliseconds(_ interval: Duration) -> Double {
        let c = interval.components
        return Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15
    }

    static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.1f", seconds)
    }
}

/// A numeric IPv4 or IPv6 socket address.
struct SocketAddressBytes {
    var storage = sockaddr_storage()
    var length: socklen_t = 0
    var family: Int32 { Int32(storage.ss_family) }

    init?(host: String, port: UInt16) {
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET, host, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            withUnsafeBytes(of: v4) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
        } else if inet_pton(AF_INET6, host, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
            withUnsafeBytes(of: v6) { src in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: src) } }
        } else {
            return nil
        }
    }

    func withSockaddr<T>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        withUnsafePointer(to: storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}
