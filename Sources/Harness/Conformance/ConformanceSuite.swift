/// The conformance rules `jingle-harness conformance` runs, in order, and their scenarios.
public enum ConformanceSuite {
    public static let rules: [ConformanceRule] = [
        // XEP-0166: Jingle sessions.
        ConformanceRule(
            id: "xep0166-unknown-session", spec: "XEP-0166 §7.2.11, §10",
            summary: "an action for an unknown sid is answered item-not-found + <unknown-session/>",
            scenario: "conformance-unknown-session", decidedBy: "reply"),
        ConformanceRule(
            id: "xep0166-out-of-order", spec: "XEP-0166 §7.2.8, §10",
            summary: "session-accept sent by the initiator is answered unexpected-request + <out-of-order/>",
            scenario: "conformance-out-of-order", decidedBy: "reply"),
        ConformanceRule(
            id: "xep0166-tie-break", spec: "XEP-0166 §7.2.16",
            summary: "a session-initiate crossing the target's own, with the higher sid, is answered conflict + <tie-break/>",
            scenario: "conformance-tie-break", decidedBy: "reply", needsTargetCall: true),
        ConformanceRule(
            id: "xep0166-early-transport-info", spec: "XEP-0166 §6.3, §7.2.13",
            summary: "transport-info before session-accept (pending session) is acknowledged",
            scenario: "conformance-early-transport-info", decidedBy: "reply"),
        ConformanceRule(
            id: "xep0166-terminate-acked", spec: "XEP-0166 §6.7, §7.2.11",
            summary: "session-terminate of an active session is acknowledged with a result",
            scenario: "conformance-call", decidedBy: "terminate-result"),
        ConformanceRule(
            id: "xep0166-malformed-bad-request", spec: "XEP-0166 §7.1, §10",
            summary: "a <jingle/> without sid is answered bad-request",
            scenario: "conformance-malformed", decidedBy: "reply"),
        // XEP-0167: RTP sessions.
        ConformanceRule(
            id: "xep0167-opus-accepted", spec: "XEP-0167 §5, RFC 7587 §7",
            summary: "an offer of Opus 48000/2 is accepted with Opus 48000/2 in the session-accept",
            scenario: "conformance-call",
            checks: [.containsElement("answer", "payload-type", ["name": "opus", "clockrate": "48000", "channels": "2"])]),
        ConformanceRule(
            id: "xep0167-answer-only-offered", spec: "XEP-0167 §5",
            summary: "the session-accept holds only payload types that were offered",
            scenario: "conformance-call",
            checks: [
                .subset(
                    "answer", of: "offer", "payload-type", keys: ["name", "clockrate", "channels"],
                    defaults: ["channels": "1"])
            ]),
        ConformanceRule(
            id: "xep0167-ringing", spec: "XEP-0167 §8.4",
            summary: "the responder sends session-info <ringing/> before it accepts",
            scenario: "conformance-call", decidedBy: "ringing",
            checks: [.containsElement("ringing", "ringing", [:]), .before("ringing", "answer")]),
        // XEP-0176: ICE-UDP.
        ConformanceRule(
            id: "xep0176-credentials", spec: "XEP-0176 §5.3, RFC 8445 §5.3",
            summary: "the session-accept transport has ufrag (4+ characters) and pwd (22+ characters)",
            scenario: "conformance-call",
            checks: [.minLength("answer", "transport@ufrag", 4), .minLength("answer", "transport@pwd", 22)]),
        ConformanceRule(
            id: "xep0176-candidates", spec: "XEP-0176 §5.3",
            summary: "candidates (in the answer or trickled) carry every required attribute, well-formed",
            scenario: "conformance-call", decidedBy: "answer", checks: [.candidatesWellFormed]),
        // XEP-0320: DTLS-SRTP fingerprints.
        ConformanceRule(
            id: "xep0320-fingerprint", spec: "XEP-0320 §1",
            summary: "the session-accept carries a fingerprint with hash and setup",
            scenario: "conformance-call",
            checks: [
                .present("answer", "fingerprint@hash"), .present("answer", "fingerprint@setup"),
                .hexPairs("answer", "fingerprint"),
            ]),
        ConformanceRule(
            id: "xep0320-setup-not-actpass", spec: "XEP-0320 §1, RFC 5763 §5",
            summary: "the answer's setup is active or passive, never actpass",
            scenario: "conformance-call",
            checks: [.oneOf("answer", "fingerprint@setup", ["active", "passive"])]),
        // XEP-0353: Jingle Message Initiation.
        ConformanceRule(
            id: "xep0353-ringing-proceed", spec: "XEP-0353 §3.2, §3.4",
            summary: "a propose is answered with ringing and proceed, then the session is accepted",
            scenario: "conformance-jmi", decidedBy: "proceed",
            checks: [.present("ringing", "ringing@id"), .present("answer", "jingle@sid")]),
        ConformanceRule(
            id: "xep0353-retract-stops-ringing", spec: "XEP-0353 §3.3",
            summary: "after a retract the target stops ringing: no proceed follows",
            scenario: "conformance-jmi-retract",
            preconditions: [
                Precondition(
                    .kept(["early-proceed"]), cause: "precondition:answered-at-once",
                    detail: "the target proceeded within 0.5 s of ringing, before the retract could be sent",
                    hint: retractHint),
                Precondition(
                    .late("late-proceed", measure: "ringing->retract", dueMS: 500, slackMS: 300),
                    cause: "precondition:harness-late",
                    detail:
                        "the harness sent its retract late after the ringing (it was short of CPU), so the target's proceed may have been on its way already",
                    hint: "give the harness CPU to spare (run it alone) and run the rule again"),
                Precondition(
                    .crossed("late-proceed", measure: "retract->proceed", roundTrip: "propose->ringing"),
                    cause: "precondition:proceed-crossed-retract",
                    detail: "the target's proceed crossed the retract: it was sent before the retract arrived",
                    hint: retractHint),
            ]),
        ConformanceRule(
            id: "xep0353-busy-reject", spec: "XEP-0353 §3.5",
            summary: "a second propose while the first rings is rejected",
            scenario: "conformance-jmi-busy", decidedBy: "reply",
            preconditions: [
                Precondition(
                    .kept(["took-second"], show: "proceed"), cause: "precondition:not-busy",
                    detail: "the target proceeded with the second proposal: it had room for another call, so it was not busy",
                    hint: busyHint),
                Precondition(
                    .kept(["unanswered-second", "second-ringing"], show: "second-ringing"),
                    cause: "precondition:not-busy",
                    detail: "the target rang for the second proposal for 10 s without rejecting it: it treated it as a call it could take",
                    hint: busyHint),
                Precondition(
                    .kept(["silent-second"]), cause: "precondition:not-busy",
                    detail:
                        "the target sends no <ringing/> and neither rejected nor answered the second proposal: it may be offering both calls to its user, so it was not busy",
                    hint: busyHint),
            ]),
    ]

    static let retractHint =
        "let the target ring for a while before it answers (at least a second), "
        + "e.g. jingle-agent answer --auto --answer-after 2"

    static let busyHint =
        "let the target take one call at a time and ring before answering, "
        + "e.g. jingle-agent answer --auto --answer-after 2 --max-concurrent 1"

    /// The parsed scenario of each rule, by name.
    public static func scenario(_ name: String) throws(ScenarioError) -> Scenario {
        guard let text = ConformanceScenarios.all[name] else {
            throw ScenarioError(line: 0, element: nil, message: "no conformance scenario '\(name)'")
        }
        return try ScenarioParser.parse(text)
    }

    /// Rules whose id is one of `ids` or starts with one of them followed by `-` (`xep0166` picks
    /// every XEP-0166 rule); all rules when `ids` is empty.
    public static func select(_ ids: [String]) throws(ScenarioError) -> [ConformanceRule] {
        guard !ids.isEmpty else { return rules }
        for id in ids where !rules.contains(where: { $0.id == id || $0.id.hasPrefix(id + "-") }) {
            throw ScenarioError(line: 0, element: nil, message: "no conformance rule '\(id)' (see jingle-harness conformance --list)")
        }
        return rules.filter { r in ids.contains { r.id == $0 || r.id.hasPrefix($0 + "-") } }
    }
}
