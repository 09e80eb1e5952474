import Foundation
import JingleKit

struct CallWaitTimedOut: Error, CustomStringConvertible {
    let what: String
    var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, failing after `limit` (a bounded wait, not a timing assertion).
func callWait<T: Sendable>(
    _ limit: Duration = .seconds(15), _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw CallWaitTimedOut(what: what)
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CallWaitTimedOut(what: what) }
        return first
    }
}

/// Reads a call's events in order.
final class CallEvents: @unchecked Sendable {
    private var iterator: AsyncStream<CallEvent>.AsyncIterator
    init(_ call: Call) { iterator = call.events.makeAsyncIterator() }

    func next(
        _ what: String, within limit: Duration = .seconds(15),
        where match: @escaping @Sendable (CallEvent) -> Bool
    ) async throws -> CallEvent {
        try await callWait(limit, what) { [self] in
            while let e = await self.iterator.next() {
                if ProcessInfo.processInfo.environment["JINGLEKIT_TRACE_CALLS"] != nil { print("call event: \(e)") }
                if match(e) { return e }
            }
            throw CallWaitTimedOut(what: "\(what) (events ended)")
        }
    }

    func ended() async throws -> CallEndReason {
        guard case .ended(let r) = try await next("ended", where: { if case .ended = $0 { true } else { false } }) else {
            throw CallWaitTimedOut(what: "ended")
        }
        return r
    }
}

func nextCall(_ manager: CallManager) async throws -> Call {
    try await callWait(.seconds(15), "incoming call") {
        for await call in manager.incomingCalls { return call }
        throw CallWaitTimedOut(what: "incoming call (stream ended)")
    }
}
