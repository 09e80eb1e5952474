import ArgumentParser
import DriverClock
import EngineTime
import Foundation
import STUN
import TURNClientEngine
#if canImport(Glibc)
    import Glibc
#endif

/// `jingle-bench relay-load`: the traffic of a TURN relay benchmark, from one process: N
/// sessions, one UDP socket each, every session sending a message each interval to an echoing
/// peer (coturn's `turnutils_peer`) and counting the echoes; through a TURN relay (Allocate,
/// ChannelBind, ChannelData: RFC 8656 §7, §12) or, without `--turn`, straight to the peer, so a
/// benchmark can take away what the same traffic costs without a relay (Tools/bench-relay-kernel).
struct RelayLoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay-load",
        abstract: "Echo traffic through a TURN relay's channels, or straight to the peer, at a set rate.")

    @Option(help: "The echoing peer, IPv4 HOST:PORT.") var peer: String
    @Option(help: "TURN server, IPv4 HOST:PORT over UDP; without it the messages go to the peer directly.") var turn: String?
    @Option(help: "TURN username.") var user = "alice"
    @Option(name: .customLong("password-file"), help: "File holding the TURN password.") var passwordFile: String?
    @Option(help: "Sessions (sockets, allocations).") var sessions = 100
    @Option(help: "Milliseconds between one session's messages.") var interval = 20
    @Option(help: "Message length in bytes.") var length = 120
    @Option(help: "Seconds of sending once every session is set up.") var seconds = 8

    func run() throws {
        guard let peerAddress = TransportAddress(peer), peerAddress.ip.family == .ipv4 else {
            throw ValidationError("--peer: IPv4 HOST:PORT")
        }
        let server = try turn.map { text -> TransportAddress in
            guard let a = TransportAddress(text), a.ip.family == .ipv4 else { throw ValidationError("--turn: IPv4 HOST:PORT") }
            return a
        }
        guard (1...20_000).contains(sessions), (1...10_000).contains(interval), (1...1400).contains(length), seconds > 0 else {
            throw ValidationError("--sessions 1-20000, --interval 1-10000 ms, --length 1-1400, --seconds > 0")
        }
        let password =
            try passwordFile.map { try String(contentsOfFile: $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
            ?? "secret"
        var load = try EchoSessions(count: sessions, peer: peerAddress)
        if let server { try load.bindChannels(server: server, user: user, password: password) }
        // Unbuffered, so a script waiting for this line sees it at once.
        FileHandle.standardOutput.write(
            Data("relay-load: sending (\(sessions) sessions, one message every \(interval) ms each, \(length) bytes)\n".utf8))
        load.run(interval: Double(interval) / 1000, length: length, seconds: Double(seconds))
        let lost = load.sent - load.received
        print(
            "relay-load: sent \(load.sent) received \(load.received) lost \(lost) (\(String(format: "%.2f", Double(lost) * 100 / Double(max(load.sent, 1))))%)"
        )
        let rtts = load.roundTrips.sorted()
        if !rtts.isEmpty {
            func percentile(_ p: Double) -> Double { rtts[min(rtts.count - 1, Int(Double(rtts.count - 1) * p))] * 1e6 }
            print(
                String(
                    format: "relay-load: round trip p50 %.1f us p99 %.1f us over %d echoes", percentile(0.5), percentile(0.99), rtts.count))
        }
    }
}

/// The sessions' sockets and what each sends through (the relay's listener, or the peer).
struct EchoSessions {
    var sockets: [Int32] = []
    var clients: [TURNClient?]
    let peer: TransportAddress
    var destination: TransportAddress
    var sent = 0
    var received = 0
    /// Seconds from send to echo, per echo (the send time travels in the message's first 8 bytes).
    var roundTrips: [Double] = []

    init(count: Int, peer: TransportAddress) throws {
        self.peer = peer
        destination = peer
        clients = Array(repeating: nil, count: count)
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw ValidationError("socket: errno \(errno)") }
            var size: Int32 = 1 << 20
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            var local = Self.socketAddress(TransportAddress(ip: peer.ip, port: 0))
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard bound == 0 else { throw ValidationError("bind: errno \(errno)") }
            sockets.append(fd)
        }
    }

    static func socketAddress(_ a: TransportAddress) -> sockaddr_in {
        var s = sockaddr_in()
        s.sin_family = sa_family_t(AF_INET)
        s.sin_port = a.port.bigEndian
        if case .v4(let ip) = a.ip { s.sin_addr.s_addr = ip.bigEndian }
        return s
    }

    func send(_ bytes: [UInt8], on fd: Int32, to destination: TransportAddress) {
        var address = Self.socketAddress(destination)
        _ = bytes.withUnsafeBytes { raw in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: Glibc.sockaddr.self, capacity: 1) {
                    sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// Allocate, then a channel to the peer, for every session at once (a bounded wait).
    mutating func bindChannels(server: TransportAddress, user: String, password: String) throws {
        destination = server
        let count = sockets.count
        var pending = Set(0..<count)
        var work: [[TURNClient.Action]] = Array(repeating: [], count: count)
        for i in 0..<count {
            var client = TURNClient(configuration: .init(username: user, password: password))
            work[i] = client.allocate(now: Self.now())
            clients[i] = client
        }
        var fds = sockets.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var buffer = [UInt8](repeating: 0, count: 2048)
        let deadline = Date().addingTimeInterval(30)
        while !pending.isEmpty && Date() < deadline {
            for i in pending {
                guard var client = clients[i] else { continue }
                while !work[i].isEmpty {
                    let actions = work[i]
                    work[i] = []
                    for action in actions {
                        switch action {
                        case .send(let bytes): send(bytes, on: sockets[i], to: server)
                        case .event(.allocated): work[i] += client.bindChannel(peer, now: Self.now())
                        case .event(.channelBound): pending.remove(i)
                        case .event(let other): throw ValidationError("session \(i): \(other)")
                        }
                    }
                }
                if let d = client.nextDeadline, d <= Self.now() { work[i] = client.handleTimeout(now: Self.now()) }
                clients[i] = client
            }
            guard poll(&fds, nfds_t(count), 50) > 0 else { continue }
            for i in 0..<count where fds[i].revents & Int16(POLLIN) != 0 {
                while true {
                    let n = buffer.withUnsafeMutableBytes { recv(sockets[i], $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    guard n > 0, var client = clients[i] else { break }
                    work[i] += client.handle(Array(buffer[0..<n]), now: Self.now())
                    clients[i] = client
                }
            }
        }
        guard pending.isEmpty else { throw ValidationError("\(pending.count) of \(count) sessions got no channel within 30 s") }
    }

    static func now() -> EngineInstant { EngineClock.process.now }

    static func monotonic() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Sends on schedule (the sessions' phases spread over the interval) for `seconds`, counting
    /// echoes; then waits a second for the last ones.
    mutating func run(interval: Double, length: Int, seconds: Double) {
        let count = sockets.count
        let payload = [UInt8](repeating: 0x5A, count: max(length, 8))
        var frames = clients.map { client in client.map { $0.frame(payload, to: peer) } ?? payload }
        // Where the send time goes in each session's datagram (after a ChannelData header).
        let stampAt = clients.map { $0 == nil ? 0 : ChannelData.headerSize }
        roundTrips.reserveCapacity(min(4_000_000, Int(seconds / interval) * count))
        let start = Self.monotonic()
        var next = (0..<count).map { start + interval * Double($0) / Double(count) }
        let end = start + seconds
        var fds = sockets.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        var buffer = [UInt8](repeating: 0, count: 2048)
        while true {
            let now = Self.monotonic()
            if now >= end + 1 { break }
            var soonest = end + 1
            if now < end {
                for i in 0..<count {
                    if next[i] <= now {
                        let stamp = UInt64(Self.monotonic() * 1e9)
                        for b in 0..<8 { frames[i][stampAt[i] + b] = UInt8(truncatingIfNeeded: stamp >> (8 * b)) }
                        send(frames[i], on: sockets[i], to: destination)
                        sent += 1
                        next[i] += interval
                    }
                    soonest = min(soonest, next[i])
                }
            }
            // Whole milliseconds, rounded up: messages due within the next one go out together
            // at the next tick, so the generator sleeps instead of spinning between them.
            let wait = Int32((max(0, min(soonest - Self.monotonic(), 0.05)) * 1000).rounded(.up))
            guard poll(&fds, nfds_t(count), wait) > 0 else { continue }
            for i in 0..<count where fds[i].revents & Int16(POLLIN) != 0 {
                while true {
                    let n = buffer.withUnsafeMutableBytes { recv(sockets[i], $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    guard n > 0 else { break }
                    received += 1
                    let at = stampAt[i]
                    guard n >= at + 8 else { continue }
                    var stamp: UInt64 = 0
                    for b in 0..<8 { stamp |= UInt64(buffer[at + b]) << (8 * b) }
                    let rtt = Self.monotonic() - Double(stamp) / 1e9
                    if rtt >= 0 && rtt < 10 && roundTrips.count < 4_000_000 { roundTrips.append(rtt) }
                }
            }
        }
    }
}
