import Foundation
import XMLStream

extension ReportWriters {
    /// The traces part of the JSON summary.
    struct TracesJSON: Codable {
        var directory: String
        var written: Int
        /// Failed calls not traced because `--max-traces` had been written.
        var dropped: Int
        var max_traces: Int
        var all: Bool
        var failed_writes: Int
        var first_error: String?

        init(_ s: TraceSummary) {
            directory = s.directory
            written = s.written
            dropped = s.dropped
            max_traces = s.maxTraces
            all = s.all
            failed_writes = s.failedWrites
            first_error = s.firstError
        }
    }

    /// The text of a JUnit `<failure>`: the step the call failed at, its trace file, and the
    /// deciding stanza (or, for a timeout, the last one matched), each on its own line with
    /// anything from the network escaped (`TraceText`).
    public static func failureDetail(_ record: CallRecord) -> String? {
        guard case .failed(let cause) = record.verdict else { return nil }
        var lines: [String] = []
        if let step = record.failedStep { lines.append("step: " + TraceText.oneLine(step.description)) }
        if let path = record.tracePath { lines.append("trace: " + TraceText.oneLine(path)) }
        if let stanza = record.decidingStanza {
            lines.append(decidingLabel(cause) + ": " + TraceText.oneLine(XMLSerializer.serialize(stanza), ampersands: false))
        }
        return lines.isEmpty ? nil : lines.joined(separator: "\n")
    }

    /// A failed call's JUnit `<failure>`: the cause's category as type, its description as
    /// message, and `failureDetail` as text.
    public static func junitFailure(_ record: CallRecord, _ cause: FailureCause) -> XMLElement {
        var failure = XMLElement(
            "failure", namespace: "", ["type": cause.category, "message": TraceText.oneLine(cause.description, ampersands: false)])
        if let detail = failureDetail(record) { failure.append(text: detail) }
        return failure
    }

    /// `deciding stanza`, or for a timeout (where no stanza decided) `last stanza matched`.
    static func decidingLabel(_ cause: FailureCause) -> String {
        if case .timeout = cause { "last stanza matched" } else { "deciding stanza" }
    }

    /// `relative` from directory `from` to `path` (both made absolute against the current
    /// directory), with `..` as needed: how a report links a file written beside it.
    public static func relativePath(_ path: String, from directory: String) -> String {
        func parts(_ p: String) -> [String] {
            let absolute = p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
            var out: [String] = []
            for part in absolute.split(separator: "/").map(String.init) {
                switch part {
                case "", ".": continue
                case "..": if !out.isEmpty { out.removeLast() }
                default: out.append(part)
                }
            }
            return out
        }
        let target = parts(path), base = parts(directory)
        var common = 0
        while common < min(target.count, base.count), target[common] == base[common] { common += 1 }
        let up = Array(repeating: "..", count: base.count - common)
        let rest = (up + target[common...]).joined(separator: "/")
        return rest.isEmpty ? "." : rest
    }
}
