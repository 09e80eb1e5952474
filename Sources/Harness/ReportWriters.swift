import Foundation
import XMLStream

/// The machine-readable outputs of a run: per-call CSV, a JSON summary, and JUnit XML with one
/// test case per call (so CI shows which calls failed and why).
public enum ReportWriters {
    /// One row per call: `call,role,scenario,result,cause,detail,duration_ms`, then one column per measure.
    public static func csv(_ report: RunReport) -> String {
        let names = report.steps.map(\.name).filter { $0 != "call" }
        var lines = [
            (["call", "role", "scenario", "result", "cause", "detail", "duration_ms"] + names.map { "\($0)_ms" })
                .map(csvField).joined(separator: ",")
        ]
        for r in report.records {
            var row = [String(r.callNumber), r.role.rawValue, r.scenario]
            switch r.verdict {
            case .passed: row += ["passed", "", ""]
            case .failed(let cause): row += ["failed", cause.category, cause.description]
            }
            row.append(ms(r.durationSeconds))
            for name in names { row.append(r.measurements.first { $0.name == name }.map { ms($0.seconds) } ?? "") }
            lines.append(row.map(csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    struct JSONSummary: Codable {
        struct Step: Codable {
            var name: String
            var count: Int
            var p50_ms, p90_ms, p95_ms, p99_ms, max_ms, mean_ms: Double
            var histogram: [Bucket]
            /// The step's log-linear histogram, for `jingle-harness merge` (absent in older reports).
            var log_histogram: LogHistogram?
        }
        struct Bucket: Codable { var bucket: String; var count: Int }
        struct Failure: Codable { var cause: String; var count: Int }
        var scenario: String
        var elapsed_s: Double
        var paused_s: Double
        var placing_s: Double
        var started, finished, succeeded, failed: Int
        var rate_cps: Double
        var passed: Bool
        /// What stopped placing calls: `calls`, `duration`, `max-failures` or `interrupted`.
        var stopped_by: String?
        /// The same in words: `--calls 100 reached`.
        var stopped: String?
        var steps: [Step]
        var failures: [Failure]
        /// Initiator legs finished (the calls/s counts them); for `jingle-harness merge`.
        var initiator_finished: Int?
        /// Passed and failed calls not kept for per-call output (their statistics are counted).
        var records_dropped: Int?
        /// A step-stair run's steps and the capacity found.
        var capacity: CapacityJSON?
        /// With `--trace-dir`: traces written and not written.
        var traces: TracesJSON?
    }

    public static func json(_ report: RunReport) -> String {
        let summary = JSONSummary(
            scenario: report.scenario, elapsed_s: round3(report.elapsedSeconds), paused_s: round3(report.pausedSeconds),
            placing_s: round3(report.placingSeconds),
            started: report.started,
            finished: report.finished, succeeded: report.succeeded, failed: report.failed,
            rate_cps: round3(report.rate), passed: report.allPassed,
            stopped_by: report.stopReason?.key, stopped: report.stopReason?.description,
            steps: report.steps.map { step in
                let s = step.summary
                return .init(
                    name: step.name, count: s.count, p50_ms: round3(s.p50 * 1000), p90_ms: round3(s.p90 * 1000),
                    p95_ms: round3(s.p95 * 1000),
                    p99_ms: round3(s.p99 * 1000), max_ms: round3(s.max * 1000), mean_ms: round3(s.mean * 1000),
                    histogram: zip(Histogram.labels, s.histogram).map { JSONSummary.Bucket(bucket: $0, count: $1) },
                    log_histogram: step.name == "call"
                        ? report.totals.callDurations.histogram
                        : report.totals.steps[step.name]?.histogram)
            },
            failures: report.failuresByCause.map { .init(cause: $0.cause, count: $0.count) },
            initiator_finished: report.totals.initiatorFinished,
            records_dropped: max(0, report.finished - report.records.count),
            capacity: report.capacity.map(CapacityJSON.init),
            traces: report.traces.map(TracesJSON.init))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = (try? encoder.encode(summary)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    public static func junit(_ report: RunReport) -> String {
        var suite = junitSuite(report, tests: report.records.count, failures: report.failed)
        for r in report.records { suite.append(junitTestCase(r)) }
        let suites = XMLElement("testsuites", namespace: "", children: [suite])
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + XMLSerializer.serialize(suites) + "\n"
    }

    /// The `<testsuite>` of a run, with its properties and no test cases yet.
    static func junitSuite(_ report: RunReport, tests: Int, failures: Int) -> XMLElement {
        var suite = XMLElement(
            "testsuite", namespace: "",
            [
                "name": report.scenario, "tests": String(tests), "failures": String(failures),
                "errors": "0", "time": String(format: "%.3f", report.elapsedSeconds),
            ])
        let properties =
            (report.stopReason.map { [("stopped", $0.description)] } ?? [])
            + (report.traces.map { [("traces", $0.description)] } ?? [])
        if !properties.isEmpty {
            suite.append(
                XMLElement(
                    "properties", namespace: "",
                    children: properties.map {
                        XMLElement("property", namespace: "", ["name": $0.0, "value": $0.1])
                    }))
        }
        return suite
    }

    /// One call's `<testcase>` (with its `<failure>` when it failed).
    static func junitTestCase(_ r: CallRecord) -> XMLElement {
        var testcase = XMLElement(
            "testcase", namespace: "",
            [
                "classname": "jingle-harness.\(r.scenario)", "name": "call \(r.callNumber) (\(r.role.rawValue))",
                "time": String(format: "%.3f", r.durationSeconds),
            ])
        if case .failed(let cause) = r.verdict {
            testcase.append(junitFailure(r, cause))
        }
        return testcase
    }

    /// The live line: `12s started 240 ok 236 failed 1 in-flight 3 rate 20.0/s`, then the offered
    /// rate (`target 20.0/s`) when known, `PAUSED` while placing calls is paused, and once placing
    /// has stopped what stopped it (`stopped: --calls 100 reached`) while calls in flight drain.
    public static func liveLine(
        elapsed: Double, started: Int, succeeded: Int, failed: Int, inFlight: Int, rate: Double,
        target: Double? = nil, paused: Bool = false, stopped: StopReason? = nil
    ) -> String {
        var line = String(
            format: "%5.0fs started %d ok %d failed %d in-flight %d rate %.1f/s", elapsed, started, succeeded,
            failed, inFlight, rate)
        if let target, stopped == nil { line += String(format: " target %.1f/s", target) }
        if paused { line += " PAUSED" }
        if let stopped { line += " stopped: \(stopped)" }
        return line
    }

    /// The final summary printed to the terminal.
    public static func text(_ report: RunReport) -> String {
        let paused = report.pausedSeconds > 0 ? String(format: ", %.1f s paused", report.pausedSeconds) : ""
        var lines = [
            String(
                format: "%@: %d call legs started, %d finished, %d passed, %d failed in %.1f s%@ (%.1f calls/s)",
                report.scenario, report.started, report.finished, report.succeeded, report.failed,
                report.elapsedSeconds, paused, report.rate)
        ]
        lines.append("step                          count    p50ms    p90ms    p99ms    maxms")
        for (name, s) in report.steps where s.count > 0 {
            lines.append(
                String(
                    format: "%-28@ %6d %8.1f %8.1f %8.1f %8.1f", name.padding(toLength: 28, withPad: " ", startingAt: 0),
                    s.count, s.p50 * 1000, s.p90 * 1000, s.p99 * 1000, s.max * 1000))
        }
        for f in report.failuresByCause { lines.append("failed: \(f.count) x \(f.cause)") }
        if let reason = report.stopReason { lines.append("stopped: \(reason)") }
        if let capacity = report.capacity { lines += capacity.textLines }
        if let traces = report.traces { lines.append(traces.description) }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }

    static func ms(_ seconds: Double) -> String { String(format: "%.3f", seconds * 1000) }
    static func round3(_ x: Double) -> Double { (x * 1000).rounded() / 1000 }
}
