#if canImport(Glibc)
    import Glibc
#endif
import CLinuxCalls
import Foundation
import STUN
@testable import RelayServer

/// Three private network namespaces joined by veth pairs, as a relay sits between a client and
/// a peer on separate links (real devices, real checksum handling, no forwarding enabled):
/// client 10.77.1.2 / fd77:1::2 — 10.77.1.1 / fd77:1::1 relay 10.77.2.1 / fd77:2::1 —
/// peer 10.77.2.2 / fd77:2::2. Names are unique per instance, so tests may run side by side;
/// everything is deleted on `close` (and on deinit).
final class RelayTestNetwork {
    let client: String
    let relay: String
    let peer: String
    /// The relay's interfaces toward the client and toward the peer.
    let relayClientSide: String
    let relayPeerSide: String
    private var closed = false

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static var ip: String { (try? CoturnInteropTests.tool("ip")) ?? "/usr/sbin/ip" }

    /// Fails (never skips) without root: CI runs as root and must run these.
    static func requireRoot() throws {
        guard geteuid() == 0 else { throw Failure(description: "network namespaces need root (CI runs as root)") }
    }

    init() throws {
        try Self.requireRoot()
        let tag = String(UInt32.random(in: 0..<(1 << 30)), radix: 36)
        client = "jkc-\(tag)"
        relay = "jkr-\(tag)"
        peer = "jkp-\(tag)"
        relayClientSide = "rc\(tag)"
        relayPeerSide = "rp\(tag)"
        let clientLink = "c\(tag)", peerLink = "p\(tag)"
        var commands: [[String]] = []
        for ns in [client, relay, peer] { commands += [["netns", "add", ns], ["-n", ns, "link", "set", "lo", "up"]] }
        commands += [
            ["link", "add", clientLink, "type", "veth", "peer", "name", relayClientSide],
            ["link", "set", clientLink, "netns", client], ["link", "set", relayClientSide, "netns", relay],
            ["link", "add", peerLink, "type", "veth", "peer", "name", relayPeerSide],
            ["link", "set", peerLink, "netns", peer], ["link", "set", relayPeerSide, "netns", relay],
            ["-n", client, "addr", "add", "10.77.1.2/24", "dev", clientLink],
            ["-n", client, "addr", "add", "fd77:1::2/64", "dev", clientLink, "nodad"],
            ["-n", relay, "addr", "add", "10.77.1.1/24", "dev", relayClientSide],
            ["-n", relay, "addr", "add", "fd77:1::1/64", "dev", relayClientSide, "nodad"],
            ["-n", relay, "addr", "add", "10.77.2.1/24", "dev", relayPeerSide],
            ["-n", relay, "addr", "add", "fd77:2::1/64", "dev", relayPeerSide, "nodad"],
            ["-n", peer, "addr", "add", "10.77.2.2/24", "dev", peerLink],
            ["-n", peer, "addr", "add", "fd77:2::2/64", "dev", peerLink, "nodad"],
            ["-n", client, "link", "set", clientLink, "up"], ["-n", relay, "link", "set", relayClientSide, "up"],
            ["-n", relay, "link", "set", relayPeerSide, "up"], ["-n", peer, "link", "set", peerLink, "up"],
            ["-n", client, "route", "add", "default", "via", "10.77.1.1"],
            ["-n", client, "-6", "route", "add", "default", "via", "fd77:1::1"],
            ["-n", peer, "route", "add", "default", "via", "10.77.2.1"],
            ["-n", peer, "-6", "route", "add", "default", "via", "fd77:2::1"],
        ]
        do {
            for command in commands {
                let result = try RelayDeploymentTests.run(Self.ip, command, limit: 10)
                guard result.status == 0 else { throw Failure(description: "ip \(command.joined(separator: " ")): \(result.err)") }
            }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        for ns in [client, relay, peer] { _ = try? RelayDeploymentTests.run(Self.ip, ["netns", "del", ns], limit: 10) }
    }

    /// The command prefix that runs a program in namespace `ns`.
    func inside(_ ns: String) -> [String] { [Self.ip, "netns", "exec", ns] }

    /// Runs `body` on a thread that has entered namespace `ns`: sockets it makes live there.
    static func withNamespace<T>(_ ns: String, _ body: @escaping () throws -> T) throws -> T {
        let work = NamespaceWork(ns: ns) { try body() as Any }
        try work.runOnOwnThread()
        // The body's value, as it returned it.
        return try work.result!.get() as! T
    }

    /// The body of an HTTP GET to `address`/`path`, made from namespace `ns` (bounded).
    static func get(_ path: String, from address: TransportAddress, in ns: String) throws -> String {
        try withNamespace(ns) {
            let family = address.ip.family == .ipv4 ? AF_INET : AF_INET6
            let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw Failure(description: "socket") }
            defer { Glibc.close(fd) }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var storage = sockaddr_storage()
            let length = SocketAddressBytes.write(address, family: address.ip.family, into: &storage)
            let connected = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
            }
            guard connected == 0 else { throw Failure(description: "connect \(address): errno \(errno)") }
            let request = Array("GET \(path) HTTP/1.0\r\nHost: relay\r\n\r\n".utf8)
            _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            var response: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                response += buffer[0..<n]
            }
            let text = String(decoding: response, as: UTF8.self)
            return text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        }
    }
}

/// Work for a thread that enters a network namespace first (`RelayTestNetwork.withNamespace`).
final class NamespaceWork: @unchecked Sendable {
    let ns: String
    let body: () throws -> Any
    var result: Result<Any, Error>?

    init(ns: String, body: @escaping () throws -> Any) {
        self.ns = ns
        self.body = body
    }

    /// Runs on a new thread and waits for it.
    func runOnOwnThread() throws {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        let created = pthread_create(
            &thread, nil,
            { argument in
                Unmanaged<NamespaceWork>.fromOpaque(argument!).takeRetainedValue().run()
                return nil
            }, context)
        guard created == 0 else {
            Unmanaged<NamespaceWork>.fromOpaque(context).release()
            throw RelayTestNetwork.Failure(description: "pthread_create: \(created)")
        }
        pthread_join(thread, nil)
    }

    func run() {
        let fd = open("/var/run/netns/\(ns)", O_RDONLY)
        guard fd >= 0, jk_enter_network_namespace(fd) == 0 else {
            if fd >= 0 { close(fd) }
            result = .failure(RelayTestNetwork.Failure(description: "cannot enter network namespace \(ns): errno \(errno)"))
            return
        }
        close(fd)
        result = Result { try body() }
    }
}

/// One sample of a Prometheus text exposition: `name{labels} value`, 0 when absent.
func metricValue(_ text: String, _ series: String) -> Double {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1)) ?? 0
    }
    return 0
}

extension UDPTestSocket {
    /// A socket bound to `ip` in network namespace `ns`.
    static func bound(to ip: IPAddress, port: UInt16 = 0, in ns: String) throws -> UDPTestSocket {
        try RelayTestNetwork.withNamespace(ns) { try UDPTestSocket(ip: ip, port: port) }
    }
}
