#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import ICETestSupport
import Testing
import STUN
import Transport
@testable import RelayServer

/// libnice through the kernel fast path on real links: a relay-only agent in the client's
/// namespace and a host-only agent in the peer's, the relay between them (veth pairs, no
/// forwarding), with the client over IPv4 and over IPv6. libnice 0.1.21 asks for no address
/// family, so its relayed address is IPv4 either way (RFC 8656 §7.2) and so is the peer it can
/// pair with: over IPv6 the client's leg and the peer's differ in family, and the kernel replaces
/// the IP header. (IPv6 relayed addresses: uclient and `KernelFastPathTests`.) Every datagram
/// arrives, and the kernel carried the stream both ways.
@Suite(.serialized) struct KernelFastPathLibniceTests {
    @Test(arguments: [(false, false), (true, false)])
    func libniceThroughTheKernelOverVeth(clientIPv6: Bool, peerIPv6: Bool) async throws {
        let net = try RelayTestNetwork()
        defer { net.close() }
        let relay = try KernelFastPathTests.relay(net)
        defer { relay.stop() }
        #expect(relay.wait(for: "relay started"), "\(relay.output)")
        let near = KernelFastPathTests.Addresses.of(ipv6: clientIPv6), far = KernelFastPathTests.Addresses.of(ipv6: peerIPv6)
        let server = ICEServer(
            address: "\(near.listen.ip)", port: near.listen.port,
            kind: .turnUDP(username: "alice", password: "secret"))
        // Each agent gathers inside its namespace, so its sockets live there.
        let a = try RelayTestNetwork.withNamespace(net.client) {
            let agent = try ICEAgent(
                configuration: ICEConfiguration(
                    controlling: true, localAddresses: ["\(near.client)"],
                    servers: [server], relayOnly: true))
            try agent.gather()
            return agent
        }
        let b = try RelayTestNetwork.withNamespace(net.peer) {
            let agent = try ICEAgent(configuration: ICEConfiguration(controlling: false, localAddresses: ["\(far.peer)"], servers: []))
            try agent.gather()
            return agent
        }
        defer { a.close(); b.close() }
        try a.setRemoteCredentials(try b.localCredentials())
        try b.setRemoteCredentials(try a.localCredentials())
        let (notes, sink) = AsyncStream<String>.makeStream()
        _ = ICEPump.forward("a", a, to: b, notes: sink)
        _ = ICEPump.forward("b", b, to: a, notes: sink)
        #expect(await ICEPump.waitFor(["a:ready", "b:ready"], in: notes, seconds: 30).isSuperset(of: ["a:ready", "b:ready"]))
        let count = 200
        let lost = try await ICEPump.exchange(a, b, count: count, notes: notes, seconds: 30)
        #expect(lost.isEmpty, "\(lost.count) of \(2 * count) datagrams lost")
        let text = try KernelFastPathTests.metricsText(net)
        // The first few go through user space, before libnice's ChannelBind reaches the maps.
        #expect(metricValue(text, "turn_fast_path_packets_total{direction=\"to_peer\"}") >= Double(count / 2), "\(text)")
        #expect(metricValue(text, "turn_fast_path_packets_total{direction=\"to_client\"}") >= Double(count / 2))
        sink.finish()
    }
}
