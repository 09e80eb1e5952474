import Jingle
import JingleKit
import Testing
import XMPPCore

struct TimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, failing after `limit` (a bound on waiting, not a timing assertion).
func within<T: Sendable>(
    _ limit: Duration = .seconds(10), _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimedOut(what: what)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw TimedOut(what: what) }
        return first
    }
}

/// Reads a call's events in order, for tests.
final class EventReader: @unchecked Sendable {
    private var iterator: AsyncStream<CallEvent>.AsyncIterator
    init(_ call: Call) { iterator = call.events.makeAsyncIterator() }

    /// The next event that matches, skipping others; fails if the stream ends first.
    func next(_ what: String, where match: @escaping @Sendable (CallEvent) -> Bool) async throws -> CallEvent {
        try await within(.seconds(10), what) { [self] in
            while let e = await self.iterator.next() {
                if match(e) { return e }
            }
            throw TimedOut(what: "\(what) (events ended)")
        }
    }

    func ended() async throws -> CallEndReason {
        let e = try await next("ended") { if case .ended = $0 { true } else { false } }
        guard case .ended(let r) = e else { throw TimedOut(what: "ended") }
        return r
    }
}

/// The next incoming call of a manager.
func nextIncoming(_ manager: CallManager) async throws -> Call {
    try await within(.seconds(10), "incoming call") {
        for await call in manager.incomingCalls { return call }
        throw TimedOut(what: "incoming call (stream ended)")
    }
}

/// Managers for alice/desk and the given bob resources on one in-memory router.
func makeManagers(bob resources: [String] = ["desk"], configuration: CallConfiguration = .init())
    async -> (router: InMemoryRouter, alice: CallManager, bobs: [CallManager])
{
    let router = InMemoryRouter()
    let aliceClient = await router.client("alice@localhost/desk")
    let alice = CallManager(transport: aliceClient, local: aliceClient.jid, configuration: configuration)
    await alice.start()
    var bobs: [CallManager] = []
    for r in resources {
        let c = await router.client("bob@localhost/\(r)")
        let m = CallManager(transport: c, local: c.jid, configuration: configuration)
        await m.start()
        bobs.append(m)
    }
    return (router, alice, bobs)
}
