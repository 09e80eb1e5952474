import ICETestSupport
import Testing
@testable import Transport

@Suite(.serialized) struct ICEAgentTests {
    @Test func twoAgentsOnLoopbackConnectAndExchangeDatagrams() async throws {
        let a = try ICEAgent(configuration: ICEConfiguration(controlling: true, localAddresses: ["127.0.0.1"]))
        let b = try ICEAgent(configuration: ICEConfiguration(controlling: false, localAddresses: ["127.0.0.1"]))
        let (notes, sink) = AsyncStream<String>.makeStream()
        let credsA = try a.localCredentials(), credsB = try b.localCredentials()
        #expect(!credsA.usernameFragment.isEmpty && credsA.password.count >= 22)
        try a.setRemoteCredentials(credsB)
        try b.setRemoteCredentials(credsA)
        let pumpA = ICEPump.forward("a", a, to: b, notes: sink)
        let pumpB = ICEPump.forward("b", b, to: a, notes: sink)
        try a.gather()
        try b.gather()

        let connected = await ICEPump.waitFor(["a:ready", "b:ready", "a:pair", "b:pair"], in: notes)
        #expect(connected.isSuperset(of: ["a:ready", "b:ready", "a:pair", "b:pair"]), "\(connected)")

        try a.send(Array("hello from a".utf8))
        try b.send(Array("hello from b".utf8))
        let exchanged = await ICEPump.waitFor(["b:data:hello from a", "a:data:hello from b"], in: notes)
        #expect(exchanged.isSuperset(of: ["b:data:hello from a", "a:data:hello from b"]), "\(exchanged)")

        a.close()
        b.close()
        a.close() // idempotent
        #expect(throws: ICEError.closed) { try a.send([1]) }
        let logA = await pumpA.value, logB = await pumpB.value
        sink.finish()

        let localA = logA.compactMap { if case .localCandidate(let c) = $0 { c } else { nil } }
        #expect(!localA.isEmpty)
        #expect(localA.allSatisfy { $0.address == "127.0.0.1" && $0.kind == .host && $0.transport == .udp && $0.port > 0 })
        let pair = logA.compactMap { if case .selectedPair(let l, let r) = $0 { (l, r) } else { nil } }.last
        #expect(pair?.0.address == "127.0.0.1")
        let portsB = Set(logB.compactMap { if case .localCandidate(let c) = $0 { c.port } else { nil } })
        #expect(pair.map { portsB.contains($0.1.port) } == true)
    }

    @Test func invalidAddressesAreTypedErrors() throws {
        #expect(throws: ICEError.invalidAddress("not-an-ip")) {
            try ICEAgent(configuration: ICEConfiguration(controlling: true, localAddresses: ["not-an-ip"]))
        }
        #expect(throws: ICEError.invalidAddress("turn.example.org")) {
            try ICEAgent(
                configuration: ICEConfiguration(
                    controlling: true,
                    servers: [
                        ICEServer(address: "turn.example.org", port: 3478, kind: .turnUDP(username: "u", password: "p"))
                    ]))
        }
        let agent = try ICEAgent(configuration: ICEConfiguration(controlling: true, localAddresses: ["127.0.0.1"]))
        #expect(throws: ICEError.invalidAddress("nowhere")) {
            try agent.addRemoteCandidates([ICECandidate(foundation: "1", priority: 1, address: "nowhere", port: 1, kind: .host)])
        }
        agent.close()
    }

    @Test func restartChangesCredentials() throws {
        let agent = try ICEAgent(configuration: ICEConfiguration(controlling: true, localAddresses: ["127.0.0.1"]))
        let before = try agent.localCredentials()
        try agent.restart()
        let after = try agent.localCredentials()
        #expect(before != after)
        agent.close()
    }
}
