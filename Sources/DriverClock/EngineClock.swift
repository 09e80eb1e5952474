import EngineTime

// The one place drivers read the monotonic clock for their engines; engines never import this.

/// A driver's clock for its engines: `now` counts from when the clock was made.
public struct EngineClock: Sendable {
    /// The monotonic instant `EngineInstant.zero` stands for.
    public let origin: ContinuousClock.Instant

    public init(origin: ContinuousClock.Instant = .now) { self.origin = origin }

    /// The engines' `now`.
    public var now: EngineInstant { ContinuousClock.now - origin }

    /// When `ContinuousClock` reaches `instant`, for a driver that sleeps until a deadline.
    public func continuousInstant(_ instant: EngineInstant) -> ContinuousClock.Instant { origin + instant }
}

extension EngineClock {
    /// One clock for a whole process, from its first use: for drivers (and tests) whose engines
    /// meet each other's instants, such as two ends of a call in one process.
    public static let process = EngineClock()
}
