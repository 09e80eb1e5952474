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

    public init(callNumber: Int, role: Scenario.Role, scenario: String, verdict: CallVerdict, startedAt: Double,
                durationSeconds: Double, measurements: [CallInterpreter.Measurement], kept: [String: XMLElement] = [:],
                transcript: [XMLElement] = [], decidingStanza: XMLElement? = nil) {
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
public struct RunReport: Sendable {
    public var scenario: String
    public var records: [CallRecord]
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

    public init(scenario: String, records: [CallRecord], elapsedSeconds: Double, started: Int, pausedSeconds: Double = 0,
                placingSeconds: Double = 0, stopReason: StopReason? = nil) {
        self.stopReason = stopReason
        self.scenario = scenario
        self.pausedSeconds = pausedSeconds
        self.placingSeconds = placingSeconds
        self.records = records.sorted { ($0.callNumber, $0.role.rawValue) < ($1.callNumber, $1.role.rawValue) }
        self.elapsedSeconds = elapsedSeconds
        self.started = started
    }

    public var succeeded: Int { records.filter(\.verdict.passed).count }
    public var failed: Int { records.count - succeeded }
    /// True when every started call finished and met its scenario.
    public var allPassed: Bool { failed == 0 && records.count == started && started > 0 }

    /// Failures counted by `FailureCause.category`, most frequent first.
    public var failuresByCause: [(cause: String, count: Int)] {
        var counts: [String: Int] = [:]
        for r in records { if case .failed(let c) = r.verdict { counts[c.category, default: 0] += 1 } }
        return counts.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { ($0.key, $0.value) }
    }

    /// Response times per measure name (in order of first appearance), plus `call` for call duration.
    public var steps: [(name: String, summary: SampleSummary)] {
        var order: [String] = []
        var samples: [String: [Double]] = [:]
        for r in records {
            for m in r.measurements {
                if samples[m.name] == nil { order.append(m.name) }
                samples[m.name, default: []].append(m.seconds)
            }
        }
        let durations = records.filter(\.verdict.passed).map(\.durationSeconds)
        return order.map { ($0, SampleSummary(samples: samples[$0] ?? [])) } + [("call", SampleSummary(samples: durations))]
    }

    /// The run's time less the paused time.
    public var activeSeconds: Double { max(0, elapsedSeconds - pausedSeconds) }

    /// Completed calls per second over the run's active (not paused) time, counting initiator legs
    /// when there are any (so a run playing both roles does not count each call twice).
    public var rate: Double {
        let initiators = records.filter { $0.role == .initiator }.count
        return activeSeconds > 0 ? Double(initiators > 0 ? initiators : records.count) / activeSeconds : 0
    }
}
