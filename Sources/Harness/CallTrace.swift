import EngineTime
import Foundation
import Jingle
import XMLStream

/// One stanza of a call's trace: which way it went and when (on the runner's clock).
public struct TraceEntry: Sendable, Hashable {
    public enum Direction: String, Sendable, Hashable { case sent, received }
    public var direction: Direction
    public var at: EngineInstant
    public var stanza: XMLElement

    public init(direction: Direction, at: EngineInstant, stanza: XMLElement) {
        self.direction = direction
        self.at = at
        self.stanza = stanza
    }
}

/// The scenario step a call was at when it failed: its index in the compiled program, its line
/// in the scenario file and what it does (`expect iq result + iq set session-accept`).
public struct FailedStep: Sendable, Hashable, CustomStringConvertible {
    public var index: Int
    public var line: Int
    public var summary: String

    public init(index: Int, line: Int, summary: String) {
        self.index = index
        self.line = line
        self.summary = summary
    }

    public init(_ instruction: Instruction, index: Int) {
        self.index = index
        switch instruction {
        case .send(let template, _, _, _, let line):
            self.line = line
            summary = "send " + Self.describe(template)
        case .expect(let group):
            line = group.line
            summary =
                (group.unordered ? "unordered expect " : "expect ")
                + group.expectations.map { $0.summary + ($0.optional ? " (optional)" : "") }.joined(separator: " + ")
        case .pause(let ms, let line):
            self.line = line
            summary = "pause \(ms) ms"
        case .answerIQ(let condition, let jingleCondition, _, let line):
            self.line = line
            summary = "answer-iq " + (condition.map { "error \($0)" + (jingleCondition.map { " (\($0))" } ?? "") } ?? "result")
        case .jump(let label, _, let line):
            self.line = line
            summary = "goto \(label)"
        case .set(let variable, _, let line):
            self.line = line
            summary = "set \(variable)"
        case .loopStart, .loopEnd:
            line = 0
            summary = "loop"
        case .end(let line):
            self.line = line
            summary = "end"
        case .fail(let message, let line):
            self.line = line
            summary = "fail: \(message)"
        }
    }

    /// `#4 expect iq result (line 20)`
    public var description: String { "#\(index + 1) \(summary)" + (line > 0 ? " (line \(line))" : "") }

    /// `iq set session-initiate`, `message jmi:propose`: the stanza a send step builds.
    static func describe(_ template: StanzaTemplate) -> String {
        var parts = [template.name]
        if let type = template.attributes.first(where: { $0.name == "type" })?.value { parts.append(type) }
        for case .element(let child) in template.children {
            if child.namespace == JingleNamespace.jingle, let action = child.attributes.first(where: { $0.name == "action" })?.value {
                parts.append(action)
                break
            }
            if child.namespace == JingleNamespace.jingleMessage {
                parts.append("jmi:\(child.name)")
                break
            }
        }
        return parts.joined(separator: " ")
    }
}

/// Text that came from the network, made safe to print on one line: control characters (C0, DEL,
/// C1), line and paragraph separators and bidirectional controls become `&#xHH;` references, so
/// a stanza can neither start a line of its own nor reorder what is shown. With `ampersands`, `&`
/// becomes `&amp;` first (for plain text; serialised XML has escaped it already).
public enum TraceText {
    public static func oneLine(_ text: String, ampersands: Bool = true) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if ampersands, scalar == "&" {
                out += "&amp;"
            } else if v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029
                || (0x200E...0x200F).contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
            {
                out += "&#x" + String(v, radix: 16, uppercase: true) + ";"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `[A-Za-z0-9._-]` kept, anything else `_`; no leading dot; at most `limit` characters.
    public static func fileNamePart(_ text: String, limit: Int = 64) -> String {
        var out = String(
            text.unicodeScalars.prefix(limit).map { scalar -> Character in
                scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
                    ? Character(scalar) : "_"
            })
        while out.hasPrefix(".") { out.removeFirst() }
        return out.isEmpty ? "_" : out
    }
}

/// Everything a trace file shows about one call.
public struct CallTrace: Sendable {
    public var scenario: String
    public var callNumber: Int
    public var role: Scenario.Role
    public var sid: String?
    public var verdict: CallVerdict
    /// The step the call was at when it failed (nil when it passed, or when only its media failed).
    public var failedStep: FailedStep?
    public var decidingStanza: XMLElement?
    /// Stanzas both ways, in order (the first and the last when there were too many).
    public var entries: [TraceEntry]
    /// Stanzas left out of `entries` (after the first half of `CallInterpreter.transcriptLimit`).
    public var omitted: Int
    /// When the call started, on the runner's clock.
    public var startedAt: EngineInstant
    /// The wall-clock time (seconds since 1970) of the runner clock's zero, if known.
    public var wallClockOrigin: Double?

    public init(
        scenario: String, callNumber: Int, role: Scenario.Role, sid: String?, verdict: CallVerdict,
        failedStep: FailedStep?, decidingStanza: XMLElement?, entries: [TraceEntry], omitted: Int,
        startedAt: EngineInstant, wallClockOrigin: Double?
    ) {
        self.scenario = scenario
        self.callNumber = callNumber
        self.role = role
        self.sid = sid
        self.verdict = verdict
        self.failedStep = failedStep
        self.decidingStanza = decidingStanza
        self.entries = entries
        self.omitted = omitted
        self.startedAt = startedAt
        self.wallClockOrigin = wallClockOrigin
    }

    /// The trace of the call `interpreter` played, ended with `verdict` (the interpreter's, or a
    /// media failure found afterwards).
    public init(_ interpreter: CallInterpreter, verdict: CallVerdict, wallClockOrigin: Double?) {
        self.init(
            scenario: interpreter.scenario.name,
            callNumber: interpreter.variables["call_number"].flatMap(Int.init) ?? 0,
            role: interpreter.scenario.role, sid: interpreter.variables["sid"], verdict: verdict,
            failedStep: interpreter.failedStep, decidingStanza: interpreter.decidingStanza,
            entries: interpreter.trace, omitted: interpreter.traceOmitted, startedAt: interpreter.startedAt,
            wallClockOrigin: wallClockOrigin)
    }

    /// `caller-12-jh12-abc.trace.txt`, every part sanitised.
    public var fileName: String {
        ([scenario, String(callNumber)] + (sid.map { [$0] } ?? [])).map { TraceText.fileNamePart($0) }
            .joined(separator: "-") + ".trace.txt"
    }

    /// The trace as text. Every line is ours: header lines `key: value`, one line per stanza
    /// heading (`#3 +0.012 s 2026-12-06T23:50:01.135Z received`) and the stanza itself on the
    /// next line, indented, with anything that could break the line escaped (`TraceText`).
    public func render() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func wall(_ t: EngineInstant) -> String {
            wallClockOrigin.map { " " + formatter.string(from: Date(timeIntervalSince1970: $0 + t.inSeconds)) } ?? ""
        }
        func text(_ s: String) -> String { TraceText.oneLine(s) }
        func stanza(_ e: XMLElement) -> String { "  " + TraceText.oneLine(XMLSerializer.serialize(e), ampersands: false) }
        let label: String = if case .failed(let cause) = verdict { ReportWriters.decidingLabel(cause) } else { "deciding stanza" }
        let decidingIndex = decidingStanza.flatMap { d in entries.lastIndex { $0.direction == .received && $0.stanza == d } }

        var lines = ["jingle-harness call trace"]
        lines.append("scenario: \(text(scenario))")
        lines.append("call: \(callNumber) (\(role.rawValue))")
        lines.append("sid: \(text(sid ?? "-"))")
        lines.append("started:\(wall(startedAt)) (run +\(String(format: "%.3f", startedAt.inSeconds)) s)")
        switch verdict {
        case .passed: lines.append("verdict: PASSED")
        case .failed(let cause): lines.append("verdict: FAILED \(text(cause.category)): \(text(cause.description))")
        }
        if case .failed = verdict {
            lines.append("failed step: " + (failedStep.map { text($0.description) } ?? "none (the scenario ended; the media plane failed)"))
        }
        lines.append(
            "\(label): "
                + (decidingIndex.map { "#\(entryNumber($0)) (shown again at the end)" }
                    ?? (decidingStanza == nil ? "none" : "not among the stanzas kept (shown at the end)")))
        lines.append("stanzas: \(entries.count + omitted)" + (omitted > 0 ? " (\(omitted) in the middle not kept)" : ""))
        lines.append("")
        for (i, entry) in entries.enumerated() {
            if omitted > 0, i == CallInterpreter.transcriptLimit / 2 {
                lines.append("... \(omitted) stanzas not kept ...")
            }
            lines.append(
                String(format: "#%d +%.3f s", entryNumber(i), (entry.at - startedAt).inSeconds) + wall(entry.at)
                    + " " + entry.direction.rawValue + (i == decidingIndex ? " (deciding)" : ""))
            lines.append(stanza(entry.stanza))
        }
        if let decidingStanza {
            lines.append("")
            lines.append("\(label):")
            lines.append(stanza(decidingStanza))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The number of entry `i` counting the stanzas left out before it.
    private func entryNumber(_ i: Int) -> Int {
        omitted > 0 && i >= CallInterpreter.transcriptLimit / 2 ? i + omitted + 1 : i + 1
    }
}

/// How the traces of a run went: how many were written, and how many calls that should have had
/// one got none (beyond `--max-traces`, or the file could not be written).
public struct TraceSummary: Sendable, Hashable {
    public var directory: String
    public var maxTraces: Int
    /// Passed calls were traced too (`--trace-all`).
    public var all: Bool
    public var written: Int
    /// Calls not traced because `maxTraces` had been written.
    public var dropped: Int
    /// Calls whose trace file could not be written, and the first error.
    public var failedWrites: Int
    public var firstError: String?

    /// `traces: 3 written to out/traces, 2 not written (--max-traces 3)`
    public var description: String {
        var s = "traces: \(written) written to \(directory)"
        if dropped > 0 { s += ", \(dropped) not written (--max-traces \(maxTraces))" }
        if failedWrites > 0 { s += ", \(failedWrites) could not be written (\(firstError ?? "?"))" }
        return s
    }
}

/// Writes the traces of failed calls (or of every call, with `all`) into `directory`, one file
/// per call, at most `maxTraces` of them. Safe to call from any thread.
public final class TraceWriter: @unchecked Sendable {
    public let directory: String
    public let maxTraces: Int
    public let all: Bool
    private let lock = NSLock()
    private var state: TraceSummary

    public init(directory: String, maxTraces: Int = 100, all: Bool = false) {
        self.directory = directory
        self.maxTraces = maxTraces
        self.all = all
        state = TraceSummary(directory: directory, maxTraces: maxTraces, all: all, written: 0, dropped: 0, failedWrites: 0)
    }

    /// Creates the directory (and its parents) when missing.
    public func createDirectory() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Writes the trace of a finished call if it is to be traced and the limit allows; returns
    /// the file's path when written.
    @discardableResult
    public func write(_ trace: CallTrace) -> String? {
        if trace.verdict.passed, !all { return nil }
        lock.lock()
        guard state.written < maxTraces else {
            state.dropped += 1
            lock.unlock()
            return nil
        }
        state.written += 1
        lock.unlock()
        let path = (directory as NSString).appendingPathComponent(trace.fileName)
        do {
            try Data(trace.render().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            return path
        } catch {
            lock.lock()
            state.written -= 1
            state.failedWrites += 1
            if state.firstError == nil { state.firstError = "\(path): \(error.localizedDescription)" }
            lock.unlock()
            return nil
        }
    }

    public var summary: TraceSummary {
        lock.lock()
        defer { lock.unlock() }
        return state
    }
}
