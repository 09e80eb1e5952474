import Foundation
import Jingle
import Testing
import XMLStream
import XMPPCore
@testable import Harness

/// The two XEP-0353 rules whose verdict depends on how the target is configured, judged on
/// their real scenarios fed scripted stanzas and times (no network, no clock): a target that
/// does not give the rule's precondition makes it INCONCLUSIVE with a hint, never FAIL.
@Suite struct ConformanceVerdictTests {
    static let peer = "bob@localhost/b"

    func call(_ scenario: String) throws -> CallInterpreter {
        CallInterpreter(
            scenario: try ConformanceSuite.scenario(scenario), callNumber: 1,
            variables: ["local_jid": "alice@localhost/a", "peer": Self.peer], seed: 1, now: .seconds(0))
    }

    static func jmi(_ action: String, id: String) -> XMLElement {
        XMLElement(
            "message", namespace: XMPPNamespace.client, ["from": peer, "to": "alice@localhost/a", "type": "chat"],
            children: [XMLElement(action, namespace: JingleNamespace.jingleMessage, ["id": id])])
    }

    /// The scenario's call started at 0, its proposal answered with `<ringing/>` 4 ms later.
    func ringing(_ scenario: String) throws -> (CallInterpreter, sid: String) {
        var call = try call(scenario)
        _ = call.start(now: .seconds(0))
        let sid = try #require(call.variables["sid"])
        _ = call.receive(Self.jmi("ringing", id: sid), now: .seconds(0.004))
        return (call, sid)
    }

    func rule(_ id: String) throws -> ConformanceRule { try #require(ConformanceSuite.rules.first { $0.id == id }) }

    func record(_ call: CallInterpreter) -> CallRecord {
        CallRecord(
            callNumber: 1, role: .initiator, scenario: call.scenario.name, verdict: call.verdict ?? .failed(.aborted),
            startedAt: 0, durationSeconds: 0, measurements: call.measurements, kept: call.kept,
            transcript: call.transcript, decidingStanza: call.decidingStanza)
    }

    /// Sends of the outputs: the JMI elements (propose, retract) in order.
    func sent(_ outputs: [CallInterpreter.Output]) -> [String] {
        outputs.compactMap {
            if case .send(let e) = $0 { e.elements.first { $0.namespace == JingleNamespace.jingleMessage }?.name } else { nil }
        }
    }

    /// Times out whatever the call waits for.
    func expire(_ call: inout CallInterpreter) -> [CallInterpreter.Output] {
        guard let deadline = call.nextDeadline else { return [] }
        return call.handleTimeout(now: deadline)
    }

    // MARK: xep0353-retract-stops-ringing

    @Test func aTargetThatAnswersAtOnceMakesTheRetractRuleInconclusive() throws {
        var call = try call("conformance-jmi-retract")
        #expect(sent(call.start(now: .seconds(0))) == ["propose"])
        let sid = try #require(call.variables["sid"])
        _ = call.receive(Self.jmi("ringing", id: sid), now: .seconds(0.004))
        // `jingle-agent answer --auto`: proceed right after ringing, before any retract.
        #expect(sent(call.receive(Self.jmi("proceed", id: sid), now: .seconds(0.005))) == ["retract"])
        #expect(call.verdict == .passed)
        let outcome = try rule("xep0353-retract-stops-ringing").evaluate(record(call))
        #expect(outcome.status == .inconclusive)
        #expect(outcome.cause == "precondition:answered-at-once")
        #expect(outcome.hint?.contains("--answer-after 2") == true)
        #expect(outcome.stanza?.elements.first?.name == "proceed")
    }

    @Test func aTargetThatStopsRingingPasses() throws {
        var (call, _) = try ringing("conformance-jmi-retract")
        #expect(sent(expire(&call)) == ["retract"])
        _ = expire(&call)
        #expect(call.verdict == .passed)
        #expect(try rule("xep0353-retract-stops-ringing").evaluate(record(call)).status == .pass)
    }

    @Test func aProceedLongAfterTheRetractFails() throws {
        var (call, sid) = try ringing("conformance-jmi-retract")
        _ = expire(&call) // the retract goes out at 0.504
        _ = call.receive(Self.jmi("proceed", id: sid), now: .seconds(2.0))
        let outcome = try rule("xep0353-retract-stops-ringing").evaluate(record(call))
        #expect(outcome.status == .fail)
        #expect(outcome.hint == nil)
    }

    @Test func aProceedCrossingTheRetractIsInconclusive() throws {
        var (call, sid) = try ringing("conformance-jmi-retract")
        let retractAt = try #require(call.nextDeadline)
        _ = call.handleTimeout(now: retractAt)
        // 3 ms after the retract left, within a round trip (4 ms): the proceed was already on its way.
        _ = call.receive(Self.jmi("proceed", id: sid), now: retractAt + .seconds(0.003))
        let outcome = try rule("xep0353-retract-stops-ringing").evaluate(record(call))
        #expect(outcome.status == .inconclusive && outcome.cause == "precondition:proceed-crossed-retract")
        #expect(outcome.detail?.contains("3 ms after it was sent; a round trip takes 4 ms") == true, "\(outcome.detail ?? "")")
        #expect(outcome.hint?.contains("--answer-after 2") == true)
    }

    /// The field's case: a harness short of CPU (a test process whose cooperative threads were
    /// held) sent its retract 2 s after the ringing, not 0.5 s, just as the target, configured
    /// to ring for 2 s, answered. The proceed is not the target's fault.
    @Test func aProceedAfterTheHarnessSentItsRetractLateIsInconclusive() throws {
        var (call, sid) = try ringing("conformance-jmi-retract")
        #expect(sent(call.handleTimeout(now: .seconds(2.004))) == ["retract"])
        _ = call.receive(Self.jmi("proceed", id: sid), now: .seconds(2.2))
        let outcome = try rule("xep0353-retract-stops-ringing").evaluate(record(call))
        #expect(outcome.status == .inconclusive && outcome.cause == "precondition:harness-late", "\(ConformanceReport.line(outcome))")
        #expect(outcome.detail?.contains("2000 ms where the scenario waits 500 ms") == true, "\(outcome.detail ?? "")")
        #expect(outcome.stanza?.elements.first?.name == "proceed")
    }

    /// Late but with nothing after it: the target stopped ringing, and that passes.
    @Test func aLateRetractWithNoProceedStillPasses() throws {
        var (call, _) = try ringing("conformance-jmi-retract")
        #expect(sent(call.handleTimeout(now: .seconds(2.004))) == ["retract"])
        _ = expire(&call)
        #expect(try rule("xep0353-retract-stops-ringing").evaluate(record(call)).status == .pass)
    }

    // MARK: xep0353-busy-reject

    @Test func aBusyTargetRejectingTheSecondProposalPasses() throws {
        var call = try call("conformance-jmi-busy")
        _ = call.start(now: .seconds(0))
        let sid = try #require(call.variables["sid"])
        #expect(sent(call.receive(Self.jmi("ringing", id: sid), now: .seconds(0.004))) == ["propose"])
        // A busy target may ring for the second proposal before it rejects it.
        #expect(sent(call.receive(Self.jmi("ringing", id: sid + "-second"), now: .seconds(0.006))).isEmpty)
        #expect(sent(call.receive(Self.jmi("reject", id: sid + "-second"), now: .seconds(0.008))) == ["retract"])
        #expect(call.verdict == .passed)
        #expect(try rule("xep0353-busy-reject").evaluate(record(call)).status == .pass)
    }

    @Test func aTargetTakingTheSecondCallMakesTheBusyRuleInconclusive() throws {
        var (call, sid) = try ringing("conformance-jmi-busy")
        // `jingle-agent answer --auto`: the first proposal is answered at once, then the second.
        #expect(sent(call.receive(Self.jmi("proceed", id: sid), now: .seconds(0.005))).isEmpty)
        _ = call.receive(Self.jmi("ringing", id: sid + "-second"), now: .seconds(0.008))
        #expect(sent(call.receive(Self.jmi("proceed", id: sid + "-second"), now: .seconds(0.009))) == ["retract", "retract"])
        #expect(call.verdict == .passed)
        let outcome = try rule("xep0353-busy-reject").evaluate(record(call))
        #expect(outcome.status == .inconclusive && outcome.cause == "precondition:not-busy")
        #expect(outcome.hint?.contains("--max-concurrent 1") == true)
        #expect(outcome.stanza?.elements.first?.attribute("id") == sid + "-second")
    }

    @Test func aTargetRingingOnForTheSecondCallMakesTheBusyRuleInconclusive() throws {
        var (call, sid) = try ringing("conformance-jmi-busy")
        _ = call.receive(Self.jmi("ringing", id: sid + "-second"), now: .seconds(0.008))
        _ = expire(&call)
        #expect(sent(expire(&call)) == ["retract", "retract"])
        let outcome = try rule("xep0353-busy-reject").evaluate(record(call))
        #expect(outcome.status == .inconclusive, "\(ConformanceReport.line(outcome))")
        #expect(outcome.stanza?.elements.first?.name == "ringing")
    }

    @Test func aTargetIgnoringTheSecondProposalFails() throws {
        var (call, _) = try ringing("conformance-jmi-busy")
        _ = expire(&call)
        _ = expire(&call)
        let outcome = try rule("xep0353-busy-reject").evaluate(record(call))
        #expect(outcome.status == .fail, "\(ConformanceReport.line(outcome))")
    }

    // MARK: reports

    static func report(_ statuses: [RuleOutcome.Status]) -> ConformanceReport {
        let rules = ConformanceSuite.rules
        return ConformanceReport(
            target: "bob@localhost/b",
            outcomes: statuses.enumerated().map { i, status in
                RuleOutcome(
                    rule: rules[i], status: status, cause: status == .inconclusive ? "precondition:not-busy" : nil,
                    detail: status == .inconclusive ? "it rang for the second proposal" : nil, stanza: nil,
                    hint: status == .inconclusive ? "give it --max-concurrent 1" : nil)
            }, elapsedSeconds: 1)
    }

    @Test func inconclusiveIsInEveryReportFormatWithItsHint() throws {
        let report = Self.report([.pass, .inconclusive, .skip])
        #expect(report.inconclusive == 1 && report.failed == 0)
        #expect(report.text.contains("INCONCLUSIVE \(ConformanceSuite.rules[1].id)"))
        #expect(report.text.contains("     hint: give it --max-concurrent 1"))
        #expect(report.summary.contains("1 passed, 0 failed, 1 skipped, 1 inconclusive in "))

        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as? [String: Any])
        #expect(json["inconclusive"] as? Int == 1)
        let rules = try #require(json["rules"] as? [[String: Any]])
        #expect(rules[1]["status"] as? String == "INCONCLUSIVE" && rules[1]["hint"] as? String == "give it --max-concurrent 1")

        #expect(report.junit.contains("skipped='2'"))
        #expect(
            report.junit.contains("<skipped message='INCONCLUSIVE: it rang for the second proposal; hint: give it --max-concurrent 1'/>"),
            "\(report.junit)")
        #expect(report.html.contains("<td class=\"warn\">INCONCLUSIVE</td>"))
        #expect(report.html.contains("hint: give it --max-concurrent 1"))
    }

    /// Inconclusive is not failure: the exit status follows `verdict`.
    @Test func inconclusiveRulesDoNotFailTheRun() {
        #expect(Self.report([.pass, .inconclusive, .inconclusive]).verdict == .passed)
        #expect(Self.report([.pass, .inconclusive, .fail]).verdict == .failed)
        #expect(Self.report([.inconclusive, .skip]).verdict == .unverified)
    }
}
