import Synchronization
import Testing
import ICETestSupport
@testable import Transport

/// Datagrams handed straight from the shared GLib thread to a receiver (`holdDatagrams()`,
/// `deliverDatagrams(to:)`), and teardown of agents that share that thread.
@Suite(.serialized) struct ICEDatagramDeliveryTests {
    /// Connects two loopback agents (b holding its datagrams).
    private func connectedPair() async throws -> ICEAgentPair {
        let a = try ICEAgent(configuration: ICEConfiguration(controlling: true, localAddresses: ["127.0.0.1"]))
        let b = try ICEAgent(configuration: ICEConfiguration(controlling: false, localAddresses: ["127.0.0.1"]))
        b.holdDatagrams()
        let pair = try await ICEPump.connect(a, b)
        #expect(pair.connected.isSuperset(of: ["a:ready", "b:ready"]), "\(pair.connected)")
        return pair
    }

    @Test func heldDatagramsReachTheReceiverInOrderAndNeverTheEventStream() async throws {
        let pair = try await connectedPair()
        let (a, b, notes, sink) = (pair.a, pair.b, pair.notes, pair.sink)
        for word in ["one", "two", "three"] { try a.send(Array(word.utf8)) }

        let received = Mutex<[String]>([])
        b.deliverDatagrams { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            received.withLock { $0.append(text) }
            sink.yield("received:\(text)")
        }
        try a.send(Array("four".utf8))
        let seen = await ICEPump.waitFor(["received:four"], in: notes)
        #expect(seen.contains("received:four"))
        // Loopback UDP keeps order; held ones come first, in arrival order.
        #expect(received.withLock { $0 } == ["one", "two", "three", "four"])

        a.close()
        b.close()
        sink.finish()
        let logB = await pair.pumpB.value
        _ = await pair.pumpA.value
        #expect(!logB.contains { if case .datagram = $0 { true } else { false } })
    }

    @Test func closingFromTheReceiverOnTheGLibThreadDoesNotWaitForItself() async throws {
        let pair = try await connectedPair()
        let (a, b, notes, sink) = (pair.a, pair.b, pair.notes, pair.sink)
        b.deliverDatagrams { bytes in
            guard String(decoding: bytes, as: UTF8.self) == "bye" else { return }
            b.close() // on the shared GLib thread: must return without waiting for that thread
            sink.yield("closed-from-receiver")
        }
        try a.send(Array("bye".utf8))
        let seen = await ICEPump.waitFor(["closed-from-receiver"], in: notes)
        #expect(seen.contains("closed-from-receiver"))
        #expect(throws: ICEError.closed) { try b.send([1]) }
        a.close()
        sink.finish()
        _ = await pair.pumpA.value
        _ = await pair.pumpB.value // b's events end once it is closed
    }

    @Test func manyAgentsShareOneGLibContextAndAllTearDown() throws {
        let agents = try (0..<16).map { i in
            try ICEAgent(configuration: ICEConfiguration(controlling: i.isMultiple(of: 2), localAddresses: ["127.0.0.1"]))
        }
        for agent in agents { try agent.gather() }
        let contexts = Set(agents.map { UInt(bitPattern: $0.contextForTesting) })
        #expect(contexts.count == 1)
        for agent in agents { agent.close() }
        for agent in agents {
            #expect(throws: ICEError.closed) { try agent.gather() }
        }
        // The shared loop outlives its agents: a new one still gathers.
        let later = try ICEAgent(configuration: ICEConfiguration(controlling: true, localAddresses: ["127.0.0.1"]))
        try later.gather()
        later.close()
    }
}
