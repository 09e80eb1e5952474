import Foundation
import ICETestSupport
import RelayServer
import STUN
import Testing
import Transport

/// libnice, a TURN client nobody here wrote, through jingle-relay with the kernel fast path on:
/// two relay-only agents on one relay (so each one's peer is the other's relayed address, the
/// case of two clients of one XMPP server's TURN service), a stream of datagrams each way, every
/// one delivered, the kernel carrying the bulk of it. Over IPv6 libnice 0.1.21 asks for no
/// address family, so it is given an IPv4 relayed address (RFC 8656 §7.2's default): a client
/// leg of one family and a peer leg of the other, whose IP headers the kernel replaces.
/// Loading the program needs root; CI runs as root, and without it this fails, not skips.
@Suite(.serialized) struct RelayFastPathLibniceTests {
    @Test(arguments: ["127.0.0.1", "::1"])
    func libniceStreamsThroughTheKernelFastPath(address: String) async throws {
        try #require(geteuid() == 0, "the fast path needs root (CAP_BPF, CAP_NET_ADMIN); CI runs as root")
        let ip = try #require(IPAddress(address))
        var configuration = RelayConfiguration()
        configuration.listen = [TransportAddress(ip: ip, port: 0)]
        configuration.relayIPv4 = IPAddress("127.0.0.1")
        configuration.relayIPv6 = IPAddress("::1")
        configuration.realm = "fast.test"
        configuration.users = ["alice": "secret"]
        configuration.allowLoopbackPeers = true
        configuration.fastPath = .on
        let base = UInt16(29_000 + Int(getpid() % 40) * 50)
        configuration.portRange = base...(base + 49)
        configuration.socketBufferBytes = 0
        configuration.drainTimeout = 0
        let relay = try RelayServer(configuration: configuration)
        try await relay.start()
        let listening = try #require(relay.udpAddresses.first)
        let server = ICEServer(address: address, port: listening.port, kind: .turnUDP(username: "alice", password: "secret"))

        let (a, b) = try ICEPump.relayOnlyAgents(address: address, server: server)
        let agents = try await ICEPump.connect(a, b)
        let (notes, sink, pumpA, pumpB) = (agents.notes, agents.sink, agents.pumpA, agents.pumpB)
        #expect(agents.connected.isSuperset(of: ["a:ready", "b:ready"]), "\(agents.connected)")

        let count = 200
        let lost = try await ICEPump.exchange(a, b, count: count, notes: notes)
        #expect(lost.isEmpty, "\(lost.count) of \(2 * count) datagrams lost")
        let kernel = ICEPump.fastPathPackets(try await relay.metricsText())
        // Before libnice's ChannelBinds reach the maps a few go through user space (Send
        // indications, then the first channel packets); the bulk goes through the kernel, both
        // hops of each datagram (A's packet to its peer, B's from its peer) in one pass.
        #expect(kernel.toPeer >= Double(count) && kernel.toClient >= Double(count), "\(kernel)")
        let statistics = try await relay.statistics()
        #expect(
            statistics.packetsToPeer >= UInt64(2 * count) && statistics.packetsToClient >= UInt64(2 * count),
            "both paths counted together: \(statistics)")

        a.close()
        b.close()
        let relayed = (await pumpA.value).compactMap { if case .localCandidate(let c) = $0 { c } else { nil } }
        #expect(!relayed.isEmpty && relayed.allSatisfy { $0.kind == .relayed && $0.address == "127.0.0.1" })
        _ = await pumpB.value
        sink.finish()
        try await relay.stop()
    }
}
