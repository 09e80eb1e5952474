import Foundation
import ICETestSupport
import RelayServer
import STUN
import Testing
import Transport
import XMPPClient
import XMPPCore

/// jingle-relay as the XMPP server's TURN service: Prosody's `turn_external` hands out TURN REST
/// credentials for the relay's shared secret (XEP-0215), and libnice, a TURN client nobody here
/// wrote, relays ICE traffic through jingle-relay with them.
@Suite(.serialized) struct RelayThroughProsodyTests {
    @Test func libniceRelaysThroughJingleRelayWithCredentialsFromProsody() async throws {
        let prosody = try await ProsodyFixture.shared()

        // The relay, on the address and secret Prosody advertises.
        let relay = try await RelayFixture.shared(for: prosody)

        // Credentials from Prosody over XEP-0215.
        let account = try await prosody.account("relay-user")
        let client = XMPPClient(
            configuration: XMPPClientConfiguration(
                jid: account.jid.with(resource: "relay"), password: account.password,
                server: .init(host: "127.0.0.1", port: prosody.port), trustedCAFile: prosody.caFile))
        try await client.connect()
        let services = try await client.fetchExternalServices()
        await client.disconnect()
        let turn = try #require(services.first { $0.type == "turn" && $0.transport == "udp" })
        let username = try #require(turn.username)
        let password = try #require(turn.password)
        let server = ICEServer(
            address: turn.host, port: try #require(turn.port),
            kind: .turnUDP(username: username, password: password))

        // Two relay-only libnice agents connect through jingle-relay and exchange a datagram.
        let (a, b) = try ICEPump.relayOnlyAgents(server: server)
        let agents = try await ICEPump.connect(a, b)
        let (notes, sink, pumpA, pumpB) = (agents.notes, agents.sink, agents.pumpA, agents.pumpB)
        #expect(agents.connected.isSuperset(of: ["a:ready", "b:ready"]), "\(agents.connected)")
        try a.send(Array("through jingle-relay".utf8))
        let got = await ICEPump.waitFor(["b:data:through jingle-relay"], in: notes)
        #expect(got.contains("b:data:through jingle-relay"))
        #expect(try await relay.allocationCount() >= 2)

        // Once libnice has bound its channels the kernel fast path relays them (the relay's
        // default `fast-path = auto`; CI runs as root, so the program is on lo): a stream of
        // datagrams each way, and the fast path's counters grow in both directions.
        let before = ICEPump.fastPathPackets(try await relay.metricsText())
        for i in 0..<100 {
            try a.send(Array("kernel-\(i)".utf8))
            try b.send(Array("kernel-\(i)".utf8))
            try await Task.sleep(for: .milliseconds(10)) // a pace, like audio's
        }
        let streamed = await ICEPump.waitFor(["a:data:kernel-99", "b:data:kernel-99"], in: notes)
        #expect(streamed.contains("a:data:kernel-99") && streamed.contains("b:data:kernel-99"))
        let after = ICEPump.fastPathPackets(try await relay.metricsText())
        if geteuid() == 0 {
            #expect(
                after.toPeer > before.toPeer && after.toClient > before.toClient,
                "libnice's channels went through the kernel: \(before) -> \(after)")
        }

        a.close()
        b.close()
        let log = await pumpA.value
        _ = await pumpB.value
        sink.finish()
        let local = log.compactMap { if case .localCandidate(let c) = $0 { c } else { nil } }
        #expect(!local.isEmpty && local.allSatisfy { $0.kind == .relayed })
    }
}
