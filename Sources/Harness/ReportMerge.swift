import Foundation

/// Combines the JSON reports of several `jingle-harness run` processes (each placing its share of
/// the calls against one server) into one report: counts and failures add up, and each step's
/// percentiles come from the merged log-linear histograms the reports carry, so they are what a
/// single process placing all the calls would have reported (within the histograms' 1 %).
///
/// The processes are taken to have run side by side: the merged run lasts as long as the longest
/// of them, and its calls/s is every call over the longest placing (active) time.
public enum ReportMerge {
    public enum MergeError: Error, CustomStringConvertible, Equatable {
        case unreadable(String, String)
        case noHistograms(String, step: String)
        case layout(String, String)
        case empty

        public var description: String {
            switch self {
            case .unreadable(let name, let why): "\(name): not a jingle-harness JSON report: \(why)"
            case .noHistograms(let name, let step):
                "\(name): step '\(step)' carries no log_histogram (a report from an older jingle-harness cannot be merged)"
            case .layout(let name, let why): "\(name): \(why)"
            case .empty: "no reports to merge"
            }
        }
    }

    /// A report read back from `ReportWriters.json`: its totals and times (per-call records and
    /// the step-stair table are not part of the JSON and so not of the result).
    public static func report(fromJSON data: Data, name: String = "report") throws -> RunReport {
        let summary: ReportWriters.JSONSummary
        do { summary = try JSONDecoder().decode(ReportWriters.JSONSummary.self, from: data) } catch {
            throw MergeError.unreadable(name, "\(error)")
        }
        var totals = RunTotals()
        totals.finished = summary.finished
        totals.succeeded = summary.succeeded
        guard let initiators = summary.initiator_finished else {
            throw MergeError.unreadable(name, "no initiator_finished (made by an older jingle-harness)")
        }
        totals.initiatorFinished = initiators
        for f in summary.failures { totals.failures[f.cause, default: 0] += f.count }
        for step in summary.steps {
            guard let histogram = step.log_histogram else { throw MergeError.noHistograms(name, step: step.name) }
            guard step.histogram.map(\.bucket) == Histogram.labels else {
                throw MergeError.layout(
                    name, "step '\(step.name)' has histogram buckets other than \(Histogram.labels.joined(separator: " "))")
            }
            guard histogram.subBuckets == LogHistogram().subBuckets else {
                throw MergeError.layout(
                    name, "step '\(step.name)' has sub_buckets \(histogram.subBuckets), not \(LogHistogram().subBuckets)")
            }
            let statistics = StepStatistics(histogram: histogram, buckets: step.histogram.map(\.count))
            if step.name == "call" {
                totals.callDurations.merge(statistics)
            } else {
                totals.merge(step: step.name, statistics)
            }
        }
        return RunReport(
            scenario: summary.scenario, totals: totals, elapsedSeconds: summary.elapsed_s, started: summary.started,
            pausedSeconds: summary.paused_s, placingSeconds: summary.placing_s)
    }

    /// One report for runs made side by side: counts add, histograms merge; the longest run's
    /// time is the merged time, and the paused time is what leaves the longest active time.
    public static func merge(_ reports: [RunReport]) throws -> RunReport {
        guard let first = reports.first else { throw MergeError.empty }
        var totals = RunTotals()
        var names: [String] = []
        for r in reports {
            totals.merge(r.totals)
            if !names.contains(r.scenario) { names.append(r.scenario) }
        }
        let elapsed = reports.map(\.elapsedSeconds).max() ?? first.elapsedSeconds
        let active = reports.map(\.activeSeconds).max() ?? 0
        return RunReport(
            scenario: names.joined(separator: "+"), totals: totals, elapsedSeconds: elapsed,
            started: reports.reduce(0) { $0 + $1.started }, pausedSeconds: max(0, elapsed - active),
            placingSeconds: reports.map(\.placingSeconds).max() ?? 0)
    }

    /// Reads and merges report files.
    public static func merge(files: [String]) throws -> RunReport {
        try merge(
            files.map { path in
                let data: Data
                do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                    throw MergeError.unreadable(path, error.localizedDescription)
                }
                return try report(fromJSON: data, name: path)
            })
    }
}
