import Foundation
import XMLStream

extension HTMLReport {
    /// The `--stats-interval` rows drawn as time series (inline SVG): calls started, passed and
    /// failed per interval; calls in flight; the call rate and the offered rate; and each
    /// measured step's p50/p90/p99 per interval. Empty without rows.
    public static func timeSeries(_ rows: [IntervalStats]) -> String {
        guard !rows.isEmpty else { return "" }
        let times = rows.map(\.time)
        var html = "<h2>Over time</h2>\n<p>\(rows.count) intervals of \(String(format: "%g", rows[0].intervalSeconds)) s</p>\n"
        html +=
            "<h3>calls per interval</h3>\n"
            + lineChart(
                times: times,
                plain: [
                    ("started", "#4a7ebb", rows.map { Double($0.started) }),
                    ("passed", "#2a8a2a", rows.map { Double($0.passed) }),
                    ("failed", "#c03030", rows.map { Double($0.failed) }),
                ]) + "\n"
        html +=
            "<h3>calls in flight</h3>\n"
            + lineChart(
                times: times,
                plain: [
                    ("in flight", "#7a4abb", rows.map { Double($0.inFlight) })
                ]) + "\n"
        html +=
            "<h3>call rate (calls/s)</h3>\n"
            + lineChart(
                times: times,
                plain: [
                    ("started/s", "#4a7ebb", rows.map(\.rate)),
                    ("target", "#999999", rows.map(\.targetRate)),
                ]) + "\n"
        for (i, name) in (rows.first?.steps.map(\.name) ?? []).enumerated() {
            let steps = rows.map { i < $0.steps.count ? $0.steps[i] : nil }
            guard steps.contains(where: { ($0?.count ?? 0) > 0 }) else { continue }
            func values(_ p: (IntervalStats.Step) -> Double) -> [Double?] {
                steps.map { s in s.flatMap { $0.count > 0 ? p($0) * 1000 : nil } }
            }
            html +=
                "<h3>\(esc(name)) (ms)</h3>\n"
                + lineChart(
                    times: times,
                    series: [
                        ("p50", "#2a8a2a", values(\.p50)), ("p90", "#d08a10", values(\.p90)), ("p99", "#c03030", values(\.p99)),
                    ]) + "\n"
        }
        return html
    }

    /// A line chart of `series` over `times` (seconds); a nil value breaks its line.
    public static func lineChart(times: [Double], series: [(name: String, color: String, values: [Double?])]) -> String {
        let width = 640.0, height = 180.0, left = 50.0, top = 10.0, bottom = 30.0, legend = 110.0
        let maxTime = max(times.max() ?? 1, 1e-9)
        let peak = max(series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0, 0)
        let maxY = peak > 0 ? peak * 1.05 : 1
        func x(_ t: Double) -> Double { left + t / maxTime * width }
        func y(_ v: Double) -> Double { top + height - v / maxY * height }
        func n(_ v: Double) -> String { String(format: "%.1f", v) }
        var out =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + legend))\" height=\"\(Int(top + height + bottom))\" role=\"img\">"
        out += "<line x1=\"\(n(left))\" y1=\"\(n(top + height))\" x2=\"\(n(left + width))\" y2=\"\(n(top + height))\" stroke=\"#888\"/>"
        out += "<line x1=\"\(n(left))\" y1=\"\(n(top))\" x2=\"\(n(left))\" y2=\"\(n(top + height))\" stroke=\"#888\"/>"
        out +=
            "<text x=\"\(n(left - 4))\" y=\"\(n(top + 8))\" font-size=\"10\" text-anchor=\"end\">\(String(format: "%g", (maxY * 100).rounded() / 100))</text>"
        out += "<text x=\"\(n(left - 4))\" y=\"\(n(top + height))\" font-size=\"10\" text-anchor=\"end\">0</text>"
        out += "<text x=\"\(n(left))\" y=\"\(n(top + height + 14))\" font-size=\"10\">0 s</text>"
        out +=
            "<text x=\"\(n(left + width))\" y=\"\(n(top + height + 14))\" font-size=\"10\" text-anchor=\"end\">\(String(format: "%.0f", maxTime)) s</text>"
        for (k, s) in series.enumerated() {
            // One polyline per run of values; a lone point is drawn as a dot.
            var run: [(Double, Double)] = []
            func flush() {
                if run.count == 1 {
                    out += "<circle cx=\"\(n(run[0].0))\" cy=\"\(n(run[0].1))\" r=\"2\" fill=\"\(s.color)\"/>"
                } else if run.count > 1 {
                    out +=
                        "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.5\" points=\""
                        + run.map { "\(n($0.0)),\(n($0.1))" }.joined(separator: " ") + "\"/>"
                }
                run = []
            }
            for (t, v) in zip(times, s.values) {
                if let v { run.append((x(t), y(v))) } else { flush() }
            }
            flush()
            let ly = top + 12 + Double(k) * 14
            out += "<rect x=\"\(n(left + width + 10))\" y=\"\(n(ly - 8))\" width=\"10\" height=\"3\" fill=\"\(s.color)\"/>"
            out += "<text x=\"\(n(left + width + 24))\" y=\"\(n(ly))\" font-size=\"10\">\(esc(s.name))</text>"
        }
        return out + "</svg>"
    }

    static func lineChart(times: [Double], plain series: [(String, String, [Double])]) -> String {
        lineChart(times: times, series: series.map { (name: $0.0, color: $0.1, values: $0.2.map { Optional($0) }) })
    }

    /// The traces written (`--trace-dir`): how many, how many were not, and a table of the
    /// traced calls linking each file (its path as the record has it: the CLI makes it relative
    /// to the report). Empty without traces.
    public static func traces(_ report: RunReport) -> String {
        guard let summary = report.traces else { return "" }
        var html = "<h2>Call traces</h2>\n<p>\(esc(summary.description))</p>\n"
        let traced = report.records.filter { $0.tracePath != nil }
        guard !traced.isEmpty else { return html }
        html += "<table><tr><th>call</th><th>role</th><th>result</th><th>step</th><th>trace</th></tr>"
        for r in traced {
            let result: String =
                switch r.verdict {
                case .passed: "passed"
                case .failed(let cause): cause.category
                }
            let path = r.tracePath ?? ""
            html +=
                "<tr><td>\(r.callNumber)</td><td>\(r.role.rawValue)</td><td style=\"text-align:left\">\(esc(TraceText.oneLine(result)))</td>"
                + "<td style=\"text-align:left\">\(esc(TraceText.oneLine(r.failedStep?.description ?? "")))</td>"
                + "<td style=\"text-align:left\"><a href=\"\(esc(hrefPath(path)))\">\(esc(TraceText.oneLine((path as NSString).lastPathComponent)))</a></td></tr>"
        }
        return html + "</table>\n"
    }

    /// A file path as an href: each segment percent-encoded.
    static func hrefPath(_ path: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return path.split(separator: "/", omittingEmptySubsequences: false)
            .map { String($0).addingPercentEncoding(withAllowedCharacters: allowed) ?? "_" }.joined(separator: "/")
    }
}
