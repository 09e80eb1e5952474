import Foundation
import XMLStream

/// The results of a conformance run: one outcome per rule, printable as text, JSON and JUnit XML.
public struct ConformanceReport: Sendable {
    public var target: String
    public var outcomes: [RuleOutcome]
    public var elapsedSeconds: Double

    public init(target: String, outcomes: [RuleOutcome], elapsedSeconds: Double) {
        self.target = target
        self.outcomes = outcomes
        self.elapsedSeconds = elapsedSeconds
    }

    public var passed: Int { outcomes.filter { $0.status == .pass }.count }
    public var failed: Int { outcomes.filter { $0.status == .fail }.count }
    public var skipped: Int { outcomes.filter { $0.status == .skip }.count }
    public var inconclusive: Int { outcomes.filter { $0.status == .inconclusive }.count }
    /// No rule failed and at least one passed (skipped and inconclusive rules are listed, not
    /// counted as failures).
    public var allPassed: Bool { failed == 0 && passed > 0 }

    /// How the run ended, for the exit status: a rule failed; none failed and at least one
    /// passed; or none failed but none passed either (every rule skipped or inconclusive:
    /// nothing was verified).
    public enum Verdict: Sendable, Hashable { case passed, failed, unverified }

    public var verdict: Verdict { failed > 0 ? .failed : passed > 0 ? .passed : .unverified }

    /// `conformance of JID: 13 passed, 0 failed, 1 skipped, 2 inconclusive in 9.5 s`.
    public var summary: String {
        String(
            format: "conformance of %@: %d passed, %d failed, %d skipped, %d inconclusive in %.1f s",
            target, passed, failed, skipped, inconclusive, elapsedSeconds)
    }

    public func outcome(_ id: String) -> RuleOutcome? { outcomes.first { $0.rule.id == id } }

    /// `PASS xep0166-unknown-session  XEP-0166 §7.2.11, §10  summary`, then the cause and the
    /// deciding stanza, indented.
    public static func line(_ o: RuleOutcome, stanzas: Bool = true) -> String {
        var text = "\(o.status.rawValue) \(o.rule.id.padding(toLength: 32, withPad: " ", startingAt: 0)) \(o.rule.spec): \(o.rule.summary)"
        if let cause = o.cause { text += "\n     cause: \(cause)" + (o.detail.map { " (\($0))" } ?? "") }
        if let hint = o.hint { text += "\n     hint: \(hint)" }
        if stanzas {
            if let stanza = o.stanza {
                text += "\n     stanza: " + XMLSerializer.serialize(stanza)
            } else if o.status != .skip {
                text += "\n     stanza: none (nothing arrived)"
            }
        }
        return text
    }

    public var text: String {
        var lines = outcomes.map { Self.line($0) }
        lines.append(summary)
        return lines.joined(separator: "\n") + "\n"
    }

    struct JSONRule: Codable {
        var id, spec, summary, status: String
        var cause, detail, stanza, hint: String?
    }

    struct JSONReport: Codable {
        var target: String
        var passed, failed, skipped, inconclusive: Int
        var elapsed_s: Double
        var rules: [JSONRule]
    }

    public var json: String {
        let report = JSONReport(
            target: target, passed: passed, failed: failed, skipped: skipped, inconclusive: inconclusive,
            elapsed_s: (elapsedSeconds * 1000).rounded() / 1000,
            rules: outcomes.map {
                JSONRule(
                    id: $0.rule.id, spec: $0.rule.spec, summary: $0.rule.summary, status: $0.status.rawValue,
                    cause: $0.cause, detail: $0.detail, stanza: $0.stanza.map { XMLSerializer.serialize($0) },
                    hint: $0.hint)
            })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: (try? encoder.encode(report)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
    }

    /// One test case per rule; a failure carries the cause and the deciding stanza, a skipped rule
    /// `<skipped/>`, an inconclusive one `<skipped message="INCONCLUSIVE: what happened; hint: ..."/>`
    /// (JUnit has no such verdict; skipped is what CI shows as neither passed nor failed).
    public var junit: String {
        var suite = XMLElement(
            "testsuite", namespace: "",
            [
                "name": "jingle-conformance \(target)", "tests": String(outcomes.count), "failures": String(failed),
                "skipped": String(skipped + inconclusive), "errors": "0", "time": String(format: "%.3f", elapsedSeconds),
            ])
        for o in outcomes {
            var testcase = XMLElement(
                "testcase", namespace: "", ["classname": "jingle-conformance", "name": "\(o.rule.id) (\(o.rule.spec))"])
            switch o.status {
            case .pass: break
            case .fail:
                var failure = XMLElement("failure", namespace: "", ["type": o.cause ?? "fail", "message": o.detail ?? o.rule.summary])
                if let stanza = o.stanza { failure.append(text: XMLSerializer.serialize(stanza)) }
                testcase.append(failure)
            case .skip:
                testcase.append(XMLElement("skipped", namespace: "", ["message": o.detail ?? "skipped"]))
            case .inconclusive:
                let message =
                    "INCONCLUSIVE: \(o.detail ?? o.cause ?? "the precondition was not given")"
                    + (o.hint.map { "; hint: \($0)" } ?? "")
                var skipped = XMLElement("skipped", namespace: "", ["message": message])
                if let stanza = o.stanza { skipped.append(text: XMLSerializer.serialize(stanza)) }
                testcase.append(skipped)
            }
            suite.append(testcase)
        }
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + XMLSerializer.serialize(XMLElement("testsuites", namespace: "", children: [suite])) + "\n"
    }
}
