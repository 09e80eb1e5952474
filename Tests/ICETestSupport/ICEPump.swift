import Transport

/// Two libnice agents wired to each other in a test: candidates trickled across, events turned
/// into short notes (`a:gathered`, `a:ready`, `a:pair`, `b:data:TEXT`), and the notes awaited
/// with a bound. Shared by the transport, relay and integration tests.
public enum ICEPump {
    /// Trickles `agent`'s candidates to `peer` and reports its events as notes named `name`;
    /// the task returns every event once the agent's stream ends.
    public static func forward(
        _ name: String, _ agent: ICEAgent, to peer: ICEAgent,
        notes: AsyncStream<String>.Continuation
    ) -> Task<[ICEEvent], Never> {
        Task.detached {
            var log: [ICEEvent] = []
            for await event in agent.events {
                log.append(event)
                switch event {
                case .localCandidate(let c): _ = try? peer.addRemoteCandidates([c])
                case .gatheringDone:
                    try? peer.remoteGatheringDone()
                    notes.yield("\(name):gathered")
                case .stateChanged(let s): notes.yield("\(name):\(s)")
                case .selectedPair: notes.yield("\(name):pair")
                case .datagram(let d): notes.yield("\(name):data:\(String(decoding: d, as: UTF8.self))")
                }
            }
            return log
        }
    }

    /// Sends `count` datagrams each way (`a-N` from `a`, `b-N` from `b`), paced 10 ms apart as
    /// audio is, and returns the notes of those that did not arrive within `seconds`.
    public static func exchange(
        _ a: ICEAgent, _ b: ICEAgent, count: Int, notes: AsyncStream<String>,
        seconds: Int = 60
    ) async throws -> Set<String> {
        for i in 0..<count {
            try a.send(Array("a-\(i)".utf8))
            try b.send(Array("b-\(i)".utf8))
            try await Task.sleep(for: .milliseconds(10)) // a pace, like audio's
        }
        let expected = Set((0..<count).map { "b:data:a-\($0)" } + (0..<count).map { "a:data:b-\($0)" })
        return expected.subtracting(await waitFor(expected, in: notes, seconds: seconds))
    }

    /// Collects notes until all of `required` were seen, or `seconds` pass (a bound, not a pace),
    /// and returns those seen.
    public static func waitFor(_ required: Set<String>, in notes: AsyncStream<String>, seconds: Int = 60) async -> Set<String> {
        await withTaskGroup(of: Set<String>?.self) { group in
            group.addTask {
                var seen = Set<String>()
                for await note in notes {
                    seen.insert(note)
                    if required.isSubset(of: seen) { break }
                }
                return seen
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds)); return nil
            }
            let first = (await group.next()) ?? nil
            group.cancelAll()
            return first ?? []
        }
    }
}

/// Two agents wired to each other by `ICEPump.connect`: the notes of both, the continuation
/// that feeds them (to add notes of a test's own, and to finish), and each agent's pump.
public struct ICEAgentPair: Sendable {
    public let a: ICEAgent
    public let b: ICEAgent
    public let notes: AsyncStream<String>
    public let sink: AsyncStream<String>.Continuation
    public let pumpA: Task<[ICEEvent], Never>
    public let pumpB: Task<[ICEEvent], Never>
    /// The notes seen while waiting for the agents to connect.
    public let connected: Set<String>
}

extension ICEPump {
    /// Two relay-only agents on `address` (`a` controlling) that gather through one TURN `server`.
    public static func relayOnlyAgents(address: String = "127.0.0.1", server: ICEServer) throws -> (ICEAgent, ICEAgent) {
        let a = try ICEAgent(
            configuration: ICEConfiguration(controlling: true, localAddresses: [address], servers: [server], relayOnly: true))
        let b = try ICEAgent(
            configuration: ICEConfiguration(controlling: false, localAddresses: [address], servers: [server], relayOnly: true))
        return (a, b)
    }

    /// Gives each agent the other's credentials, forwards each one's candidates and events
    /// (`forward`, as "a" and "b"), gathers both, and waits up to `seconds` for both to be ready.
    public static func connect(_ a: ICEAgent, _ b: ICEAgent, seconds: Int = 60) async throws -> ICEAgentPair {
        let (notes, sink) = AsyncStream<String>.makeStream()
        try a.setRemoteCredentials(try b.localCredentials())
        try b.setRemoteCredentials(try a.localCredentials())
        let pumpA = forward("a", a, to: b, notes: sink)
        let pumpB = forward("b", b, to: a, notes: sink)
        try a.gather()
        try b.gather()
        let connected = await waitFor(["a:ready", "b:ready"], in: notes, seconds: seconds)
        return ICEAgentPair(a: a, b: b, notes: notes, sink: sink, pumpA: pumpA, pumpB: pumpB, connected: connected)
    }
}
