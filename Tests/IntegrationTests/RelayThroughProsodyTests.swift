import Foundation
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
        let client = XMPPClient(configuration: XMPPClientConfiguration(
            jid: account.jid.with(resource: "relay"), password: account.password,
            server: .init(host: "127.0.0.1", port: prosody.port), trustedCAFile: prosody.caFile))
        try await client.connect()
        let services = try await client.fetchExternalServices()
        await client.disconnect()
        let turn = try #require(services.first { $0.type == "turn" && $0.transport == "udp" })
        let username = try #require(turn.username)
        let password = try #require(turn.password)
        let server = ICEServer(address: turn.host, port: try #require(turn.port),
                               kind: .turnUDP(username: username, password: password))

        // Two relay-only libnice agents connect through jingle-relay and exchange a datagram.
        let a = try ICEAgent(configuration: ICEConfiguration(controlling: true, localAddresses: ["127.0.0.1"], servers: [server], relayOnly: true))
        let b = try ICEAgent(configuration: ICEConfiguration(controlling: false, localAddresses: ["127.0.0.1"], servers: [server], relayOnly: true))
        let (notes, sink) = AsyncStream<String>.makeStream()
        try a.setRemoteCredentials(try b.localCredentials())
        try b.setRemoteCredentials(try a.localCredentials())
        let pumpA = forward("a", a, to: b, notes: sink)
        let pumpB = forward("b", b, to: a, notes: sink)
        try a.gather()
        try b.gather()
        let connected = await waitFor(["a:ready", "b:ready"], in: notes)
        #expect(connected.isSuperset(of: ["a:ready", "b:ready"]), "\(connected)")
        try a.send(Array("through jingle-relay".utf8))
        let got = await waitFor(["b:data:through jingle-relay"], in: notes)
        #expect(got.contains("b:data:through jingle-relay"))
        #expect(try await relay.allocationCount() >= 2)

        a.close()
        b.close()
        let log = await pumpA.value
        _ = await pumpB.value
        sink.finish()
        let local = log.compactMap { if case .localCandidate(let c) = $0 { c } else { nil } }
        #expect(!local.isEmpty && local.allSatisfy { $0.kind == .relayed })
    }

    /// Trickles `agent`'s candidates to `peer` and reports its events as short notes.
    private func forward(_ name: String, _ agent: ICEAgent, to peer: ICEAgent,
                         notes: AsyncStream<String>.Continuation) -> Task<[ICEEvent], Never> {
        Task.detached {
            var log: [ICEEvent] = []
            for await event in agent.events {
                log.append(event)
                switch event {
                case .localCandidate(let c): _ = try? peer.addRemoteCandidates([c])
                case .gatheringDone: try? peer.remoteGatheringDone()
                case .stateChanged(let s): notes.yield("\(name):\(s)")
                case .datagram(let d): notes.yield("\(name):data:\(String(decoding: d, as: UTF8.self))")
                case .selectedPair: break
                }
            }
            return log
        }
    }

    /// Collects notes until all of `required` were seen, or 60 seconds pass (a bound, not a pace).
    private func waitFor(_ required: Set<String>, in notes: AsyncStream<String>) async -> Set<String> {
        await withTaskGroup(of: Set<String>?.self) { group in
            group.addTask {
                var seen = Set<String>()
                for await note in notes {
                    seen.insert(note)
                    if required.isSubset(of: seen) { break }
                }
                return seen
            }
            group.addTask { try? await Task.sleep(for: .seconds(60)); return nil }
            let first = (await group.next()) ?? nil
            group.cancelAll()
            return first ?? []
        }
    }
}
