import XMLStream

/// One conformance rule: a requirement of a Jingle specification, checked by running a
/// scenario against the target and looking at what it answered.
///
/// A rule is decided by its checks on the stanzas its scenario kept when all of those arrived;
/// otherwise by the scenario's own verdict (an unexpected answer, an IQ error, a timeout).
public struct ConformanceRule: Sendable, Hashable {
    /// Stable identifier, e.g. `xep0166-unknown-session`.
    public var id: String
    /// The specification section, e.g. `XEP-0166 §7.2.11, §10`.
    public var spec: String
    /// One line: what the target must do.
    public var summary: String
    /// The scenario run for it (several rules may share one run).
    public var scenario: String
    /// A kept stanza that must have arrived for the rule to pass; it is the deciding stanza.
    public var decidedBy: String?
    public var checks: [StanzaCheck]
    /// The scenario starts with the target calling the harness (needs a target that can be asked to).
    public var needsTargetCall: Bool

    public init(id: String, spec: String, summary: String, scenario: String, decidedBy: String? = nil,
                checks: [StanzaCheck] = [], needsTargetCall: Bool = false) {
        self.id = id
        self.spec = spec
        self.summary = summary
        self.scenario = scenario
        self.decidedBy = decidedBy
        self.checks = checks
        self.needsTargetCall = needsTargetCall
    }

    /// The kept stanzas the rule needs.
    public var requiredStanzas: [String] {
        var names = decidedBy.map { [$0] } ?? []
        for check in checks { for name in check.stanzas where !names.contains(name) { names.append(name) } }
        return names
    }

    /// Judges the rule on the scenario's call record.
    public func evaluate(_ record: CallRecord) -> RuleOutcome {
        let required = requiredStanzas
        if !required.isEmpty, required.allSatisfy({ record.kept[$0] != nil }) {
            for check in checks {
                if let failure = check.failure(kept: record.kept, transcript: record.transcript) {
                    return RuleOutcome(rule: self, status: .fail, cause: failure.cause, detail: failure.detail,
                                       stanza: failure.stanza)
                }
            }
            let deciding = decidedBy.flatMap { record.kept[$0] } ?? required.compactMap { record.kept[$0] }.first
            return RuleOutcome(rule: self, status: .pass, cause: nil, detail: nil, stanza: deciding)
        }
        switch record.verdict {
        case .failed(let cause):
            return RuleOutcome(rule: self, status: .fail, cause: cause.category, detail: cause.description,
                               stanza: record.decidingStanza)
        case .passed:
            if let missing = required.first(where: { record.kept[$0] == nil }) {
                return RuleOutcome(rule: self, status: .fail, cause: "missing:\(missing)", detail: "no \(missing) was received",
                                   stanza: record.decidingStanza)
            }
            for check in checks {
                if let failure = check.failure(kept: record.kept, transcript: record.transcript) {
                    return RuleOutcome(rule: self, status: .fail, cause: failure.cause, detail: failure.detail, stanza: failure.stanza)
                }
            }
            return RuleOutcome(rule: self, status: .pass, cause: nil, detail: nil, stanza: record.decidingStanza)
        }
    }
}

/// A rule's result, with the stanza that decided it.
public struct RuleOutcome: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable { case pass = "PASS", fail = "FAIL", skip = "SKIP" }

    public var rule: ConformanceRule
    public var status: Status
    /// Short machine-readable cause of a failure: `jingle:out-of-order`, `timeout`, `missing:fingerprint@hash`, ...
    public var cause: String?
    /// One human line about the failure (or why the rule was skipped).
    public var detail: String?
    public var stanza: XMLElement?

    public init(rule: ConformanceRule, status: Status, cause: String?, detail: String?, stanza: XMLElement?) {
        self.rule = rule
        self.status = status
        self.cause = cause
        self.detail = detail
        self.stanza = stanza
    }
}
