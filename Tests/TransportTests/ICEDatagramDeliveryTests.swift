import Synchronization
import Testing
import ICETestSupport
@testable import Transport

/// Datagrams handed straight from the shared GLib thread to a receiver (`holdDatagrams()`,
/// `deliverDatagrams(to:)`), and teardown of agents that share that thread.
@Suite(.serialized) struct ICEDatagramDeliveryTests {
    /// Connects two loopback agents (b holding its datagrams) and returns their event pumps.
    private func connectedPair(notes: AsyncStream<String>, sink: AsyncStream<String>.Continuation) async throws
        -> (ICEAgent, ICEAgent, Task<[ICEEvent], Never>, Task<[ICEEvent], Never>)
    {
        let a = try ICEAgent(configuration: ICEConfiguration(controlling: true, localAddresses: ["127.0.0.1"]))
        let b = try ICEAgent(configuration: ICEConfiguration(controlling: false, localAddresses: ["127.0.0.1"]))
        b.holdDatagrams()
        try a.setRemoteCredentials(try b.localCredentials())
        try b.setRemoteCredentials(try a.localCredentials())
        let pumpA = ICEPump.forward("a", a, to: b, notes: sink)
        let pumpB = ICEPump.forward("b", b, to: a, notes: sink)
        try a.gather()
        try b.gather()
        let connected = await ICEPump.waitFor(["a:ready", "b:ready"], in: notes)
        #expect(connected.isSuperset(of: ["a:ready", "b:ready"]), "\(connected)")
        return (a, b, pumpA, pumpB)
    }

    @Test func heldDatagramsReachTheReceiverInOrderAndNeverTheEventStream() async throws {
        let (notes, sink) = AsyncStream<String>.makeStream()
        let (a, b, pumpA, pumpB) = try await connectedPair(notes: notes, sink: sink)
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
        let logB = await pumpB.value
        _ = await pumpA.value
        #expect(!logB.contains { if case .datagram = $0 { true } else { false } })
    }

    @Test func closingFromTheReceiverOnTheGLibThreadDoesNotWaitForItself() async throws {
        let (notes, sink) = AsyncStream<String>.makeStream()
        let (a, b, pumpA, pumpB) = try await connectedPair(notes: notes, sink: sink)
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
        _ = await pumpA.value
        _ = await pumpB.value // b's events end once it is closed
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
