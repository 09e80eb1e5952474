import Foundation
import XMLStream

extension ConformanceReport {
    /// A self-contained HTML page: the summary, then one row per rule with its verdict (PASS,
    /// FAIL, INCONCLUSIVE, SKIP), spec section, cause, hint and the deciding stanza.
    public var html: String {
        let esc = HTMLReport.esc
        let overall: (String, String) =
            switch verdict {
            case .passed: ("ok", "PASSED")
            case .failed: ("bad", "FAILED")
            case .unverified: ("warn", "NOT VERIFIED")
            }
        var html = """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>jingle-harness conformance: \(esc(target))</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
            .ok{color:#070}.bad{color:#b00}.warn{color:#a60}.skip{color:#666}code{font-size:85%;word-break:break-all}</style></head><body>
            <h1>Conformance of \(esc(target))</h1>
            <p class="\(overall.0)">\(overall.1): \(esc(summary))</p>
            <table><tr><th>verdict</th><th>rule</th><th>spec</th><th>what the target must do</th><th>cause, hint and deciding stanza</th></tr>

            """
        for o in outcomes {
            let style =
                switch o.status {
                case .pass: "ok"
                case .fail: "bad"
                case .inconclusive: "warn"
                case .skip: "skip"
                }
            var notes: [String] = []
            if let cause = o.cause { notes.append("<b>\(esc(cause))</b>" + (o.detail.map { ": \(esc($0))" } ?? "")) }
            if let hint = o.hint { notes.append("hint: \(esc(hint))") }
            if let stanza = o.stanza { notes.append("<code>\(esc(XMLSerializer.serialize(stanza)))</code>") }
            html +=
                "<tr><td class=\"\(style)\">\(o.status.rawValue)</td><td>\(esc(o.rule.id))</td><td>\(esc(o.rule.spec))</td>"
                + "<td>\(esc(o.rule.summary))</td><td>\(notes.joined(separator: "<br>"))</td></tr>\n"
        }
        return html + "</table>\n</body></html>\n"
    }
}
