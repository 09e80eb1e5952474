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
