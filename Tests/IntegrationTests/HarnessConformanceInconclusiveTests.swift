import Foundation
import Harness
import Testing
import XMPPCore

/// Verdicts a tester can trust: against `jingle-agent answer --auto` (answers at once, takes
/// several calls) the retract and busy rules cannot be judged, and say so with a hint, while no
/// rule fails; configured as the hints say, the same two pass.
@Suite(.serialized) struct HarnessConformanceInconclusiveTests {
    @Test func againstAnAgentThatAnswersAtOnceTheRetractAndBusyRulesAreInconclusiveAndNoneFails() async throws {
        let target = try await AgentTarget(account: "hconf-agent-now", answer: ["--auto"])
        let report = try await runConformance([], against: target, harness: "hconf-harness-agent-now")
        #expect(report.outcomes.count == ConformanceSuite.rules.count)
        for outcome in report.outcomes {
            #expect(outcome.status != .fail, "\(ConformanceReport.line(outcome))")
        }
        let retract = try #require(report.outcome("xep0353-retract-stops-ringing"))
        #expect(retract.status == .inconclusive, "\(ConformanceReport.line(retract))")
        #expect(retract.hint?.contains("--answer-after 2") == true)
        let busy = try #require(report.outcome("xep0353-busy-reject"))
        #expect(busy.status == .inconclusive, "\(ConformanceReport.line(busy))")
        #expect(busy.hint?.contains("--max-concurrent 1") == true)
        #expect(report.inconclusive == 2 && report.verdict == .passed)
    }

    @Test func configuredAsTheHintsSayTheSameRulesPass() async throws {
        let target = try await AgentTarget(
            account: "hconf-agent-hinted",
            answer: ["--auto", "--answer-after", "2", "--max-concurrent", "1"])
        let report = try await runConformance(
            ["xep0353-retract-stops-ringing", "xep0353-busy-reject"], against: target,
            harness: "hconf-harness-agent-hinted")
        #expect(report.outcomes.count == 2)
        for outcome in report.outcomes {
            #expect(outcome.status == .pass, "\(ConformanceReport.line(outcome))")
        }
    }

    /// The built `jingle-harness conformance` against the agent answering at once: inconclusive
    /// rules are printed with their hint, written to JUnit as skipped with the message and to
    /// JSON and HTML, and do not fail the run (exit 0); when nothing else ran, nothing was
    /// verified (exit 2).
    @Test func fromTheCommandLineInconclusiveIsNotFailure() async throws {
        let cli = HarnessProsodyCLITests()
        let target = try await AgentTarget(account: "hconf-agent-cli", answer: ["--auto"])
        let csv = try await cli.accounts(["hconf-harness-cli"])
        let base = NSTemporaryDirectory() + "jingle-harness-inconclusive-\(UUID().uuidString)"
        let rules = ["--rule", "xep0353-busy-reject"]
        let run = try await cli.harness(
            [
                "conformance", "--target", target.target.jid.description, "--accounts", csv,
                "--rule", "xep0166-unknown-session", "--junit", base + ".xml", "--json", base + ".json",
                "--html", base + ".html",
            ] + rules + (try await cli.server()))
        let alone = try await cli.harness(
            ["conformance", "--target", target.target.jid.description, "--accounts", csv] + rules
                + (try await cli.server()))
        await target.stop()
        #expect(run.status == 0, "output:\n\(run.output)")
        #expect(run.output.contains("INCONCLUSIVE xep0353-busy-reject"), "output:\n\(run.output)")
        #expect(run.output.contains("hint: let the target take one call at a time"), "output:\n\(run.output)")
        #expect(run.output.contains("1 passed, 0 failed, 0 skipped, 1 inconclusive"), "output:\n\(run.output)")
        let junit = try String(contentsOfFile: base + ".xml", encoding: .utf8)
        #expect(junit.contains("skipped='1'") && junit.contains("<skipped message='INCONCLUSIVE: "), "\(junit)")
        let json = try String(contentsOfFile: base + ".json", encoding: .utf8)
        #expect(json.contains(#""status" : "INCONCLUSIVE""#) && json.contains(#""inconclusive" : 1"#), "\(json)")
        let html = try String(contentsOfFile: base + ".html", encoding: .utf8)
        #expect(html.contains("INCONCLUSIVE") && html.contains("hint: "))
        #expect(alone.status == 2, "output:\n\(alone.output)")
    }
}
