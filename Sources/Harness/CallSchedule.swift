import EngineTime

/// When the next call of a load run is due: SIPp's `-r` rate with a linear ramp, and SIPp's
/// run-time controls (pause, resume, rate change). A value type; time (an `EngineInstant` on
/// the runner's clock) is always an argument.
///
/// Pausing stops calls from coming due; resuming restarts the schedule from the moment of the
/// resume, so the calls "missed" while paused are not placed in a burst. A rate change takes
/// effect from the moment it is made in the same way. Paused time is kept apart so that the
/// ramp, a `--duration` and the reported rate count only the time spent placing calls.
public struct CallSchedule: Sendable, Hashable {
    /// The lowest rate accepted: one call every 1000 seconds.
    public static let minimumRate = 0.001

    /// New calls per second once the ramp is over.
    public private(set) var rate: Double
    /// Rise linearly from a twentieth of `rate` to `rate` over this much active time.
    public let ramp: Duration
    /// When the current pause began (nil while placing calls).
    public private(set) var pausedSince: EngineInstant?
    /// The length of the pauses that have ended.
    public private(set) var pausedBefore: Duration = .zero
    private var nextStart: EngineInstant

    public init(rate: Double, ramp: Duration = .zero, now: EngineInstant) {
        self.rate = rate.isFinite ? Swift.max(rate, Self.minimumRate) : Self.minimumRate
        self.ramp = ramp
        nextStart = now
    }

    public var isPaused: Bool { pausedSince != nil }

    /// Paused time up to `now`, the current pause included.
    public func paused(now: EngineInstant) -> Duration {
        pausedBefore + (pausedSince.map { Swift.max(.zero, now - $0) } ?? .zero)
    }

    /// Time spent placing calls up to `now`: `now` less the paused time.
    public func active(now: EngineInstant) -> Duration { now - paused(now: now) }

    /// When the next call is due (nil while paused).
    public var nextDue: EngineInstant? { isPaused ? nil : nextStart }

    /// True when a call should start at `now`.
    public func isDue(now: EngineInstant) -> Bool { !isPaused && nextStart <= now }

    /// A call started at `now`: the next one is due one interval later (at the ramped rate).
    public mutating func placed(now: EngineInstant) {
        nextStart += Self.interval(atRate: currentRate(now: now))
    }

    /// The rate in force at `now`, the ramp applied.
    public func currentRate(now: EngineInstant) -> Double {
        let share = ramp > .zero ? Swift.min(1, Swift.max(0.05, active(now: now) / ramp)) : 1
        return rate * share
    }

    /// Stops calls from coming due. Pausing a paused schedule changes nothing.
    public mutating func pause(now: EngineInstant) {
        if pausedSince == nil { pausedSince = now }
    }

    /// Ends a pause: the next call is due at `now` and the schedule continues from there.
    /// Resuming a schedule that is not paused changes nothing.
    public mutating func resume(now: EngineInstant) {
        guard let since = pausedSince else { return }
        pausedBefore += Swift.max(.zero, now - since)
        pausedSince = nil
        nextStart = now
    }

    /// Sets the rate (at least `minimumRate`) from `now` on: a schedule that fell behind does
    /// not catch up at the new rate, and one waiting longer than an interval at the new rate
    /// waits only that interval.
    public mutating func setRate(_ newRate: Double, now: EngineInstant) {
        guard newRate.isFinite else { return }
        rate = Swift.max(newRate, Self.minimumRate)
        nextStart = Swift.min(Swift.max(nextStart, now), now + Self.interval(atRate: currentRate(now: now)))
    }

    /// The time between two calls at `rate` calls per second.
    private static func interval(atRate rate: Double) -> Duration { .seconds(1 / rate) }
}
