import Foundation
import Harness
import Testing
import XMPPCore

/// `jingle-agent answer --auto` (the built binary) as the conformance target: the process the
/// issue names. It rings for two seconds before answering, as a phone would, so the rules about
/// ringing and retraction have a ringing call to act on.
final class AgentTarget: ConformanceTargetUnderTest {
    let process: AgentProcess
    let target: ConformanceTarget

    init(account: String, extra: [String] = []) async throws {
        let accounts = try await AgentAccounts.make()
        process = try AgentProcess("conformance-target", ["answer", "--auto", "--answer-after", "2"] + extra + [
                                                          "--report", "none", "--local-address", "127.0.0.1", "--no-discover-servers"]
                                   + (try await accounts.arguments(account, resource: "target")))
        try await process.waitFor("waiting for calls")
        let jid = try #require(JID("\(accounts.bare(account))/target"))
        // The agent has no way to be told to call the harness: the tie-break rule is skipped.
        target = ConformanceTarget(jid: jid)
    }

    func stop() async { process.send(SIGTERM) }
}

@Suite(.serialized) struct HarnessConformanceAgentTests {
    /// Every rule but two passes against an agent that takes several calls at once. The
    /// tie-break rule needs the target to place a call on request (the agent has no such control)
    /// and is skipped; the busy rule is the next test's, with an agent set to one call at a time.
    @Test func everyRulePassesAgainstJingleAgentAnswer() async throws {
        let rules = ConformanceSuite.rules.map(\.id).filter { $0 != "xep0353-busy-reject" }
        let report = try await runConformance(rules, against: try await AgentTarget(account: "hconf-agent"), harness: "hconf-harness-agent")
        #expect(report.outcomes.count == ConformanceSuite.rules.count - 1)
        for outcome in report.outcomes where outcome.rule.id != "xep0166-tie-break" {
            #expect(outcome.status == .pass, "\(ConformanceReport.line(outcome))")
        }
        #expect(report.outcome("xep0166-tie-break")?.status == .skip)
    }

    @Test func anAgentTakingOneCallAtATimeRefusesASecondProposalBusy() async throws {
        let target = try await AgentTarget(account: "hconf-agent-one", extra: ["--max-concurrent", "1"])
        let report = try await runConformance(["xep0353-busy-reject"], against: target, harness: "hconf-harness-agent-one")
        #expect(report.outcome("xep0353-busy-reject")?.status == .pass)
    }
}
