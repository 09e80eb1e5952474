import Foundation
import Harness
import Testing
import XMPPCore

/// jingle-harness scenarios between alice and bob through a private Prosody: the built-in
/// caller/callee pair passes, and responders that misbehave fail the caller with the right cause.
@Suite(.serialized) struct HarnessProsodyTests {
    func scenario(_ name: String) throws -> Scenario {
        try ProsodyFixture.sampleScenario(name)
    }

    func run(initiator: Scenario, responder: Scenario, calls: Int) async throws -> RunReport {
        try await ProsodyFixture.shared().runHarness(
            ["harness-caller", "harness-callee"], initiator: initiator, responder: responder,
            options: LoadOptions(
                rate: 20, maxConcurrent: 10, totalCalls: calls,
                drainSeconds: 15)
        ).report
    }

    func initiatorFailures(_ report: RunReport) -> [String] {
        report.records.filter { $0.role == .initiator }.compactMap {
            if case .failed(let cause) = $0.verdict { cause.category } else { nil }
        }
    }

    @Test func builtInCallerAndCalleePassThroughProsody() async throws {
        let report = try await run(initiator: try scenario("caller"), responder: try scenario("callee"), calls: 4)
        #expect(report.allPassed, "\(report.failuresByCause)")
        #expect(report.records.count == 8)
        #expect(report.records.filter { $0.role == .responder }.count == 4)
        let steps = Dictionary(uniqueKeysWithValues: report.steps.map { ($0.name, $0.summary.count) })
        #expect(steps["initiate->result"] == 4 && steps["initiate->accept"] == 4 && steps["terminate->result"] == 4)
    }

    @Test func builtInJMICallerAndCalleePassThroughProsody() async throws {
        let report = try await run(initiator: try scenario("jmi-caller"), responder: try scenario("jmi-callee"), calls: 2)
        #expect(report.allPassed, "\(report.failuresByCause)")
        #expect(report.steps.contains { $0.name == "propose->proceed" && $0.summary.count == 2 })
    }

    @Test func aResponderOmittingTheFingerprintFailsTheCallerWithMissingFingerprint() async throws {
        let broken = try ScenarioParser.parse(ProsodyFixture.acceptWithoutFingerprint)
        let report = try await run(initiator: try scenario("caller"), responder: broken, calls: 2)
        #expect(!report.allPassed)
        #expect(initiatorFailures(report) == ["missing:fingerprint", "missing:fingerprint"])
    }

    @Test func aResponderAnsweringOutOfOrderFailsTheCallerWithTheJingleCondition() async throws {
        let broken = try ScenarioParser.parse(
            """
            <scenario name="out-of-order" role="responder">
              <expect type="set" action="session-initiate"/>
              <answer-iq type="error" condition="unexpected-request" jingle-condition="out-of-order"/>
            </scenario>
            """)
        let report = try await run(initiator: try scenario("caller"), responder: broken, calls: 1)
        #expect(initiatorFailures(report) == ["jingle:out-of-order"])
        #expect(report.failuresByCause.first?.cause == "jingle:out-of-order")
    }

    @Test func aResponderThatNeverAnswersFailsTheCallerWithATimeout() async throws {
        let silent = try ScenarioParser.parse(
            """
            <scenario name="silent" role="responder"><expect type="set" action="session-initiate"/></scenario>
            """)
        let report = try await run(initiator: try scenario("caller"), responder: silent, calls: 1)
        #expect(initiatorFailures(report) == ["timeout"])
        let record = try #require(report.records.first { $0.role == .initiator })
        if case .failed(.timeout(let expecting, _)) = record.verdict {
            #expect(expecting.contains("iq result") && expecting.contains("session-accept"))
        }
    }

    @Test(arguments: ["jmi-caller", "retract-while-ringing", "glare", "ice-restart", "content-add", "terminate-reasons"])
    func builtInPairPassesThroughProsody(_ name: String) async throws {
        let initiator = try scenario(name)
        let responder = try scenario(try #require(initiator.peer))
        let report = try await run(initiator: initiator, responder: responder, calls: 2)
        #expect(report.allPassed, "\(name): \(report.failuresByCause)")
        #expect(report.records.count == 4)
    }
}
