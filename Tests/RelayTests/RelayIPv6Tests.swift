import Foundation
import Testing
import STUN
import TURNClientEngine
import TURNServer
@testable import RelayServer

/// IPv6 over real sockets (RFC 6156, RFC 8656 §7.2 ADDITIONAL-ADDRESS-FAMILY): the relay listens
/// and relays on ::1; an IPv6 allocation and a dual allocation relay to ::1 and 127.0.0.1 peers.
/// A machine without ::1 fails this test with the reason, it is never skipped.
@Suite struct RelayIPv6Tests {
    static let noLoopbackV6 = "this machine has no ::1: `ip -6 addr show lo` must list ::1/128 (sysctl net.ipv6.conf.lo.disable_ipv6=0)"

    static func configuration() -> RelayConfiguration {
        var c = RelayUDPTests.configuration()
        c.listen = [TransportAddress("[::1]:0")!]
        c.relayIPv4 = IPAddress("127.0.0.1")
        c.relayIPv6 = IPAddress("::1")
        c.metrics = nil
        return c
    }

    /// Both directions through a channel between `client` and `peer`.
    func roundTrip(
        _ client: inout TURNClient, _ socket: UDPTestSocket, listen: TransportAddress, relay: TransportAddress,
        peer: UDPTestSocket, tag: UInt8
    ) throws {
        let driver = RelayUDPTests()
        let bound = driver.drive(&client, socket, server: listen, client.bindChannel(peer.address, now: currentTime())) {
            if case .channelBound = $0 { true } else if case .failed = $0 { true } else { false }
        }
        guard case .channelBound? = bound.last else { Issue.record("ChannelBind to \(peer.address) failed: \(bound)"); return }
        socket.send(client.frame([tag, 1, 2], to: peer.address), to: listen)
        let relayed = try #require(peer.receive(timeout: 5), "nothing relayed to \(peer.address)")
        #expect(relayed.bytes == [tag, 1, 2])
        #expect(relayed.from == relay)
        peer.send([tag, 3], to: relay)
        let events = driver.drive(&client, socket, server: listen, []) { if case .data = $0 { true } else { false } }
        #expect(events.last == .data(from: peer.address, [tag, 3]))
    }

    @Test func ipv6AndDualAllocationsOverLoopback() async throws {
        guard let socket = try? UDPTestSocket(family: .ipv6), let peer6 = try? UDPTestSocket(family: .ipv6) else {
            Issue.record("\(Self.noLoopbackV6)")
            return
        }
        let server = try RelayServer(configuration: Self.configuration())
        try await server.start()
        defer { Task { try? await server.stop() } }
        let listen = try #require(server.udpAddresses.first)
        #expect(listen.ip == IPAddress("::1"))
        let driver = RelayUDPTests()

        // REQUESTED-ADDRESS-FAMILY IPv6: one relayed address on ::1.
        var client = TURNClient(
            configuration: {
                var c = TURNClient.Configuration(username: "alice", password: "secret")
                c.requestedFamily = .ipv6
                return c
            }())
        var events = driver.drive(&client, socket, server: listen, client.allocate(now: currentTime())) {
            if case .allocated = $0 { true } else if case .failed = $0 { true } else { false }
        }
        guard case .allocated(let relays, let mapped, _, _)? = events.last else {
            Issue.record("IPv6 allocation failed: \(events)"); return
        }
        #expect(relays.count == 1)
        let relay6 = try #require(relays.first)
        #expect(relay6.ip == IPAddress("::1"))
        #expect(mapped == socket.address)
        try roundTrip(&client, socket, listen: listen, relay: relay6, peer: peer6, tag: 6)
        // An IPv4 peer on an IPv6-only allocation: 443 Peer Address Family Mismatch.
        events = driver.drive(&client, socket, server: listen, client.createPermission([IPAddress("127.0.0.1")!], now: currentTime())) {
            if case .failed = $0 { true } else if case .permissionCreated = $0 { true } else { false }
        }
        #expect(events.last == .failed(.createPermission, STUNErrorCode(443)))

        // ADDITIONAL-ADDRESS-FAMILY IPv6: an IPv4 and an IPv6 relayed address, both relaying.
        let dualSocket = try UDPTestSocket(family: .ipv6)
        let peer4 = try UDPTestSocket()
        var dual = TURNClient(
            configuration: {
                var c = TURNClient.Configuration(username: "alice", password: "secret")
                c.additionalFamily = .ipv6
                return c
            }())
        events = driver.drive(&dual, dualSocket, server: listen, dual.allocate(now: currentTime())) {
            if case .allocated = $0 { true } else if case .failed = $0 { true } else { false }
        }
        guard case .allocated(let dualRelays, _, _, _)? = events.last else { Issue.record("dual allocation failed: \(events)"); return }
        let v4 = try #require(dualRelays.first { $0.ip.family == .ipv4 })
        let v6 = try #require(dualRelays.first { $0.ip.family == .ipv6 })
        #expect(v4.ip == IPAddress("127.0.0.1"))
        #expect(v6.ip == IPAddress("::1"))
        try roundTrip(&dual, dualSocket, listen: listen, relay: v6, peer: peer6, tag: 46)
        try roundTrip(&dual, dualSocket, listen: listen, relay: v4, peer: peer4, tag: 44)
        #expect(try await server.allocationCount() == 2)
        let sizes = try await server.runtimeSizes()
        #expect(sizes.relaySockets == 3)
    }
}
