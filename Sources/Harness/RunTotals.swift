/// The statistics of one measured step: a `LogHistogram` (percentiles within 1 %) and the exact
/// counts per coarse `Histogram.boundsMS` bucket the reports draw. Bounded memory; merges exactly.
public struct StepStatistics: Sendable, Hashable {
    public var histogram = LogHistogram()
    /// Counts per bucket of `Histogram.boundsMS` (the last bucket is everything above).
    public var buckets = [Int](repeating: 0, count: Histogram.boundsMS.count + 1)

    public init() {}

    public init(histogram: LogHistogram, buckets: [Int]) {
        self.histogram = histogram
        self.buckets = buckets
    }

    public mutating func record(_ seconds: Double) {
        histogram.record(seconds)
        let ms = seconds * 1000
        buckets[Histogram.boundsMS.firstIndex { ms <= $0 } ?? Histogram.boundsMS.count] += 1
    }

    public mutating func merge(_ other: StepStatistics) {
        histogram.merge(other.histogram)
        for i in buckets.indices where i < other.buckets.count { buckets[i] += other.buckets[i] }
    }

    public var summary: SampleSummary { SampleSummary(self) }
}

/// What a run's reports print, kept up to date call by call in bounded memory: counts, failures
/// by cause, and per-step statistics. A run of any length holds the same few histograms, and
/// the totals of several harness processes merge into the totals of all their calls.
public struct RunTotals: Sendable, Hashable {
    /// Call legs finished, and of those passed.
    public var finished = 0
    public var succeeded = 0
    /// Initiator legs finished (the reported calls/s counts them when there are any).
    public var initiatorFinished = 0
    /// Failures by `FailureCause.category`.
    public var failures: [String: Int] = [:]
    /// Measured steps in order of first appearance.
    public private(set) var stepNames: [String] = []
    public private(set) var steps: [String: StepStatistics] = [:]
    /// Durations of passed calls (the `call` row).
    public var callDurations = StepStatistics()
    /// The order the reports list steps in (a `LoadRunner` gives its scenarios' measures,
    /// initiators' first); steps not in it follow in order of first appearance.
    public var preferredOrder: [String] = []

    public init() {}

    public var failed: Int { finished - succeeded }

    public mutating func add(_ call: CallRecord) {
        finished += 1
        if call.role == .initiator { initiatorFinished += 1 }
        switch call.verdict {
        case .passed:
            succeeded += 1
            callDurations.record(call.durationSeconds)
        case .failed(let cause):
            failures[cause.category, default: 0] += 1
        }
        for m in call.measurements { record(step: m.name, m.seconds) }
    }

    /// Adds one sample of step `name`.
    public mutating func record(step name: String, _ seconds: Double) {
        if steps[name] == nil { stepNames.append(name) }
        steps[name, default: StepStatistics()].record(seconds)
    }

    /// Adds the statistics of step `name` (from another process's report).
    public mutating func merge(step name: String, _ statistics: StepStatistics) {
        if steps[name] == nil { stepNames.append(name) }
        steps[name, default: StepStatistics()].merge(statistics)
    }

    /// Adds another run's totals: counts add, histograms merge, steps keep the order they first appeared in.
    public mutating func merge(_ other: RunTotals) {
        finished += other.finished
        succeeded += other.succeeded
        initiatorFinished += other.initiatorFinished
        for (cause, n) in other.failures { failures[cause, default: 0] += n }
        for name in other.stepNames { if let s = other.steps[name] { merge(step: name, s) } }
        callDurations.merge(other.callDurations)
    }

    /// Per-step summaries in order of first appearance, then `call` (durations of passed calls).
    public var summaries: [(name: String, summary: SampleSummary)] {
        orderedStepNames.map { ($0, steps[$0]?.summary ?? SampleSummary(samples: [])) } + [("call", callDurations.summary)]
    }

    /// `stepNames` in `preferredOrder`, the others after them as they first appeared.
    public var orderedStepNames: [String] {
        guard !preferredOrder.isEmpty else { return stepNames }
        let rank = Dictionary(preferredOrder.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        return stepNames.enumerated().sorted {
            (rank[$0.element] ?? Int.max, $0.offset) < (rank[$1.element] ?? Int.max, $1.offset)
        }.map(\.element)
    }
}
