/// Exponential back-off with jitter for reconnecting after a lost connection, reset on success.
/// Pure: the random number is passed in, so tests choose it.
///
/// Attempt `n` (from 0) waits `min(maxDelay, initialDelay * multiplier^n)`, reduced by up to
/// `jitter` of itself: `delay * (1 - jitter * random)` with `random` in `0..<1`.
public struct ReconnectPolicy: Sendable, Hashable {
    public var initialDelay: Duration
    public var multiplier: Double
    public var maxDelay: Duration
    /// Fraction of the delay that randomness may remove, 0...1.
    public var jitter: Double
    /// Give up after this many attempts; nil retries forever.
    public var maxAttempts: Int?
    /// Attempts made since the last success.
    public private(set) var attempt: Int = 0

    public init(
        initialDelay: Duration = .seconds(1), multiplier: Double = 2, maxDelay: Duration = .seconds(60),
        jitter: Double = 0.5, maxAttempts: Int? = nil
    ) {
        self.initialDelay = initialDelay
        self.multiplier = max(1, multiplier)
        self.maxDelay = maxDelay
        self.jitter = min(1, max(0, jitter))
        self.maxAttempts = maxAttempts
    }

    /// The delay before the next attempt, counting it; nil when attempts are exhausted.
    /// - Parameter random: a number in `0..<1` (values outside are clamped).
    public mutating func nextDelay(random: Double) -> Duration? {
        if let maxAttempts, attempt >= maxAttempts { return nil }
        let initial = ReconnectPolicy.seconds(initialDelay)
        let cap = ReconnectPolicy.seconds(maxDelay)
        var delay = initial
        var n = 0
        while n < attempt, delay < cap {
            delay *= multiplier
            n += 1
        }
        delay = min(cap, delay)
        let r = min(1, max(0, random))
        delay *= 1 - jitter * r
        attempt += 1
        return .nanoseconds(Int64((delay * 1e9).rounded()))
    }

    /// Call after a connection succeeded: the next failure starts again from `initialDelay`.
    public mutating func reset() {
        attempt = 0
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
