#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Testing
import STUN
import TURNClientEngine
import TURNServer
@testable import RelayServer

/// The kernel fast path over the life of a channel and of the relay, in the namespaces of
/// `KernelFastPathTests`: a permission that ends stops the kernel too and a refresh keeps it
/// relaying; two relays on one host keep their own programs; a relay that dies or is detached
/// leaves nothing relaying behind it, and user space takes over from a detached program.
@Suite(.serialized) struct KernelFastPathLifecycleTests {
    typealias Addresses = KernelFastPathTests.Addresses

    /// A client and a peer with a channel between them through relay `instance`.
    struct Session {
        let client: UDPTestSocket
        let peer: UDPTestSocket
        var turn: TURNClient
        let relayed: TransportAddress
        let channel: UInt16
        let server: TransportAddress

        init(_ net: RelayTestNetwork, instance: Int = 0, peerPort: UInt16 = 3480) throws {
            let a = Addresses.of(ipv6: false)
            server = TransportAddress(ip: a.listen.ip, port: a.listen.port + UInt16(instance))
            client = try UDPTestSocket.bound(to: a.client, in: net.client)
            peer = try UDPTestSocket.bound(to: a.peer, port: peerPort, in: net.peer)
            turn = TURNClient(configuration: .init(username: "alice", password: "secret"))
            (relayed, channel) = try KernelFastPathTests.bindChannel(&turn, client, server: server, peer: peer.address)
        }

        /// One datagram each way; whether each arrived intact (waiting at most `timeout`).
        func exchange(_ i: Int, timeout: Double = 3) -> (toPeer: Bool, toClient: Bool) {
            let out = KernelFastPathTests.payload(i, direction: 0)
            client.send(turn.frame(out, to: peer.address), to: server)
            let got = peer.receive(timeout: timeout)
            let toPeer = got?.bytes == out && got?.from == relayed
            let back = KernelFastPathTests.payload(i, direction: 0x5A)
            peer.send(back, to: relayed)
            let answer = client.receive(timeout: timeout)
            let parsed = answer.flatMap { a in a.bytes.withUnsafeBytes { try? ChannelData.parse($0) }.map { (a.bytes, $0) } }
            let toClient = parsed.map { $0.1.channel == channel && Array($0.0[$0.1.payload]) == back } ?? false
            return (toPeer, toClient)
        }

        /// Sends `count` datagrams each way and reports whether any arrived within `timeout`.
        func anyArrives(_ count: Int, timeout: Double = 0.5) -> Bool {
            for i in 0..<count {
                client.send(turn.frame(KernelFastPathTests.payload(i, direction: 0), to: peer.address), to: server)
                peer.send(KernelFastPathTests.payload(i, direction: 0x5A), to: relayed)
            }
            return peer.receive(timeout: timeout) != nil || client.receive(timeout: timeout) != nil
        }
    }

    static func fastPathPackets(_ net: RelayTestNetwork, instance: Int = 0) throws -> (toPeer: Double, toClient: Double) {
        let text = try KernelFastPathTests.metricsText(net, instance: instance)
        return (
            metricValue(text, "turn_fast_path_packets_total{direction=\"to_peer\"}"),
            metricValue(text, "turn_fast_path_packets_total{direction=\"to_client\"}")
        )
    }

    /// Waits until `instant`: the test is about what happens once a lifetime has run out.
    static func waitUntil(_ instant: Date) {
        let left = instant.timeIntervalSinceNow
        if left > 0 { usleep(UInt32(left * 1_000_000)) }
    }

    /// A 3 s permission: until it ends both directions go through the kernel; from 300 ms after
    /// its end nothing is relayed either way, though the channel itself has 600 s to run.
    @Test func anExpiredPermissionStopsTheKernelOnTime() throws {
        let net = try RelayTestNetwork()
        defer { net.close() }
        let relay = try KernelFastPathTests.relay(net, extra: ["--permission-lifetime", "3"])
        defer { relay.stop() }
        #expect(relay.wait(for: "relay started"), "\(relay.output)")
        let asked = Date() // the permission ends no earlier than 3 s from here
        let session = try Session(net)
        let answered = Date() // and no later than 3 s from here
        #expect(try KernelFastPathTests.waitForRoutes(net, 1))
        var exchanged = 0
        while Date() < asked.addingTimeInterval(2) {
            let (toPeer, toClient) = session.exchange(exchanged)
            #expect(toPeer && toClient, "datagram \(exchanged) before the permission's end")
            exchanged += 1
            usleep(100_000)
        }
        let before = try Self.fastPathPackets(net)
        #expect(
            exchanged > 0 && before.toPeer == Double(exchanged) && before.toClient == Double(exchanged),
            "all through the kernel: \(before) of \(exchanged)")

        Self.waitUntil(answered.addingTimeInterval(3.3))
        #expect(!session.anyArrives(10), "relayed after the permission ended")
        let after = try Self.fastPathPackets(net)
        #expect(after.toPeer == before.toPeer && after.toClient == before.toClient)
        #expect(try KernelFastPathTests.waitForRoutes(net, 0), "the route leaves the maps")
    }

    /// The same 3 s permission refreshed by a ChannelBind every second: five seconds on, every
    /// datagram still goes through the kernel.
    @Test func aChannelBindRefreshKeepsTheKernelRelaying() throws {
        let net = try RelayTestNetwork()
        defer { net.close() }
        let relay = try KernelFastPathTests.relay(net, extra: ["--permission-lifetime", "3"])
        defer { relay.stop() }
        #expect(relay.wait(for: "relay started"), "\(relay.output)")
        var session = try Session(net)
        let start = Date()
        #expect(try KernelFastPathTests.waitForRoutes(net, 1))
        var exchanged = 0, lost = 0
        var lastRefresh = Date()
        while Date() < start.addingTimeInterval(5) {
            if Date().timeIntervalSince(lastRefresh) > 1 {
                let number = try KernelFastPathTests.channelBind(
                    &session.turn, session.client, server: session.server,
                    peer: session.peer.address)
                #expect(number == session.channel)
                lastRefresh = Date()
            }
            let (toPeer, toClient) = session.exchange(exchanged)
            if !toPeer || !toClient { lost += 1 }
            exchanged += 1
            usleep(100_000)
        }
        #expect(lost == 0, "\(lost) of \(exchanged) lost across refreshes")
        let packets = try Self.fastPathPackets(net)
        #expect(packets.toPeer == Double(exchanged) && packets.toClient == Double(exchanged), "\(packets) of \(exchanged)")
    }

    /// Two relays on one host (different listening ports) with the program on the same
    /// interfaces: each relays its own channels in the kernel, and when one stops the other's
    /// program stays. With tcx links and with clsact filters (each relay its own handle).
    @Test(arguments: ["auto", "clsact"])
    func twoRelaysOnOneHostKeepTheirOwnPrograms(hook: String) throws {
        let net = try RelayTestNetwork()
        defer { net.close() }
        let environment = ["JINGLE_RELAY_TC_HOOK": hook]
        let first = try KernelFastPathTests.relay(net, extra: ["--drain-timeout", "0"], environment: environment)
        defer { first.stop() }
        let second = try KernelFastPathTests.relay(net, environment: environment, instance: 1)
        defer { second.stop() }
        #expect(first.wait(for: "relay started") && second.wait(for: "relay started"), "\(first.output)\n\(second.output)")
        #expect(first.output.contains(hook == "auto" ? "tcx-link-" : "clsact-0x"), "\(first.output)")
        let one = try Session(net)
        let two = try Session(net, instance: 1, peerPort: 3481)
        #expect(try KernelFastPathTests.waitForRoutes(net, 1) && KernelFastPathTests.waitForRoutes(net, 1, instance: 1))
        #expect(one.exchange(1) == (true, true) && two.exchange(2) == (true, true))
        #expect(try Self.fastPathPackets(net) == (1, 1))
        #expect(try Self.fastPathPackets(net, instance: 1) == (1, 1))

        kill(first.process.processIdentifier, SIGTERM)
        #expect(first.wait(for: "relay stopped"), "\(first.output)")
        for i in 0..<10 { #expect(two.exchange(i) == (true, true)) }
        #expect(try Self.fastPathPackets(net, instance: 1) == (11, 11), "the second relay's program still relays")
    }

    /// A relay killed with SIGKILL: its tcx links go with it, so nothing keeps relaying its
    /// channels, and a new relay on the same addresses relays in the kernel again.
    @Test func aKilledRelayLeavesNothingRelaying() throws {
        let net = try RelayTestNetwork()
        defer { net.close() }
        let relay = try KernelFastPathTests.relay(net)
        #expect(relay.wait(for: "relay started"), "\(relay.output)")
        let session = try Session(net)
        #expect(try KernelFastPathTests.waitForRoutes(net, 1))
        #expect(session.exchange(0) == (true, true))
        relay.stop() // SIGKILL
        #expect(!session.anyArrives(10), "a dead relay's channel was still relayed")

        let again = try KernelFastPathTests.relay(net)
        defer { again.stop() }
        #expect(again.wait(for: "relay started"), "\(again.output)")
        let fresh = try Session(net, peerPort: 3481)
        #expect(try KernelFastPathTests.waitForRoutes(net, 1))
        #expect(fresh.exchange(1) == (true, true))
        #expect(try Self.fastPathPackets(net) == (1, 1))
    }

    /// The program taken off the interfaces mid-stream (its tcx links detached with bpftool, or
    /// its clsact filters deleted with tc): user space relays the rest, and nothing sent after
    /// is lost.
    @Test(arguments: ["auto", "clsact"])
    func detachedMidStreamUserSpaceTakesOver(hook: String) throws {
        let net = try RelayTestNetwork()
        defer { net.close() }
        let relay = try KernelFastPathTests.relay(net, environment: ["JINGLE_RELAY_TC_HOOK": hook])
        defer { relay.stop() }
        #expect(relay.wait(for: "relay started"), "\(relay.output)")
        let session = try Session(net)
        #expect(try KernelFastPathTests.waitForRoutes(net, 1))
        var received = 0
        for i in 0..<100 {
            if i == 50 { try Self.detach(relay, net, hook: hook) }
            let sent = KernelFastPathTests.payload(i, direction: 0)
            session.client.send(session.turn.frame(sent, to: session.peer.address), to: session.server)
            if let (bytes, from) = session.peer.receive(timeout: 3), bytes == sent, from == session.relayed { received += 1 }
        }
        #expect(received == 100)
        let text = try KernelFastPathTests.metricsText(net)
        #expect(metricValue(text, "turn_fast_path_packets_total{direction=\"to_peer\"}") == 50, "\(text)")
        #expect(metricValue(text, "turn_packets_total{direction=\"to_peer\"}") == 100)
    }

    /// Detaches the relay's program as an operator would: `bpftool link detach id N` for the
    /// links its log names, `tc filter del` for clsact.
    static func detach(_ relay: RelayDeploymentTests.Child, _ net: RelayTestNetwork, hook: String) throws {
        if hook == "clsact" {
            let tc = try CoturnInteropTests.tool("tc")
            for device in [net.relayClientSide, net.relayPeerSide] {
                let r = try RelayDeploymentTests.run(
                    RelayTestNetwork.ip, ["netns", "exec", net.relay, tc, "filter", "del", "dev", device, "ingress"])
                #expect(r.status == 0, "\(r.err)")
            }
            return
        }
        let ids = relay.output.matches(of: /tcx-link-(\d+)/).map { String($0.1) }
        #expect(ids.count == 2, "\(relay.output)")
        let bpftool = try CoturnInteropTests.tool("bpftool")
        for id in ids {
            let r = try RelayDeploymentTests.run(bpftool, ["link", "detach", "id", id])
            #expect(r.status == 0, "bpftool link detach id \(id): \(r.err)")
        }
    }
}
