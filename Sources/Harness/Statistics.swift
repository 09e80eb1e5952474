import XMLStream

/// Summary of many samples: count, percentiles (nearest rank) and a fixed-bucket histogram.
public struct SampleSummary: Sendable, Hashable {
    public var count: Int
    public var p50: Double
    public var p90: Double
    public var p95: Double
    public var p99: Double
    public var max: Double
    public var mean: Double
    /// Counts per bucket of `Histogram.boundsMS` (the last bucket is everything above).
    public var histogram: [Int]

    public init(samples: [Double]) {
        let sorted = samples.sorted()
        count = sorted.count
        p50 = Self.percentile(sorted, 50)
        p90 = Self.percentile(sorted, 90)
        p95 = Self.percentile(sorted, 95)
        p99 = Self.percentile(sorted, 99)
        max = sorted.last ?? 0
        mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
        histogram = Histogram.counts(sorted)
    }

    /// The summary of a step's statistics: count, min/max/mean exact, percentiles from the
    /// log-linear histogram (within 1 % of the exact nearest-rank value).
    public init(_ statistics: StepStatistics) {
        let h = statistics.histogram
        count = h.count
        p50 = h.percentile(50)
        p90 = h.percentile(90)
        p95 = h.percentile(95)
        p99 = h.percentile(99)
        max = h.max
        mean = h.mean
        histogram = statistics.buckets
    }

    /// Nearest-rank percentile of ascending `sorted`: the smallest value with at least p% at or below it.
    public static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]
    }
}

/// Histogram buckets for response times, in milliseconds: a sample goes in the first bucket whose
/// upper bound is at least it; the extra last bucket holds the rest.
public enum Histogram {
    public static let boundsMS: [Double] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000]

    /// Bucket labels: `<=1ms`, ..., `>10000ms`.
    public static var labels: [String] {
        boundsMS.map { "<=\(Int($0))ms" } + [">\(Int(boundsMS.last ?? 0))ms"]
    }

    /// Counts for samples given in seconds.
    public static func counts(_ samplesSeconds: [Double]) -> [Int] {
        var counts = [Int](repeating: 0, count: boundsMS.count + 1)
        for s in samplesSeconds {
            let ms = s * 1000
            counts[boundsMS.firstIndex { ms <= $0 } ?? boundsMS.count] += 1
        }
        return counts
    }
}

/// The record of one finished call.
public struct CallRecord: Sendable, Hashable {
    public var callNumber: Int
    public var role: Scenario.Role
    public var scenario: String
    public var verdict: CallVerdict
    public var startedAt: Double
    public var durationSeconds: Double
    public var measurements: [CallInterpreter.Measurement]
    /// Stanzas kept by name, the received transcript and the deciding stanza (see `CallInterpreter`).
    public var kept: [String: XMLElement]
    public var transcript: [XMLElement]
    public var decidingStanza: XMLElement?
    /// The step a failed call was at when it failed (see `CallInterpreter.failedStep`).
    public var failedStep: FailedStep? = nil
    /// The call's trace file, when one was written (`--trace-dir`).
    public var tracePath: String? = nil

    public init(
        callNumber: Int, role: Scenario.Role, scenario: String, verdict: CallVerdict, startedAt: Double,
        durationSeconds: Double, measurements: [CallInterpreter.Measurement], kept: [String: XMLElement] = [:],
        transcript: [XMLElement] = [], decidingStanza: XMLElement? = nil
    ) {
        self.kept = kept
        self.transcript = transcript
        self.decidingStanza = decidingStanza
        self.callNumber = callNumber
        self.role = role
        self.scenario = scenario
        self.verdict = verdict
        self.startedAt = startedAt
        self.durationSeconds = durationSeconds
        self.measurements = measurements
    }
}

/// Everything a run produced, and the derived statistics the reports print.
///
/// The statistics come from `totals`, kept call by call in bounded memory. `records` holds the
/// calls a `LoadRunner` kept (see `RecordRetention`: by default the first 1000 passed calls
/// without their transcripts and the first 1000 failed ones), so a long run's report does not
/// grow with it; a report made from records alone counts all of them.
public struct RunReport: Sendable {
    public var scenario: String
    public var records: [CallRecord]
    /// Counts, failures by cause and per-step histograms of every finished call.
    public var totals: RunTotals
    /// With a step-stair run (`--rate-increase`), each step and the capacity found.
    public var capacity: CapacityReport?
    public var elapsedSeconds: Double
    /// Calls that were started (by an initiator) or received (by a responder).
    public var started: Int
    /// Time placing calls was paused (part of `elapsedSeconds`).
    public var pausedSeconds: Double
    /// Time spent placing calls, pauses left out: from the first call to the moment placing
    /// ended (the total, the duration or a stop), before the calls in flight drained.
    public var placingSeconds: Double
    /// What stopped the placing of calls (nil for a report not made by `LoadRunner`).
    public var stopReason: StopReason?
    /// One row per `--stats-interval` (empty without it).
    public var intervals: [IntervalStats] = []
    /// How the call traces went (nil without `--trace-dir`).
    public var traces: TraceSummary? = nil

    public init(
        scenario: String, records: [CallRecord], elapsedSeconds: Double, started: Int, pausedSeconds: Double = 0,
        placingSeconds: Double = 0, stopReason: StopReason? = nil
    ) {
        var totals = RunTotals()
        for r in records.sorted(by: { ($0.callNumber, $0.role.rawValue) < ($1.callNumber, $1.role.rawValue) }) { totals.add(r) }
        self.init(
            scenario: scenario, totals: totals, records: records, elapsedSeconds: elapsedSeconds, started: started,
            pausedSeconds: pausedSeconds, placingSeconds: placingSeconds, stopReason: stopReason)
    }

    /// A report whose statistics are `totals`; `records` are the calls kept for per-call output.
    public init(
        scenario: String, totals: RunTotals, records: [CallRecord] = [], elapsedSeconds: Double, started: Int,
        pausedSeconds: Double = 0, placingSeconds: Double = 0, stopReason: StopReason? = nil,
        capacity: CapacityReport? = nil
    ) {
        self.totals = totals
        self.capacity = capacity
        self.stopReason = stopReason
        self.scenario = scenario
        self.pausedSeconds = pausedSeconds
        self.placingSeconds = placingSeconds
        self.records = records.sorted { ($0.callNumber, $0.role.rawValue) < ($1.callNumber, $1.role.rawValue) }
        self.elapsedSeconds = elapsedSeconds
        self.started = started
    }

    public var succeeded: Int { totals.succeeded }
    public var failed: Int { totals.failed }
    /// Call legs that finished (passed or failed).
    public var finished: Int { totals.finished }
    /// True when every started call finished and met its scenario.
    public var allPassed: Bool { failed == 0 && finished == started && started > 0 }

    /// Failures counted by `FailureCause.category`, most frequent first.
    public var failuresByCause: [(cause: String, count: Int)] {
        totals.failures.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { ($0.key, $0.value) }
    }

    /// Response times per measure name (in order of first appearance), plus `call` for call duration.
    public var steps: [(name: String, summary: SampleSummary)] { totals.summaries }

    /// The run's time less the paused time.
    public var activeSeconds: Double { max(0, elapsedSeconds - pausedSeconds) }

    /// Completed calls per second over the run's active (not paused) time, counting initiator legs
    /// when there are any (so a run playing both roles does not count each call twice).
    public var rate: Double {
        let initiators = totals.initiatorFinished
        return activeSeconds > 0 ? Double(initiators > 0 ? initiators : finished) / activeSeconds : 0
    }
}
