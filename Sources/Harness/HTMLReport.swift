import Foundation
import XMLStream

/// A self-contained HTML report: totals, failure causes, and per-step percentiles with the
/// histograms drawn as inline SVG (no scripts, no external files).
public enum HTMLReport {
    public static func render(_ report: RunReport) -> String {
        var html = """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>jingle-harness: \(esc(report.scenario))</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}
            th:first-child,td:first-child{text-align:left}.ok{color:#070}.bad{color:#b00}</style></head><body>
            <h1>\(esc(report.scenario))</h1>
            <p class="\(report.allPassed ? "ok" : "bad")">\(report.allPassed ? "PASSED" : "FAILED"): \(report.started) started,
            \(report.finished) finished, \(report.succeeded) passed, \(report.failed) failed in
            \(String(format: "%.1f", report.elapsedSeconds)) s\(report.pausedSeconds > 0 ? String(format: ", %.1f s paused", report.pausedSeconds) : "")
            (\(String(format: "%.1f", report.rate)) calls/s)</p>
            \(report.stopReason.map { "<p>stopped: \(esc($0.description))</p>" } ?? "")

            """
        if !report.failuresByCause.isEmpty {
            html += "<h2>Failures by cause</h2><table><tr><th>cause</th><th>calls</th></tr>"
            for f in report.failuresByCause { html += "<tr><td>\(esc(f.cause))</td><td>\(f.count)</td></tr>" }
            html += "</table>\n"
        }
        html +=
            "<h2>Response times</h2><table><tr><th>step</th><th>count</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>max ms</th></tr>"
        for (name, s) in report.steps {
            html +=
                "<tr><td>\(esc(name))</td><td>\(s.count)</td>"
                + [s.p50, s.p90, s.p99, s.max]
                .map { "<td>\(String(format: "%.1f", $0 * 1000))</td>" }.joined() + "</tr>"
        }
        html += "</table>\n"
        if let capacity = report.capacity { html += capacity.htmlTable }
        html += timeSeries(report.intervals) + traces(report)
        for (name, s) in report.steps where s.count > 0 {
            html += "<h3>\(esc(name))</h3>\n" + svg(s.histogram) + "\n"
        }
        return html + "</body></html>\n"
    }

    /// A bar chart of histogram counts with the bucket labels under the bars.
    public static func svg(_ counts: [Int]) -> String {
        let barWidth = 58, height = 160, top = 20, bottom = 40
        let width = counts.count * barWidth + 20
        let peak = max(counts.max() ?? 0, 1)
        let labels = Histogram.labels
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height + top + bottom)\" role=\"img\">"
        for (i, count) in counts.enumerated() {
            let h = count * height / peak
            let x = 10 + i * barWidth
            out +=
                "<rect x=\"\(x + 4)\" y=\"\(top + height - h)\" width=\"\(barWidth - 8)\" height=\"\(h)\" fill=\"#4a7ebb\"><title>\(count)</title></rect>"
            out += "<text x=\"\(x + barWidth / 2)\" y=\"\(top + height - h - 4)\" font-size=\"10\" text-anchor=\"middle\">\(count)</text>"
            let label = i < labels.count ? labels[i] : ""
            out += "<text x=\"\(x + barWidth / 2)\" y=\"\(top + height + 14)\" font-size=\"9\" text-anchor=\"middle\">\(esc(label))</text>"
        }
        return out + "</svg>"
    }

    static func esc(_ s: String) -> String { XMLSerializer.escapeText(s).replacingOccurrences(of: "\"", with: "&quot;") }
}
