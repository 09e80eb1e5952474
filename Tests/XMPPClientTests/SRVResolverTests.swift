#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import XMPPClient
import XMPPCore

/// The SRV lookup through glibc's resolver (res_nsearch) against DNS servers this test starts on
/// loopback (UDP and TCP on one port). The resolver state reads /etc/resolv.conf as always; the
/// test then points it at its servers and search domains (`ResolverConfiguration`, the state's
/// fields set after res_ninit), so the queries, retries, TCP fallback and search order are glibc's.
@Suite struct SRVResolverTests {
    static let record = SRVRecord(priority: 5, weight: 10, port: 5269, target: "xmpp.example.test")

    @Test func deadFirstNameServerThenTheSecondAnswers() async throws {
        let dead = try FakeDNSServer.start(mode: .silent)
        let live = try FakeDNSServer.start(mode: .answer(["_xmpp-client._tcp.example.test": [Self.record]]))
        defer { dead.stop(); live.stop() }
        let configuration = ResolverConfiguration(nameservers: [dead.server, live.server], search: [], attempts: 1)
        let records = await SRVResolver.lookup(domain: "example.test", configuration: configuration, timeout: .seconds(3))
        #expect(records == [Self.record])
        #expect(dead.queries.count == 1, "the dead server was asked once")
        #expect(live.udpQueries.count == 1)
    }

    @Test func truncatedUDPAnswerIsAskedAgainOverTCP() async throws {
        let server = try FakeDNSServer.start(mode: .truncateUDP(["_xmpp-client._tcp.example.test": [Self.record]]))
        defer { server.stop() }
        let records = await SRVResolver.lookup(
            domain: "example.test",
            configuration: ResolverConfiguration(nameservers: [server.server], search: []),
            timeout: .seconds(3))
        #expect(records == [Self.record])
        #expect(server.udpQueries == ["_xmpp-client._tcp.example.test"])
        #expect(server.tcpQueries == ["_xmpp-client._tcp.example.test"])
    }

    /// res_nsearch counts the dots of the whole name (`_xmpp-client._tcp.chat` has two): with
    /// `ndots:3` the search domains come first, with the default `ndots:1` the name as given does.
    @Test func searchDomainsAreTriedForAShortName() async throws {
        let server = try FakeDNSServer.start(mode: .answer(["_xmpp-client._tcp.chat.corp.test": [Self.record]]))
        defer { server.stop() }
        let first = ResolverConfiguration(nameservers: [server.server], search: ["other.test", "corp.test"], ndots: 3, attempts: 1)
        #expect(await SRVResolver.lookup(domain: "chat", configuration: first, timeout: .seconds(3)) == [Self.record])
        #expect(server.udpQueries == ["_xmpp-client._tcp.chat.other.test", "_xmpp-client._tcp.chat.corp.test"])

        let asGivenFirst = ResolverConfiguration(nameservers: [server.server], search: ["other.test", "corp.test"], ndots: 1, attempts: 1)
        #expect(await SRVResolver.lookup(domain: "chat", configuration: asGivenFirst, timeout: .seconds(3)) == [Self.record])
        #expect(
            server.udpQueries.dropFirst(2) == [
                "_xmpp-client._tcp.chat", "_xmpp-client._tcp.chat.other.test",
                "_xmpp-client._tcp.chat.corp.test",
            ])
    }

    @Test func overrideTakesSeveralServersSeparatedByCommas() async throws {
        let dead = try FakeDNSServer.start(mode: .silent)
        let live = try FakeDNSServer.start(mode: .answer(["_xmpp-client._tcp.example.test": [Self.record]]))
        defer { dead.stop(); live.stop() }
        let records = await SRVResolver.lookup(
            domain: "example.test", nameserver: "127.0.0.1:\(dead.port),127.0.0.1:\(live.port)",
            timeout: .seconds(3), group: .singletonMultiThreadedEventLoopGroup)
        #expect(records == [Self.record])
        #expect(ResolverConfiguration.server("[::1]:53") == .init(host: "::1", port: 53))
        // An IPv6 server goes into the state's extended list (nothing listens there: no answer).
        let v6 = await SRVResolver.resolve(domain: "example.test", nameserver: "[::1]:\(dead.port)", timeout: .seconds(2))
        guard case .failure(.resolverFailure) = v6 else {
            Issue.record("expected a resolver failure from [::1]:\(dead.port), got \(v6)")
            return
        }
        #expect(ResolverConfiguration.server("example.test:53") == nil)
        #expect(
            await SRVResolver.resolve(domain: "example.test", nameserver: "not-an-address", timeout: .seconds(1))
                == .failure(.resolverFailure("'not-an-address' is not a list of name server addresses")))
    }

    /// NXDOMAIN, a name without SRV records, the "." target, and no answer at all say different things.
    @Test func failuresSayWhy() async throws {
        let server = try FakeDNSServer.start(
            mode: .answer([
                "_xmpp-client._tcp.empty.test": [],
                "_xmpp-client._tcp.none.test": [SRVRecord(priority: 0, weight: 0, port: 0, target: "")],
            ]))
        let dead = try FakeDNSServer.start(mode: .silent)
        defer { server.stop(); dead.stop() }
        let live = ResolverConfiguration(nameservers: [server.server], search: [], attempts: 1)
        #expect(
            await SRVResolver.resolve(domain: "missing.test", configuration: live, timeout: .seconds(3))
                == .failure(.noSuchName("_xmpp-client._tcp.missing.test")))
        #expect(
            await SRVResolver.resolve(domain: "empty.test", configuration: live, timeout: .seconds(3))
                == .failure(.noRecords("_xmpp-client._tcp.empty.test")))
        #expect(
            await SRVResolver.resolve(domain: "none.test", configuration: live, timeout: .seconds(3))
                == .failure(.noRecords("_xmpp-client._tcp.none.test")))
        let silent = ResolverConfiguration(nameservers: [dead.server], search: [], attempts: 1)
        let result = await SRVResolver.resolve(domain: "example.test", configuration: silent, timeout: .seconds(2))
        guard case .failure(.resolverFailure(let why)) = result else {
            Issue.record("expected a resolver failure, got \(result)")
            return
        }
        #expect(why.contains("no name server answered"))
        // The caller's timeout bounds the wait even when the resolver's own is longer.
        let bounded = await SRVResolver.resolve(domain: "example.test", configuration: silent, timeout: .milliseconds(300))
        #expect(bounded == .failure(.timedOut(.milliseconds(300))))
    }
}

/// A DNS server on 127.0.0.1 (UDP and TCP on one port) answering SRV questions from a table,
/// NXDOMAIN otherwise; `.silent` never answers, `.truncateUDP` answers UDP with TC set and no records.
final class FakeDNSServer: Sendable {
    enum Mode: Sendable {
        case answer([String: [SRVRecord]])
        case truncateUDP([String: [SRVRecord]])
        case silent
    }

    let port: UInt16
    private let udp: Int32
    private let tcp: Int32
    private let mode: Mode
    private let log = Mutex<(udp: [String], tcp: [String])>(([], []))
    private let stopped = Mutex(false)

    var server: ResolverConfiguration.Server { .init(host: "127.0.0.1", port: port) }
    var udpQueries: [String] { log.withLock { $0.udp } }
    var tcpQueries: [String] { log.withLock { $0.tcp } }
    var queries: [String] { log.withLock { $0.udp + $0.tcp } }

    private init(mode: Mode) throws {
        self.mode = mode
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        for _ in 0..<50 {
            address.sin_port = UInt16.random(in: 20_000...28_000).bigEndian
            let u = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            let t = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let ok = withUnsafePointer(to: &address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                    bind(u, a, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                        && bind(t, a, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            if ok, listen(t, 4) == 0 {
                (udp, tcp, port) = (u, t, UInt16(bigEndian: address.sin_port))
                return
            }
            close(u)
            close(t)
        }
        throw FakeDNSError.cannotBind
    }

    /// A server answering on its own thread until `stop()`.
    static func start(mode: Mode) throws -> FakeDNSServer {
        let server = try FakeDNSServer(mode: mode)
        Thread.detachNewThread { server.serve() }
        return server
    }

    func stop() {
        stopped.withLock { $0 = true }
        shutdown(tcp, Int32(SHUT_RDWR))
        shutdown(udp, Int32(SHUT_RDWR))
    }

    deinit {
        close(udp)
        close(tcp)
    }

    private func serve() {
        var fds = [pollfd(fd: udp, events: Int16(POLLIN), revents: 0), pollfd(fd: tcp, events: Int16(POLLIN), revents: 0)]
        while !stopped.withLock({ $0 }) {
            guard poll(&fds, 2, 100) > 0 else { continue }
            if fds[0].revents & Int16(POLLIN) != 0 { serveUDP() }
            if fds[1].revents & Int16(POLLIN) != 0 { serveTCP() }
        }
    }

    private func serveUDP() {
        var buffer = [UInt8](repeating: 0, count: 512)
        var from = sockaddr_storage()
        var fromLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let n = withUnsafeMutablePointer(to: &from) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(udp, &buffer, buffer.count, 0, $0, &fromLength) }
        }
        guard n >= 12, let name = Self.questionName(Array(buffer[..<n])) else { return }
        log.withLock { $0.udp.append(name) }
        let reply: [UInt8]
        switch mode {
        case .silent: return
        case .answer(let table): reply = Self.response(to: Array(buffer[..<n]), records: table[name])
        case .truncateUDP: reply = Self.response(to: Array(buffer[..<n]), records: [], truncated: true)
        }
        _ = withUnsafePointer(to: &from) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(udp, reply, reply.count, 0, $0, fromLength) }
        }
    }

    private func serveTCP() {
        let connection = accept(tcp, nil, nil)
        guard connection >= 0 else { return }
        defer { close(connection) }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while received.count < 2 || received.count < 2 + (Int(received[0]) << 8 | Int(received[1])) {
            let n = recv(connection, &buffer, buffer.count, 0)
            guard n > 0 else { return }
            received += buffer[..<n]
        }
        let query = Array(received[2...])
        guard let name = Self.questionName(query) else { return }
        log.withLock { $0.tcp.append(name) }
        let records: [SRVRecord]?
        switch mode {
        case .answer(let t), .truncateUDP(let t): records = t[name]
        case .silent: return
        }
        let reply = Self.response(to: query, records: records)
        let framed = [UInt8(reply.count >> 8), UInt8(reply.count & 0xFF)] + reply
        _ = send(connection, framed, framed.count, Int32(MSG_NOSIGNAL))
    }

    /// The question's name (labels joined by dots).
    static func questionName(_ query: [UInt8]) -> String? {
        var offset = 12
        var labels: [String] = []
        while offset < query.count {
            let length = Int(query[offset])
            if length == 0 { return labels.joined(separator: ".") }
            guard offset + 1 + length <= query.count else { return nil }
            labels.append(String(decoding: query[(offset + 1)...(offset + length)], as: UTF8.self))
            offset += 1 + length
        }
        return nil
    }

    /// A response echoing the question: SRV answers, or NXDOMAIN when `records` is nil.
    static func response(to query: [UInt8], records: [SRVRecord]?, truncated: Bool = false) -> [UInt8] {
        var end = 12
        while end < query.count, query[end] != 0 { end += 1 + Int(query[end]) }
        let question = Array(query[12..<min(query.count, end + 5)])
        var out = Array(query[0..<2])
        out += [0x81 | (truncated ? 0x02 : 0), records == nil ? 0x83 : 0x80]
        out += [0, 1, 0, UInt8(records?.count ?? 0), 0, 0, 0, 0]
        out += question
        for r in records ?? [] {
            out += [0xC0, 12, 0, 33, 0, 1, 0, 0, 0x0E, 0x10]
            var data: [UInt8] = [
                UInt8(r.priority >> 8), UInt8(r.priority & 0xFF), UInt8(r.weight >> 8), UInt8(r.weight & 0xFF),
                UInt8(r.port >> 8), UInt8(r.port & 0xFF),
            ]
            for label in r.target.split(separator: ".") { data += [UInt8(label.utf8.count)] + Array(label.utf8) }
            data.append(0)
            out += [UInt8(data.count >> 8), UInt8(data.count & 0xFF)] + data
        }
        return out
    }
}

enum FakeDNSError: Error { case cannotBind }
