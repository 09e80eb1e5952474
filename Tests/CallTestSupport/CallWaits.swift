import Foundation
import JingleKit
import Synchronization

/// A bounded wait ran out.
public struct TimedOut: Error, CustomStringConvertible {
    public let what: String
    public init(what: String) { self.what = what }
    public var description: String { "timed out waiting for \(what)" }
}

/// Runs `body`, failing after `limit` (a bound on waiting, not a timing assertion).
public func within<T: Sendable>(
    _ limit: Duration = .seconds(15), _ what: String,
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

/// Reads a call's events in order, for tests (JINGLEKIT_TRACE_CALLS prints each). A wait that
/// fails names the events it skipped, so a stall says what the call did see.
public final class EventReader: @unchecked Sendable {
    private var iterator: AsyncStream<CallEvent>.AsyncIterator
    private let skipped = Mutex<[String]>([])
    public init(_ call: Call) { iterator = call.events.makeAsyncIterator() }

    /// The events skipped by the waits so far (the last 32), oldest first.
    public var skippedEvents: [String] { skipped.withLock { $0 } }

    /// The next event that matches, skipping others; fails if the stream ends first.
    public func next(
        _ what: String, within limit: Duration = .seconds(15), where match: @escaping @Sendable (CallEvent) -> Bool
    ) async throws -> CallEvent {
        do {
            return try await CallTestSupport.within(limit, what) { [self] in
                while let e = await self.iterator.next() {
                    if ProcessInfo.processInfo.environment["JINGLEKIT_TRACE_CALLS"] != nil { print("call event: \(e)") }
                    if match(e) { return e }
                    skipped.withLock { s in
                        s.append("\(e)")
                        if s.count > 32 { s.removeFirst() }
                    }
                }
                throw TimedOut(what: "\(what) (events ended)")
            }
        } catch let timedOut as TimedOut {
            throw TimedOut(what: "\(timedOut.what); skipped before it: \(skippedEvents)")
        }
    }

    public func ended() async throws -> CallEndReason {
        guard case .ended(let r) = try await next("ended", where: { if case .ended = $0 { true } else { false } }) else {
            throw TimedOut(what: "ended")
        }
        return r
    }
}

/// The next incoming call of a manager.
public func nextIncoming(_ manager: CallManager) async throws -> Call {
    try await within(.seconds(15), "incoming call") {
        for await call in manager.incomingCalls { return call }
        throw TimedOut(what: "incoming call (stream ended)")
    }
}
