#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOCore
import XMPPCore

/// Looks up `_xmpp-client._tcp.<domain>` SRV records (RFC 6120 §3.2.1) the way the system
/// resolver would (resolv.conf(5)): every `nameserver` in turn, `attempts` rounds, a truncated UDP
/// answer asked again over TCP (RFC 7766), and the `search` domains for a domain with fewer dots
/// than `ndots`. All of it within one bounded timeout, on a thread of its own (blocking sockets;
/// the calling task only awaits). Any failure yields no records, and the caller falls back to the
/// domain on 5222.
enum SRVResolver {
    /// The SRV records in connection order; empty when there are none or the lookup failed.
    /// - Parameter nameserver: `ip`, `ip:port` or `[v6]:port` of the resolver (several separated
    ///   by commas); nil reads /etc/resolv.conf.
    static func lookup(domain: String, nameserver override: String?, timeout: Duration, group: EventLoopGroup) async -> [SRVRecord] {
        var configuration = ResolverConfiguration.system()
        if let override {
            configuration.nameservers = override.split(separator: ",").compactMap { ResolverConfiguration.server(String($0)) }
            configuration.search = []
        }
        return await lookup(domain: domain, configuration: configuration, timeout: timeout)
    }

    static func lookup(domain: String, configuration: ResolverConfiguration, timeout: Duration) async -> [SRVRecord] {
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        return await withCheckedContinuation { (done: CheckedContinuation<[SRVRecord], Never>) in
            Thread.detachNewThread {
                done.resume(returning: resolve(domain: domain, configuration: configuration, timeout: seconds))
            }
        }
    }

    /// The blocking lookup: each candidate name in turn until one has records.
    static func resolve(domain: String, configuration: ResolverConfiguration, timeout: Double) -> [SRVRecord] {
        let deadline = now() + timeout
        for name in configuration.queryNames(for: domain) {
            guard now() < deadline else { break }
            if let records = query("_xmpp-client._tcp.\(name)", configuration: configuration, deadline: deadline), !records.isEmpty {
                return SRVRecord.connectionOrder(records)
            }
        }
        return []
    }

    /// One name: the name servers in order, `attempts` rounds. nil when none answered usably.
    static func query(_ name: String, configuration: ResolverConfiguration, deadline: Double) -> [SRVRecord]? {
        let servers = configuration.nameservers
        guard !servers.isEmpty else { return nil }
        let tries = servers.count * max(1, configuration.attempts)
        for attempt in 0..<tries {
            let remaining = deadline - now()
            guard remaining > 0 else { return nil }
            let server = servers[attempt % servers.count]
            // The time left shared among the tries left (at least 0.2 s each).
            let budget = max(0.2, remaining / Double(tries - attempt))
            let id = UInt16.random(in: 0...UInt16.max)
            let question = DNSSRVCodec.query(id: id, name: name)
            guard var answer = exchangeUDP(question, id: id, with: server, until: min(deadline, now() + budget)) else { continue }
            if answer.count > 2, answer[2] & 0x02 != 0 {
                // TC: the answer did not fit a datagram; ask the same server over TCP.
                guard let whole = exchangeTCP(question, with: server, until: min(deadline, now() + max(budget, 1))) else { continue }
                answer = whole
            }
            do {
                return try DNSSRVCodec.parseResponse(answer, id: id)
            } catch {
                continue   // SERVFAIL, REFUSED, malformed: the next server may do better
            }
        }
        return nil
    }

    static func exchangeUDP(_ question: [UInt8], id: UInt16, with server: ResolverConfiguration.Server, until: Double) -> [UInt8]? {
        guard let address = SocketAddressBytes(host: server.host, port: server.port) else { return nil }
        let fd = socket(address.family, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // Connected: only the server's datagrams arrive, and ICMP unreachable ends the wait at once.
        guard address.withSockaddr({ connect(fd, $0, $1) }) == 0 else { return nil }
        guard question.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == question.count else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65_535)
        while true {
            guard wait(fd, events: POLLIN, until: until) else { return nil }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR || errno == EAGAIN { continue }
            guard n >= 12 else { return nil }
            // Another answer (an old query's) is skipped.
            guard UInt16(buffer[0]) << 8 | UInt16(buffer[1]) == id else { continue }
            return Array(buffer[..<n])
        }
    }

    /// DNS over TCP (RFC 1035 §4.2.2): two length bytes before each message.
    static func exchangeTCP(_ question: [UInt8], with server: ResolverConfiguration.Server, until: Double) -> [UInt8]? {
        guard let address = SocketAddressBytes(host: server.host, port: server.port) else { return nil }
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        if address.withSockaddr({ connect(fd, $0, $1) }) != 0 {
            guard errno == EINPROGRESS, wait(fd, events: POLLOUT, until: until) else { return nil }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 else { return nil }
        }
        let framed = [UInt8(question.count >> 8), UInt8(question.count & 0xFF)] + question
        var sent = 0
        while sent < framed.count {
            guard wait(fd, events: POLLOUT, until: until) else { return nil }
            let n = framed[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR || errno == EAGAIN { continue }
            guard n > 0 else { return nil }
            sent += n
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            if received.count >= 2 {
                let length = Int(received[0]) << 8 | Int(received[1])
                if received.count >= 2 + length { return Array(received[2..<(2 + length)]) }
            }
            guard wait(fd, events: POLLIN, until: until) else { return nil }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR || errno == EAGAIN { continue }
            guard n > 0 else { return nil }
            received += buffer[..<n]
        }
    }

    /// Waits for `events` on `fd` until the wall-clock time `until`; false on timeout or error.
    static func wait(_ fd: Int32, events: Int32, until: Double) -> Bool {
        while true {
            let ms = Int32(max(0, min(60_000, (until - now()) * 1000)).rounded(.up))
            var p = pollfd(fd: fd, events: Int16(events), revents: 0)
            let r = poll(&p, 1, ms)
            if r < 0, errno == EINTR { continue }
            return r == 1 && p.revents & Int16(events) != 0
        }
    }

    static func now() -> Double { Date().timeIntervalSince1970 }
}

/// What resolv.conf(5) says: name servers, search domains, `options ndots:N attempts:N`.
struct ResolverConfiguration: Sendable, Equatable {
    struct Server: Sendable, Equatable {
        var host: String
        var port: UInt16
    }

    var nameservers: [Server] = []
    var search: [String] = []
    var ndots = 1
    var attempts = 2

    /// /etc/resolv.conf, or the resolver on the local host when it names none (as glibc does).
    static func system(path: String = "/etc/resolv.conf") -> ResolverConfiguration {
        var c = parse((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
        if c.nameservers.isEmpty { c.nameservers = [Server(host: "127.0.0.1", port: 53)] }
        return c
    }

    static func parse(_ text: String) -> ResolverConfiguration {
        var c = ResolverConfiguration()
        for line in text.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let key = fields.first, !key.hasPrefix("#"), !key.hasPrefix(";") else { continue }
            let values = fields.dropFirst().map(String.init)
            switch key {
            case "nameserver":
                // At most three, as glibc (MAXNS); an IPv6 zone index is dropped.
                if c.nameservers.count < 3, let v = values.first, let s = server(String(v.split(separator: "%").first ?? "")) {
                    c.nameservers.append(s)
                }
            case "search", "domain":
                // The last of these lines wins (resolv.conf(5)).
                c.search = values.map { $0.hasSuffix(".") ? String($0.dropLast()) : $0 }.filter { !$0.isEmpty }
            case "options":
                for option in values {
                    if option.hasPrefix("ndots:"), let n = Int(option.dropFirst(6)) { c.ndots = min(15, max(0, n)) }
                    if option.hasPrefix("attempts:"), let n = Int(option.dropFirst(9)) { c.attempts = min(5, max(1, n)) }
                }
            default:
                break
            }
        }
        return c
    }

    /// `ip`, `ip:port` or `[v6]:port` (port 53 by default).
    static func server(_ text: String) -> Server? {
        if SocketAddressBytes(host: text, port: 53) != nil { return Server(host: text, port: 53) }
        guard let parsed = XMPPClientConfiguration.ServerAddress(text), let port = UInt16(exactly: parsed.port),
              SocketAddressBytes(host: parsed.host, port: port) != nil else { return nil }
        return Server(host: parsed.host, port: port)
    }

    /// The names to try for `domain`, in order (res_search): as given first when it has at least
    /// `ndots` dots, else after the search domains. A name ending in a dot is absolute.
    func queryNames(for domain: String) -> [String] {
        if domain.hasSuffix(".") { return [String(domain.dropLast())] }
        let searched = search.map { "\(domain).\($0)" }
        let dots = domain.filter { $0 == "." }.count
        return dots >= ndots ? [domain] + searched : searched + [domain]
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
