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
    /// What the rule needs the target to do before it can be judged (ring long enough for a
    /// retract to reach it, be busy): when the run shows the target did not, the rule is
    /// INCONCLUSIVE with a hint on configuring the target, never FAIL.
    public var preconditions: [Precondition]

    public init(
        id: String, spec: String, summary: String, scenario: String, decidedBy: String? = nil,
        checks: [StanzaCheck] = [], needsTargetCall: Bool = false, preconditions: [Precondition] = []
    ) {
        self.preconditions = preconditions
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

    /// Judges the rule on the scenario's call record: INCONCLUSIVE when a precondition was not
    /// given, else PASS or FAIL.
    public func evaluate(_ record: CallRecord) -> RuleOutcome {
        for precondition in preconditions {
            if let missed = precondition.missed(record) {
                return RuleOutcome(
                    rule: self, status: .inconclusive, cause: precondition.cause, detail: missed.detail,
                    stanza: missed.stanza, hint: precondition.hint)
            }
        }
        let required = requiredStanzas
        if !required.isEmpty, required.allSatisfy({ record.kept[$0] != nil }) {
            for check in checks {
                if let failure = check.failure(kept: record.kept, transcript: record.transcript) {
                    return RuleOutcome(
                        rule: self, status: .fail, cause: failure.cause, detail: failure.detail,
                        stanza: failure.stanza)
                }
            }
            let deciding = decidedBy.flatMap { record.kept[$0] } ?? required.compactMap { record.kept[$0] }.first
            return RuleOutcome(rule: self, status: .pass, cause: nil, detail: nil, stanza: deciding)
        }
        switch record.verdict {
        case .failed(let cause):
            return RuleOutcome(
                rule: self, status: .fail, cause: cause.category, detail: cause.description,
                stanza: record.decidingStanza)
        case .passed:
            if let missing = required.first(where: { record.kept[$0] == nil }) {
                return RuleOutcome(
                    rule: self, status: .fail, cause: "missing:\(missing)", detail: "no \(missing) was received",
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
    /// PASS and FAIL judge the target. SKIP: the rule did not run (it needs something the run
    /// was not given, such as --trigger-command). INCONCLUSIVE: it ran, but the target did not
    /// give the rule's precondition, so it could not be judged (`hint` says how to configure it).
    public enum Status: String, Sendable, Hashable {
        case pass = "PASS", fail = "FAIL", skip = "SKIP", inconclusive = "INCONCLUSIVE"
    }

    public var rule: ConformanceRule
    public var status: Status
    /// Short machine-readable cause of a failure: `jingle:out-of-order`, `timeout`, `missing:fingerprint@hash`, ...
    public var cause: String?
    /// One human line about the failure (or why the rule was skipped).
    public var detail: String?
    public var stanza: XMLElement?
    /// For an INCONCLUSIVE rule: how to configure the target so the rule can be judged.
    public var hint: String?

    public init(rule: ConformanceRule, status: Status, cause: String?, detail: String?, stanza: XMLElement?, hint: String? = nil) {
        self.hint = hint
        self.rule = rule
        self.status = status
        self.cause = cause
        self.detail = detail
        self.stanza = stanza
    }
}

/// Something a rule needs the target to have done for its verdict to mean anything, and how
/// the run shows it did not.
public struct Precondition: Sendable, Hashable {
    public enum Evidence: Sendable, Hashable {
        /// The scenario kept all these stanzas (sent or received): it only does when the
        /// precondition was not given. The report shows the kept stanza `show` (default: the first).
        case kept([String], show: String? = nil)
        /// The kept stanza arrived after the `measure`'s mark so soon that it must have been sent
        /// before the marked stanza reached the target: within twice the `roundTrip` measure (the
        /// target's answer time to an earlier stanza) plus 20 ms. The two crossed on the way.
        case crossed(String, measure: String, roundTrip: String)
        /// The kept stanza came after the harness itself sent a step late: the `measure` came
        /// out more than `slackMS` over the `dueMS` the scenario waits (the harness was short of
        /// CPU), so that stanza cannot be held against the target.
        case late(String, measure: String, dueMS: Double, slackMS: Double)
    }

    public var evidence: Evidence
    /// Short machine-readable cause: `precondition:...`.
    public var cause: String
    /// What the target did instead, for the report.
    public var detail: String
    /// How to configure the target so the rule can be judged.
    public var hint: String

    public init(_ evidence: Evidence, cause: String, detail: String, hint: String) {
        self.evidence = evidence
        self.cause = cause
        self.detail = detail
        self.hint = hint
    }

    /// Nil when the record shows nothing against the precondition; else the detail (with the
    /// times measured) and the stanza that shows it.
    public func missed(_ record: CallRecord) -> (detail: String, stanza: XMLElement?)? {
        func ms(_ name: String) -> Double? { record.measurements.first { $0.name == name }.map { $0.seconds * 1000 } }
        switch evidence {
        case .kept(let names, let show):
            guard !names.isEmpty, names.allSatisfy({ record.kept[$0] != nil }) else { return nil }
            return (detail, record.kept[show ?? names[0]] ?? record.kept[names[0]])
        case .crossed(let name, let measure, let roundTrip):
            guard let stanza = record.kept[name], let after = ms(measure), let trip = ms(roundTrip),
                after <= 2 * trip + 20
            else { return nil }
            return (detail + String(format: " (%.0f ms after it was sent; a round trip takes %.0f ms)", after, trip), stanza)
        case .late(let name, let measure, let due, let slack):
            guard let stanza = record.kept[name], let took = ms(measure), took > due + slack else { return nil }
            return (detail + String(format: " (%.0f ms where the scenario waits %.0f ms)", took, due), stanza)
        }
    }
}
