import Foundation
import Harness
import Testing
import XMPPCore

/// `jingle-agent answer` (the built binary) as the conformance target: the process the issue
/// names. By default (`--auto --answer-after 2`) it rings for two seconds before answering, as a
/// phone would, so the rules about ringing and retraction have a ringing call to act on; `answer`
/// gives other options.
///
/// For the tie-break rule the target's account places a call with `jingle-agent call` (another
/// resource of the same account, as a user's second device would): the harness crosses that
/// process's session-initiate with its own.
final class AgentTarget: ConformanceTargetUnderTest {
    let process: AgentProcess
    let target: ConformanceTarget
    private let callers = CallerProcesses()

    init(account: String, answer options: [String] = ["--auto", "--answer-after", "2"]) async throws {
        let accounts = try await AgentAccounts.make()
        process = try AgentProcess(
            "conformance-target",
            ["answer"] + options + [
                "--report", "none", "--local-address", "127.0.0.1", "--no-discover-servers",
            ]
                + (try await accounts.arguments(account, resource: "target")))
        try await process.waitFor("waiting for calls")
        let jid = try #require(JID("\(accounts.bare(account))/target"))
        let callerArguments = try await accounts.arguments(account, resource: "caller")
        let callers = self.callers
        target = ConformanceTarget(jid: jid) { harness in
            let caller = try AgentProcess(
                "conformance-caller",
                [
                    "call", harness.description, "--no-jmi", "--signalling-only",
                    "--report", "json", "--quiet",
                ] + callerArguments)
            callers.add(caller)
        }
    }

    func stop() async {
        process.send(SIGTERM)
        for caller in callers.all { caller.send(SIGTERM) }
    }
}

/// The `jingle-agent call` processes a target started, to stop with it.
final class CallerProcesses: @unchecked Sendable {
    private let lock = NSLock()
    private var processes: [AgentProcess] = []
    func add(_ process: AgentProcess) { lock.lock(); processes.append(process); lock.unlock() }
    var all: [AgentProcess] { lock.lock(); defer { lock.unlock() }; return processes }
}

@Suite(.serialized) struct HarnessConformanceAgentTests {
    /// Every rule passes against an agent that takes several calls at once (the busy rule is the
    /// next test's, with an agent set to one call at a time). The tie-break rule's call comes
    /// from a `jingle-agent call` process of the target's account.
    @Test func everyRulePassesAgainstJingleAgentAnswer() async throws {
        let rules = ConformanceSuite.rules.map(\.id).filter { $0 != "xep0353-busy-reject" }
        let report = try await runConformance(rules, against: try await AgentTarget(account: "hconf-agent"), harness: "hconf-harness-agent")
        #expect(report.outcomes.count == ConformanceSuite.rules.count - 1)
        for outcome in report.outcomes {
            #expect(outcome.status == .pass, "\(ConformanceReport.line(outcome))")
        }
        #expect(report.outcome("xep0166-tie-break")?.status == .pass)
    }

    @Test func anAgentTakingOneCallAtATimeRefusesASecondProposalBusy() async throws {
        let target = try await AgentTarget(account: "hconf-agent-one", answer: ["--auto", "--answer-after", "2", "--max-concurrent", "1"])
        let report = try await runConformance(["xep0353-busy-reject"], against: target, harness: "hconf-harness-agent-one")
        #expect(report.outcome("xep0353-busy-reject")?.status == .pass)
    }
}
