/// When the next call of a load run is due: SIPp's `-r` rate with a linear ramp, and SIPp's
/// run-time controls (pause, resume, rate change). A value type; time (seconds since the run
/// began) is always an argument.
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
    /// Rise linearly from a twentieth of `rate` to `rate` over this many seconds of active time.
    public let rampSeconds: Double
    /// When the current pause began (nil while placing calls).
    public private(set) var pausedSince: Double?
    /// The length of the pauses that have ended.
    public private(set) var pausedBefore: Double = 0
    private var nextStart: Double

    public init(rate: Double, rampSeconds: Double = 0, now: Double) {
        self.rate = rate.isFinite ? Swift.max(rate, Self.minimumRate) : Self.minimumRate
        self.rampSeconds = rampSeconds
        nextStart = now
    }

    public var isPaused: Bool { pausedSince != nil }

    /// Paused time up to `now`, the current pause included.
    public func pausedSeconds(now: Double) -> Double {
        pausedBefore + (pausedSince.map { Swift.max(0, now - $0) } ?? 0)
    }

    /// Time spent placing calls up to `now`: `now` less the paused time.
    public func activeSeconds(now: Double) -> Double { now - pausedSeconds(now: now) }

    /// When the next call is due (nil while paused).
    public var nextDue: Double? { isPaused ? nil : nextStart }

    /// True when a call should start at `now`.
    public func isDue(now: Double) -> Bool { !isPaused && nextStart <= now }

    /// A call started at `now`: the next one is due one interval later (at the ramped rate).
    public mutating func placed(now: Double) {
        nextStart += 1 / currentRate(now: now)
    }

    /// The rate in force at `now`, the ramp applied.
    public func currentRate(now: Double) -> Double {
        let ramp = rampSeconds > 0 ? Swift.min(1, Swift.max(0.05, activeSeconds(now: now) / rampSeconds)) : 1
        return rate * ramp
    }

    /// Stops calls from coming due. Pausing a paused schedule changes nothing.
    public mutating func pause(now: Double) {
        if pausedSince == nil { pausedSince = now }
    }

    /// Ends a pause: the next call is due at `now` and the schedule continues from there.
    /// Resuming a schedule that is not paused changes nothing.
    public mutating func resume(now: Double) {
        guard let since = pausedSince else { return }
        pausedBefore += Swift.max(0, now - since)
        pausedSince = nil
        nextStart = now
    }

    /// Sets the rate (at least `minimumRate`) from `now` on: a schedule that fell behind does
    /// not catch up at the new rate, and one waiting longer than an interval at the new rate
    /// waits only that interval.
    public mutating func setRate(_ newRate: Double, now: Double) {
        guard newRate.isFinite else { return }
        rate = Swift.max(newRate, Self.minimumRate)
        nextStart = Swift.min(Swift.max(nextStart, now), now + 1 / currentRate(now: now))
    }
}
