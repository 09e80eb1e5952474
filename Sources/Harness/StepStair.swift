/// A capacity search in the manner of SIPp's `-rate_increase`/`-rate_max`: the rate starts at
/// `--rate` and rises by `increase` calls/s every `everySeconds` of placing time up to
/// `maxRate`; the run stops once the calls of a step fail more than `stopOnFailPercent` %, or
/// when the step at `maxRate` has run its time.
public struct StepStairOptions: Sendable, Hashable {
    /// Calls/s added at each step.
    public var increase: Double
    /// Seconds each step lasts (placing time: pauses do not count).
    public var everySeconds: Double
    /// The last step's rate.
    public var maxRate: Double
    /// Stop once a step's finished calls failed more than this percentage (nil: never).
    public var stopOnFailPercent: Double?
    /// A step is good only when its `setupStep` p99 is at most this (seconds; nil: no bound).
    public var p99BoundSeconds: Double?
    /// The measured step whose p99 is held to `p99BoundSeconds`.
    public var setupStep: String

    public init(
        increase: Double, everySeconds: Double, maxRate: Double, stopOnFailPercent: Double? = nil,
        p99BoundSeconds: Double? = nil, setupStep: String = "initiate->accept"
    ) {
        self.increase = increase
        self.everySeconds = everySeconds
        self.maxRate = maxRate
        self.stopOnFailPercent = stopOnFailPercent
        self.p99BoundSeconds = p99BoundSeconds
        self.setupStep = setupStep
    }
}

/// The outcome of a step-stair run: each step's calls (by the step they were placed in), and
/// the highest rate up to which every step was good.
public struct CapacityReport: Sendable, Hashable {
    public struct Step: Sendable, Hashable {
        public var rate: Double
        /// Calls placed in this step (initiator legs), finished, and failed among them.
        public var placed = 0
        public var finished = 0
        public var failed = 0
        /// The setup step's times for the calls placed in this step.
        public var setup = LogHistogram()

        public init(rate: Double) { self.rate = rate }

        /// Failed calls as a percentage of the finished ones (0 with none finished).
        public var failurePercent: Double { finished > 0 ? Double(failed) * 100 / Double(finished) : 0 }
        /// The setup step's p99 (nil with no sample).
        public var p99Setup: Double? { setup.isEmpty ? nil : setup.percentile(99) }
    }

    public var options: StepStairOptions
    public var steps: [Step]

    public init(options: StepStairOptions, steps: [Step]) {
        self.options = options
        self.steps = steps
    }

    /// A step is good when it placed calls, every one of them finished and passed, and (with a
    /// bound) the setup p99 is within the bound.
    public func isGood(_ step: Step) -> Bool {
        guard step.placed > 0, step.finished == step.placed, step.failed == 0 else { return false }
        guard let bound = options.p99BoundSeconds else { return true }
        guard let p99 = step.p99Setup else { return false }
        return p99 <= bound
    }

    /// The rate of the last step of the unbroken run of good steps from the first (nil when
    /// the first step was not good): the highest rate at which every call passed (and the setup
    /// p99 stayed within the bound).
    public var lastGoodRate: Double? {
        var rate: Double?
        for step in steps {
            guard isGood(step) else { break }
            rate = step.rate
        }
        return rate
    }

    /// The rate of the first step that was not good (nil when every step was).
    public var firstBadRate: Double? { steps.first { !isGood($0) }?.rate }
}

/// The stair's state during a run: which step is in force, and the calls of each step. A value
/// type driven by `LoadRunner`; time is the run's placing time (pauses left out).
public struct StepStair: Sendable, Hashable {
    public let options: StepStairOptions
    public let startRate: Double
    public private(set) var steps: [CapacityReport.Step]

    public init(options: StepStairOptions, startRate: Double) {
        self.options = options
        self.startRate = startRate
        steps = [CapacityReport.Step(rate: Swift.min(startRate, options.maxRate))]
    }

    /// The number of steps: from the start rate up to the max rate.
    public var stepCount: Int {
        guard options.increase > 0, options.maxRate > startRate else { return 1 }
        return Int(((options.maxRate - startRate) / options.increase).rounded(.up)) + 1
    }

    /// The rate of step `index` (0-based).
    public func rate(ofStep index: Int) -> Double {
        Swift.min(options.maxRate, startRate + Double(index) * options.increase)
    }

    /// The step in force at `activeSeconds` of placing (may be `stepCount`: the stair is over).
    public func stepIndex(at activeSeconds: Double) -> Int {
        Swift.min(stepCount, Swift.max(0, Int((activeSeconds / options.everySeconds).rounded(.down))))
    }

    /// The current step (the last one entered).
    public var current: Int { steps.count - 1 }

    /// What the runner should do at `activeSeconds`.
    public enum Decision: Sendable, Hashable {
        /// Keep placing at the current rate.
        case keep
        /// A new step began: place at this rate from now on.
        case rate(Double)
        /// Stop placing calls.
        case stop(StopReason)
    }

    /// Checks the steps so far (each against `stopOnFailPercent`, with the calls finished by
    /// now) and, when a step's time is over, moves to the next one.
    public mutating func advance(activeSeconds: Double) -> Decision {
        if let limit = options.stopOnFailPercent,
            let bad = steps.first(where: { $0.finished > 0 && $0.failurePercent > limit })
        {
            return .stop(.stepFailures(rate: bad.rate, percent: bad.failurePercent, limit: limit))
        }
        let index = stepIndex(at: activeSeconds)
        guard index > current else { return .keep }
        if index >= stepCount { return .stop(.rateMax(options.maxRate)) }
        while steps.count <= index { steps.append(CapacityReport.Step(rate: rate(ofStep: steps.count))) }
        return .rate(steps[current].rate)
    }

    /// A call was placed in the current step; returns the step's index (for `finished`).
    public mutating func placed() -> Int {
        steps[current].placed += 1
        return current
    }

    /// A call placed in step `index` finished.
    public mutating func finished(step index: Int, passed: Bool, measurements: [CallInterpreter.Measurement]) {
        guard steps.indices.contains(index) else { return }
        steps[index].finished += 1
        if !passed { steps[index].failed += 1 }
        for m in measurements where m.name == options.setupStep { steps[index].setup.record(m.seconds) }
    }

    public var report: CapacityReport { CapacityReport(options: options, steps: steps) }
}
