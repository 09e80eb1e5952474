import Foundation

/// A step-stair run in the JSON report: the options, each step and the capacity found.
struct CapacityJSON: Codable {
    struct Step: Codable {
        var rate_cps: Double
        var placed, finished, failed: Int
        var failure_pct: Double
        var setup_p99_ms: Double?
        var good: Bool
    }
    var rate_increase_cps: Double
    var every_s: Double
    var rate_max_cps: Double
    var stop_on_fail_pct: Double?
    var p99_bound_ms: Double?
    var setup_step: String
    /// The highest rate at which every call passed (and the setup p99 kept within the bound).
    var last_good_rate_cps: Double?
    var first_bad_rate_cps: Double?
    var steps: [Step]

    init(_ c: CapacityReport) {
        let r = ReportWriters.round3
        rate_increase_cps = c.options.increase
        every_s = c.options.everySeconds
        rate_max_cps = c.options.maxRate
        stop_on_fail_pct = c.options.stopOnFailPercent
        p99_bound_ms = c.options.p99BoundSeconds.map { r($0 * 1000) }
        setup_step = c.options.setupStep
        last_good_rate_cps = c.lastGoodRate
        first_bad_rate_cps = c.firstBadRate
        steps = c.steps.map {
            Step(
                rate_cps: $0.rate, placed: $0.placed, finished: $0.finished, failed: $0.failed,
                failure_pct: r($0.failurePercent), setup_p99_ms: $0.p99Setup.map { r($0 * 1000) }, good: c.isGood($0))
        }
    }
}

extension CapacityReport {
    private var verdictLine: String {
        let bound = options.p99BoundSeconds.map { String(format: " and %@ p99 <= %.0f ms", options.setupStep, $0 * 1000) } ?? ""
        guard let good = lastGoodRate else { return "capacity: no step had every call pass\(bound)" }
        return String(format: "capacity: %.1f calls/s (the highest step at which every call passed%@)", good, bound)
    }

    /// Lines for the terminal summary: one per step, then the capacity found.
    var textLines: [String] {
        var lines = ["stair step   rate/s   placed   failed  fail%  \(options.setupStep) p99ms"]
        for (i, s) in steps.enumerated() {
            lines.append(
                String(
                    format: "%10d %8.1f %8d %8d %6.1f %8@%@", i + 1, s.rate, s.placed, s.failed, s.failurePercent,
                    s.p99Setup.map { String(format: "%.1f", $0 * 1000) } ?? "-", isGood(s) ? "" : "  not good"))
        }
        lines.append(verdictLine)
        return lines
    }

    /// The steps as an HTML table, and the capacity found.
    var htmlTable: String {
        var html = "<h2>Capacity (step stair)</h2><p>\(HTMLReport.esc(verdictLine))</p>"
        html +=
            "<table><tr><th>step</th><th>rate/s</th><th>placed</th><th>failed</th><th>fail %</th><th>\(HTMLReport.esc(options.setupStep)) p99 ms</th><th>good</th></tr>"
        for (i, s) in steps.enumerated() {
            html +=
                "<tr><td>\(i + 1)</td><td>\(String(format: "%.1f", s.rate))</td><td>\(s.placed)</td><td>\(s.failed)</td>"
                + "<td>\(String(format: "%.1f", s.failurePercent))</td><td>\(s.p99Setup.map { String(format: "%.1f", $0 * 1000) } ?? "-")</td>"
                + "<td class=\"\(isGood(s) ? "ok" : "bad")\">\(isGood(s) ? "yes" : "no")</td></tr>"
        }
        return html + "</table>\n"
    }
}
