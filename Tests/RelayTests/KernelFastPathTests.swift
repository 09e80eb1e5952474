#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Testing
import STUN
import TURNClientEngine
import TURNServer
@testable import RelayServer

/// The kernel fast path (`fast-path`, RelayFastPath's TC program) between a client and a peer
/// in their own network namespaces, the relay in a third with no forwarding enabled: veth
/// devices, so checksums and link addresses are handled as on a real host.
@Suite(.serialized) struct KernelFastPathTests {
    struct Addresses {
        var client: IPAddress
        var listen: TransportAddress
        var relay: IPAddress
        var peer: IPAddress
        var peerPrefix: String

        static func of(ipv6: Bool) -> Addresses {
            ipv6
                ? Addresses(
                    client: IPAddress("fd77:1::2")!, listen: TransportAddress(ip: IPAddress("fd77:1::1")!, port: 3478),
                    relay: IPAddress("fd77:2::1")!, peer: IPAddress("fd77:2::2")!, peerPrefix: "fd77:2::/64")
                : Addresses(
                    client: IPAddress("10.77.1.2")!, listen: TransportAddress(ip: IPAddress("10.77.1.1")!, port: 3478),
                    relay: IPAddress("10.77.2.1")!, peer: IPAddress("10.77.2.2")!, peerPrefix: "10.77.2.0/24")
        }
    }

    /// Where relay `instance` serves /metrics.
    static func metrics(_ instance: Int = 0) -> TransportAddress {
        TransportAddress(ip: IPAddress("10.77.1.1")!, port: UInt16(9641 + instance))
    }

    /// A relay in the network's relay namespace, listening on both families. `instance` n
    /// listens on port 3478 + n, serves /metrics on 9641 + n and relays from 40000 + 1000n.
    static func relay(
        _ net: RelayTestNetwork, fastPath: String = "on", prefix: [String]? = nil,
        extra: [String] = [], environment: [String: String] = [:],
        instance: Int = 0
    ) throws -> RelayDeploymentTests.Child {
        let port = 3478 + instance, ports = 40000 + 1000 * instance
        return try RelayDeploymentTests.Child(
            [
                "--listen", "10.77.1.1:\(port)", "--listen", "[fd77:1::1]:\(port)",
                "--relay-ip", "10.77.2.1", "--relay-ip", "fd77:2::1", "--user", "alice:secret",
                "--realm", "fast.test", "--allow-peer", "10.77.2.0/24", "--allow-peer", "fd77:2::/64",
                "--metrics", "\(metrics(instance))", "--fast-path", fastPath,
                "--ports", "\(ports)-\(ports + 999)",
                // coturn's uclient picks channel numbers up to 0x7FFF (RFC 5766).
                "--rfc5766-channels",
            ] + extra,
            environment: environment, prefix: prefix ?? net.inside(net.relay))
    }

    static func metricsText(_ net: RelayTestNetwork, instance: Int = 0) throws -> String {
        try RelayTestNetwork.get("/metrics", from: metrics(instance), in: net.client)
    }

    /// Waits (bounded) until the kernel's maps hold `count` channels.
    static func waitForRoutes(_ net: RelayTestNetwork, _ count: Int, instance: Int = 0) throws -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if metricValue(try metricsText(net, instance: instance), "turn_fast_path_routes") == Double(count) { return true }
            usleep(50_000)
        }
        return false
    }

    /// Allocates, permits the peer and binds a channel to it; the relayed address and channel.
    static func bindChannel(
        _ client: inout TURNClient, _ socket: UDPTestSocket, server: TransportAddress,
        peer: TransportAddress
    ) throws -> (relayed: TransportAddress, channel: UInt16) {
        guard case .allocated(let relays, _, _, _)? = RelayDeploymentTests.allocate(&client, socket, server: server),
            let relayed = relays.first(where: { $0.ip.family == peer.ip.family })
        else {
            throw RelayTestNetwork.Failure(description: "no allocation")
        }
        return (relayed, try channelBind(&client, socket, server: server, peer: peer))
    }

    /// A ChannelBind for `peer` (a new binding, or the refresh of its existing one): the number.
    static func channelBind(
        _ client: inout TURNClient, _ socket: UDPTestSocket, server: TransportAddress,
        peer: TransportAddress
    ) throws -> UInt16 {
        var queue = client.bindChannel(peer, now: currentTime())
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            for action in queue {
                switch action {
                case .send(let bytes): socket.send(bytes, to: server)
                case .event(.channelBound(let number, _)): return number
                case .event(let other): throw RelayTestNetwork.Failure(description: "ChannelBind: \(other)")
                }
            }
            queue = socket.receive(timeout: 0.2).map { client.handle($0.bytes, now: currentTime()) } ?? []
        }
        throw RelayTestNetwork.Failure(description: "no ChannelBind answer")
    }

    /// Payload `i`: lengths from 1 byte to 1200 (odd ones included), contents from `i`.
    static func payload(_ i: Int, direction: UInt8) -> [UInt8] {
        let lengths = [1, 2, 3, 4, 5, 7, 64, 99, 160, 333, 1000, 1200]
        return (0..<lengths[i % lengths.count]).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i &* 7) ^ direction }
    }

    /// Both ways through a bound channel: every payload and source port arrives exactly as
    /// sent, and the kernel relayed all of it (the metrics count it in both series). Over IPv4
    /// and IPv6, and with the client's leg and the peer's of different families (an IPv6 client
    /// given an IPv4 relayed address, and the reverse), where the IP header is replaced.
    @Test(arguments: [(false, false), (true, true), (true, false), (false, true)])
    func channelDataCrossesTheKernelByteForByte(clientIPv6: Bool, peerIPv6: Bool) throws {
        let net = try RelayTestNetwork()
        defer { net.close() }
        let relay = try Self.relay(net)
        defer { relay.stop() }
        #expect(relay.wait(for: "relay started"), "\(relay.output)")
        #expect(relay.output.contains("kernel fast path attached"), "\(relay.output)")
        let near = Addresses.of(ipv6: clientIPv6), far = Addresses.of(ipv6: peerIPv6)
        let a = Addresses(client: near.client, listen: near.listen, relay: far.relay, peer: far.peer, peerPrefix: far.peerPrefix)
        let client = try UDPTestSocket.bound(to: a.client, in: net.client)
        let peer = try UDPTestSocket.bound(to: a.peer, port: 3480, in: net.peer)
        var configuration = TURNClient.Configuration(username: "alice", password: "secret")
        configuration.requestedFamily = a.peer.family
        var turn = TURNClient(configuration: configuration)
        let (relayed, channel) = try Self.bindChannel(&turn, client, server: a.listen, peer: peer.address)
        #expect(try Self.waitForRoutes(net, 1), "the channel reached the kernel's maps")
        let count = 120
        var wrong = 0
        for i in 0..<count {
            let sent = Self.payload(i, direction: 0)
            client.send(turn.frame(sent, to: peer.address), to: a.listen)
            guard let (bytes, from) = peer.receive(timeout: 3) else { Issue.record("datagram \(i) to the peer lost"); break }
            if bytes != sent || from != relayed { wrong += 1 }
        }
        for i in 0..<count {
            let sent = Self.payload(i, direction: 0xA5)
            peer.send(sent, to: relayed)
            guard let (bytes, from) = client.receive(timeout: 3) else { Issue.record("datagram \(i) to the client lost"); break }
            let parsed = bytes.withUnsafeBytes { try? ChannelData.parse($0) }
            if from != a.listen || parsed?.channel != channel || parsed.map({ Array(bytes[$0.payload]) }) != sent { wrong += 1 }
        }
        #expect(wrong == 0)
        let text = try Self.metricsText(net)
        #expect(metricValue(text, "turn_fast_path_packets_total{direction=\"to_peer\"}") == Double(count), "\(text)")
        #expect(metricValue(text, "turn_fast_path_packets_total{direction=\"to_client\"}") == Double(count))
        #expect(metricValue(text, "turn_packets_total{direction=\"to_peer\"}") == Double(count), "both paths in one series")
        #expect(metricValue(text, "turn_packets_total{direction=\"to_client\"}") == Double(count))
        let bytes = (0..<count).map { Self.payload($0, direction: 0).count }.reduce(0, +)
        #expect(metricValue(text, "turn_fast_path_bytes_total{direction=\"to_peer\"}") == Double(bytes))
    }

    /// With two data-plane threads (SO_REUSEPORT listeners, allocations sharded), each
    /// thread's channels reach the kernel and are relayed there; with a peer outside the allowed
    /// ranges the ChannelBind is refused and nothing enters the maps.
    @Test func twoThreadsShareTheProgramAndDeniedPeersNeverEnterTheMaps() throws {
        let net = try RelayTestNetwork()
        defer { net.close() }
        let relay = try Self.relay(net, extra: ["--threads", "2"])
        defer { relay.stop() }
        #expect(relay.wait(for: "relay started"), "\(relay.output)")
        let a = Addresses.of(ipv6: false)
        let peer = try UDPTestSocket.bound(to: a.peer, port: 3480, in: net.peer)
        // Sessions from several client ports land on both threads.
        var sessions: [(socket: UDPTestSocket, turn: TURNClient, relayed: TransportAddress)] = []
        for _ in 0..<6 {
            let client = try UDPTestSocket.bound(to: a.client, in: net.client)
            var turn = TURNClient(configuration: .init(username: "alice", password: "secret"))
            let (relayed, _) = try Self.bindChannel(&turn, client, server: a.listen, peer: peer.address)
            sessions.append((client, turn, relayed))
        }
        #expect(try Self.waitForRoutes(net, 6), "every thread's channels in the maps")
        for (i, session) in sessions.enumerated() {
            let sent = Self.payload(i, direction: 0)
            session.socket.send(session.turn.frame(sent, to: peer.address), to: a.listen)
            let got = peer.receive(timeout: 3)
            #expect(got?.bytes == sent && got?.from == session.relayed)
        }
        let text = try Self.metricsText(net)
        #expect(metricValue(text, "turn_fast_path_packets_total{direction=\"to_peer\"}") == 6, "\(text)")

        // A peer in a range not allowed (the client's own subnet): refused, never in the maps.
        let client = try UDPTestSocket.bound(to: a.client, in: net.client)
        var turn = TURNClient(configuration: .init(username: "alice", password: "secret"))
        #expect(throws: RelayTestNetwork.Failure.self) {
            _ = try Self.bindChannel(&turn, client, server: a.listen, peer: TransportAddress(ip: IPAddress("10.77.1.77")!, port: 9))
        }
        #expect(try Self.waitForRoutes(net, 6), "still only the six allowed channels")
    }

    /// coturn's test client and peer through the fast path: nothing lost, and what /metrics
    /// counts (kernel and user space together) equals uclient's own totals.
    @Test(arguments: [false, true])
    func uclientThroughTheFastPathMatchesTheMetrics(ipv6: Bool) throws {
        let net = try RelayTestNetwork()
        defer { net.close() }
        let relay = try Self.relay(net)
        defer { relay.stop() }
        #expect(relay.wait(for: "relay started"), "\(relay.output)")
        let a = Addresses.of(ipv6: ipv6)
        let peerTool = try CoturnInteropTests.tool("turnutils_peer")
        let peer = try RelayDeploymentTests.Child(["-L", "\(a.peer)", "-p", "3480"], prefix: net.inside(net.peer), program: peerTool)
        defer { peer.stop() }
        let uclient = try CoturnInteropTests.tool("turnutils_uclient")
        let (status, output) = try CoturnInteropTests.run(
            RelayTestNetwork.ip,
            [
                "netns", "exec", net.client, uclient,
                "-u", "alice", "-w", "secret", "-p", "3478", "-e", "\(a.peer)", "-r", "3480", "-n", "200", "-m", "5", "-l", "120",
                "\(a.listen.ip)",
            ], limit: 60)
        let t = CoturnInteropTests.totals(output)
        #expect(t.sent >= 1000 && t.received == t.sent && t.lost == 0, "uclient (status \(status)):\n\(output.suffix(1500))")
        let text = try Self.metricsText(net)
        #expect(metricValue(text, "turn_packets_total{direction=\"to_peer\"}") == Double(t.sent), "\(text)")
        #expect(metricValue(text, "turn_packets_total{direction=\"to_client\"}") == Double(t.received))
        #expect(
            metricValue(text, "turn_fast_path_packets_total{direction=\"to_peer\"}") > Double(t.sent) / 2, "most went through the kernel")
    }

    /// Without CAP_BPF and CAP_NET_ADMIN (capabilities dropped with setpriv), `auto` says why in
    /// one line and relays in user space; `on` refuses to start, naming the reason.
    @Test func withoutPrivilegesTheRelayRunsInUserSpace() throws {
        let net = try RelayTestNetwork()
        defer { net.close() }
        let setpriv = try CoturnInteropTests.tool("setpriv")
        let dropped = net.inside(net.relay) + [setpriv, "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]
        let refused = try Self.relay(net, fastPath: "on", prefix: dropped)
        let deadline = Date().addingTimeInterval(20)
        while refused.process.isRunning && Date() < deadline { usleep(50_000) }
        #expect(!refused.process.isRunning && refused.process.terminationStatus != 0)
        #expect(refused.output.contains("fast-path = on") && refused.output.contains("CAP_BPF"), "\(refused.output)")
        refused.stop()

        let relay = try Self.relay(net, fastPath: "auto", prefix: dropped)
        defer { relay.stop() }
        #expect(relay.wait(for: "relay started"), "\(relay.output)")
        #expect(relay.output.contains("kernel fast path not used"), "\(relay.output)")
        let a = Addresses.of(ipv6: false)
        let client = try UDPTestSocket.bound(to: a.client, in: net.client)
        let peer = try UDPTestSocket.bound(to: a.peer, port: 3480, in: net.peer)
        var turn = TURNClient(configuration: .init(username: "alice", password: "secret"))
        let (relayed, _) = try Self.bindChannel(&turn, client, server: a.listen, peer: peer.address)
        client.send(turn.frame([1, 2, 3], to: peer.address), to: a.listen)
        let got = peer.receive(timeout: 3)
        #expect(got?.bytes == [1, 2, 3] && got?.from == relayed)
        #expect(metricValue(try Self.metricsText(net), "turn_fast_path_packets_total{direction=\"to_peer\"}") == 0)
    }
}
