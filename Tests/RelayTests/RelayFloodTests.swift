#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Testing
import STUN
import TURNClientEngine
import TURNServer
@testable import RelayServer

/// A bounded flood of malformed, truncated and random datagrams (and garbage over TCP) at the
/// running relay: it never crashes, counts every drop, and still relays for a normal client.
/// Every burst ends with a Binding request whose answer proves the relay has handled the burst
/// (one socket, in order), so nothing waits on time.
@Suite struct RelayFloodTests {
    /// A seeded generator, so a failing flood can be replayed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// What one flood datagram is expected to cost the relay.
    enum Expect { case dropped, authFailure }

    static func randomBytes(_ count: Int, _ rng: inout SplitMix) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// One flood datagram of kind `i % 5` (and what the relay should count for it).
    static func floodDatagram(_ i: Int, nonce: String, rng: inout SplitMix) -> ([UInt8], Expect) {
        switch i % 5 {
        case 0:
            // Random bytes that are neither ChannelData nor a STUN header with the magic cookie.
            var bytes = randomBytes(Int.random(in: 1...1400, using: &rng), &rng)
            bytes[0] = UInt8.random(in: 0x80...0xFF, using: &rng)
            return (bytes, .dropped)
        case 1:
            // A real request cut short anywhere.
            let whole = STUNMessage(
                .allocate, .request,
                attributes: [
                    .requestedTransport(17), .username("alice"),
                    .realm("relay.test"), .nonce(nonce),
                ]
            )
            .encode(key: randomBytes(16, &rng))
            return (Array(whole.prefix(Int.random(in: 1..<whole.count, using: &rng))), .dropped)
        case 2:
            // ChannelData with a random channel and length from a client with no allocation.
            var bytes = randomBytes(Int.random(in: 4...1300, using: &rng), &rng)
            bytes[0] = UInt8.random(in: 0x40...0x7F, using: &rng)
            return (bytes, .dropped)
        case 3:
            // A well-formed Send indication with no allocation behind it.
            let peer = TransportAddress(ip: .v4(UInt32.random(in: 0...UInt32.max, using: &rng)), port: 9)
            return (STUNMessage(.send, .indication, attributes: [.xorPeerAddress(peer), .data(randomBytes(64, &rng))]).encode(), .dropped)
        default:
            // An Allocate with a valid nonce but an integrity made with the wrong key.
            let request = STUNMessage(
                .allocate, .request,
                attributes: [
                    .requestedTransport(17), .username("alice"),
                    .realm("relay.test"), .nonce(nonce),
                ])
            return (request.encode(key: randomBytes(16, &rng)), .authFailure)
        }
    }

    /// Sends a Binding request and reads until its answer arrives: everything sent before it
    /// on this socket has been handled. Returns false if no answer came within 5 seconds.
    static func barrier(_ socket: UDPTestSocket, server: TransportAddress) -> Bool {
        let request = STUNMessage(.binding, .request)
        socket.send(request.encode(), to: server)
        let limit = Date().addingTimeInterval(5)
        while Date() < limit {
            guard let (bytes, _) = socket.receive(timeout: 1) else { continue }
            if let answer = try? STUNMessage.decode(bytes), answer.transactionID == request.transactionID { return true }
        }
        return false
    }

    static func drops(_ statistics: TURNStatistics) -> UInt64 {
        statistics.drops.values.reduce(0, +)
    }

    @Test func floodOfBadDatagramsIsCountedAndRelayKeepsWorking() async throws {
        var configuration = RelayUDPTests.configuration()
        configuration.socketBufferBytes = 1 << 20
        let server = try RelayServer(configuration: configuration)
        try await server.start()
        defer { Task { try? await server.stop() } }
        let listen = try #require(server.udpAddresses.first)
        let tcpListen = try #require(server.tcpAddresses.first)
        let attacker = try UDPTestSocket()

        // A valid nonce for the attacker's address, from a first unauthenticated request.
        let first = STUNMessage(.allocate, .request, attributes: [.requestedTransport(17)])
        attacker.send(first.encode(), to: listen)
        // Only the answer to this request counts: in a full test run other suites' ICE agents may
        // still send to a port the system has just handed to this socket.
        var challenge: STUNMessage?
        let limit = Date().addingTimeInterval(5)
        while challenge == nil, Date() < limit {
            guard let (bytes, _) = attacker.receive(timeout: 1) else { continue }
            if let m = try? STUNMessage.decode(bytes), m.transactionID == first.transactionID { challenge = m }
        }
        let answered = try #require(challenge, "no answer to the first Allocate")
        let nonce = try #require(answered.nonce)

        let before = try await server.statistics()
        var rng = SplitMix(state: 0x5EED_1234)
        let total = 6000
        let burst = 50
        var expectedDrops: UInt64 = 0
        var expectedAuthFailures: UInt64 = 0
        for start in stride(from: 0, to: total, by: burst) {
            for i in start..<min(start + burst, total) {
                let (bytes, expect) = Self.floodDatagram(i, nonce: nonce, rng: &rng)
                attacker.send(bytes, to: listen)
                switch expect {
                case .dropped: expectedDrops += 1
                case .authFailure: expectedAuthFailures += 1
                }
            }
            #expect(Self.barrier(attacker, server: listen), "relay stopped answering after \(start + burst) datagrams")
        }
        let after = try await server.statistics()
        #expect(Self.drops(after) - Self.drops(before) == expectedDrops)
        #expect(after.authFailures - before.authFailures == expectedAuthFailures)
        #expect(after.drops[.malformed, default: 0] > before.drops[.malformed, default: 0])
        #expect(after.drops[.noAllocation, default: 0] > before.drops[.noAllocation, default: 0])
        #expect(try await server.allocationCount() == 0)

        // Garbage over TCP: an unframeable stream is closed; well-framed junk is dropped and
        // counted while the connection keeps answering.
        let junk = try TCPTestSocket(connectingTo: tcpListen)
        junk.send([0xFF] + Self.randomBytes(4000, &rng))
        #expect(junk.receiveUntilClosed(timeout: 5), "relay kept an unframeable TCP stream open")
        let framed = try TCPTestSocket(connectingTo: tcpListen)
        let beforeTCP = try await server.statistics()
        var frames: [UInt8] = []
        for _ in 0..<500 {
            let length = 4 * Int.random(in: 0...64, using: &rng)
            frames += [0x00, 0x01, UInt8(length >> 8), UInt8(length & 0xFF)] + Self.randomBytes(16 + length, &rng)
        }
        framed.send(frames)
        let binding = STUNMessage(.binding, .request)
        framed.send(binding.encode())
        var framer = STUNStreamFramer()
        framer.append(try #require(framed.receive(timeout: 5), "no Binding answer over TCP after the junk frames"))
        guard case .stun(let answer)? = try framer.next() else { Issue.record("no STUN answer over TCP"); return }
        #expect(try STUNMessage.decode(answer).transactionID == binding.transactionID)
        let afterTCP = try await server.statistics()
        #expect(afterTCP.drops[.malformed, default: 0] - beforeTCP.drops[.malformed, default: 0] == 500)
        let metrics = try await server.metricsText()
        #expect(metrics.contains("turn_drops_total{cause=\"malformed\"}"))
        // The flood's bad credentials came from one source: past its share, their log lines and
        // answers were held back, and the operator sees how many in /metrics.
        func value(_ name: String) -> UInt64? {
            metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { UInt64($0.split(separator: " ").last ?? "") }
        }
        let limited = try await server.statistics()
        #expect(limited.authFailureEventsSuppressed > 0 && limited.unauthenticatedRepliesLimited > 0, "\(limited)")
        #expect((value("turn_auth_failure_logs_suppressed_total") ?? 0) > 0, "\(metrics)")
        #expect(value("turn_auth_failure_logs_suppressed_total") ?? .max <= limited.authFailureEventsSuppressed)
        #expect((value("turn_unauthenticated_replies_limited_total") ?? 0) > 0, "\(metrics)")
        #expect(value("turn_unauthenticated_replies_limited_total") ?? .max <= limited.unauthenticatedRepliesLimited)

        // Junk that looks like ConnectionBind (RFC 6062): none sticks. One that does not decode
        // is dropped with the frames around it: it cannot join anything, so it does not hold the
        // connection. (When each held it, every one cost a round trip to the data-plane thread,
        // and on a CI machine loaded by the parallel relay suites the probe behind 200 of them got
        // no answer within 10 s, the first-message deadline junk does not cancel.) One that
        // decodes holds the later bytes until the relay has refused it.
        let binds = try TCPTestSocket(connectingTo: tcpListen)
        let beforeBinds = try await server.statistics()
        var bindFrames: [UInt8] = []
        for _ in 0..<200 {
            let length = 4 * Int.random(in: 0...16, using: &rng)
            bindFrames += [0x00, 0x0B, UInt8(length >> 8), UInt8(length & 0xFF)] + Self.randomBytes(16 + length, &rng)
        }
        binds.send(bindFrames)
        let probe = STUNMessage(.binding, .request)
        binds.send(probe.encode())
        var bindFramer = STUNStreamFramer()
        bindFramer.append(try #require(binds.receive(timeout: 10), "no Binding answer after the ConnectionBind junk"))
        guard case .stun(let probeAnswer)? = try bindFramer.next() else {
            Issue.record("no STUN answer after the ConnectionBind junk"); return
        }
        #expect(try STUNMessage.decode(probeAnswer).transactionID == probe.transactionID)
        let afterBinds = try await server.statistics()
        #expect(afterBinds.drops[.malformed, default: 0] - beforeBinds.drops[.malformed, default: 0] == 200)

        // A normal client still allocates and relays both ways.
        let socket = try UDPTestSocket()
        let peer = try UDPTestSocket()
        var client = TURNClient(configuration: .init(username: "alice", password: "secret"))
        let driver = RelayUDPTests()
        var events = driver.drive(&client, socket, server: listen, client.allocate(now: currentTime())) {
            if case .allocated = $0 { true } else if case .failed = $0 { true } else { false }
        }
        guard case .allocated(let relays, _, _, _)? = events.last else { Issue.record("no allocation after the flood: \(events)"); return }
        let relay = try #require(relays.first)
        events = driver.drive(&client, socket, server: listen, client.bindChannel(peer.address, now: currentTime())) {
            if case .channelBound = $0 { true } else { false }
        }
        socket.send(client.frame([1, 2, 3, 4], to: peer.address), to: listen)
        let relayed = try #require(peer.receive(timeout: 5))
        #expect(relayed.bytes == [1, 2, 3, 4])
        #expect(relayed.from == relay)
        peer.send([5, 6, 7], to: relay)
        events = driver.drive(&client, socket, server: listen, []) { if case .data = $0 { true } else { false } }
        #expect(events.last == .data(from: peer.address, [5, 6, 7]))
    }
}

/// A blocking TCP client on loopback with bounded waits.
final class TCPTestSocket {
    let fd: Int32

    init(connectingTo server: TransportAddress) throws {
        let family = server.ip.family
        let fd = socket(family == .ipv4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var storage = sockaddr_storage()
        let length = SocketAddressBytes.write(server, family: family, into: &storage)
        let ok = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) } }
        guard ok == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        self.fd = fd
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            offset += n
        }
    }

    /// The bytes available within `timeout` seconds, nil on timeout or close.
    func receive(timeout: Double) -> [UInt8]? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n > 0 ? Array(buffer[0..<n]) : nil
    }

    /// Reads until the peer closes (true) or `timeout` seconds pass without it (false).
    func receiveUntilClosed(timeout: Double) -> Bool {
        let limit = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date() < limit {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 200) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return true }
        }
        return false
    }
}
