import EngineTime
import Foundation
import XMPPClient
import XMPPCore

/// The implementation under test: its full JID, and optionally a way to make it call us (for
/// rules that need the target to place a call, such as the crossing-initiate tie-break).
public struct ConformanceTarget: Sendable {
    public var jid: JID
    /// Makes the target send a session-initiate to the given harness JID; nil when it cannot be
    /// asked to (those rules are then skipped, and say why).
    public var placeCall: (@Sendable (JID) async throws -> Void)?

    public init(jid: JID, placeCall: (@Sendable (JID) async throws -> Void)? = nil) {
        self.jid = jid
        self.placeCall = placeCall
    }
}

/// Runs conformance rules against a target through an XMPP server: each distinct scenario runs
/// once, as one call from a fresh login of the harness account, and every rule using it is judged
/// on that call.
public enum ConformanceRunner {
    public static func run(
        _ rules: [ConformanceRule], target: ConformanceTarget, account: HarnessAccount,
        server: ServerSettings, progress: (@Sendable (RuleOutcome) -> Void)? = nil
    ) async throws -> ConformanceReport {
        var outcomes: [RuleOutcome] = []
        var order: [String] = []
        for rule in rules where !order.contains(rule.scenario) { order.append(rule.scenario) }
        let started = ContinuousClock.now
        for (index, name) in order.enumerated() {
            let scenarioRules = rules.filter { $0.scenario == name }
            if scenarioRules.contains(where: \.needsTargetCall), target.placeCall == nil {
                for rule in scenarioRules {
                    let outcome = RuleOutcome(
                        rule: rule, status: .skip, cause: "needs-target-call",
                        detail: "needs the target to call the harness (--trigger-command)", stanza: nil)
                    outcomes.append(outcome)
                    progress?(outcome)
                }
                continue
            }
            let scenario = try ConformanceSuite.scenario(name)
            let record = try await runOnce(scenario, index: index, target: target, account: account, server: server)
            for rule in scenarioRules {
                let outcome = rule.evaluate(record)
                outcomes.append(outcome)
                progress?(outcome)
            }
        }
        let elapsed = ContinuousClock.now - started
        return ConformanceReport(
            target: target.jid.description, outcomes: outcomes,
            elapsedSeconds: elapsed.inSeconds)
    }

    private static func runOnce(
        _ scenario: Scenario, index: Int, target: ConformanceTarget, account: HarnessAccount,
        server: ServerSettings
    ) async throws -> CallRecord {
        let (client, jid) = try await HarnessSetup.connect(account, index: index, server: server)
        // The rules read the call's transcript (kept whole: a passed call's would be dropped by default).
        var options = LoadOptions(rate: 1, maxConcurrent: 1, totalCalls: 1, drainSeconds: 20)
        options.retention = .all
        let runner = LoadRunner(
            endpoints: [HarnessEndpoint(client: client, localJID: jid, scenario: scenario, peer: target.jid)],
            options: options)
        var trigger: Task<Void, Never>?
        let failure = TriggerFailure()
        if scenario.instructions.first.map(Self.waitsForInitiate) == true, let placeCall = target.placeCall {
            trigger = Task {
                await runner.waitUntilStarted(1)
                do { try await placeCall(jid) } catch { failure.set("\(error)") }
            }
        }
        let report = await runner.run(scenarioName: scenario.name)
        await trigger?.value
        await client.disconnect()
        guard var record = report.records.first else {
            return CallRecord(
                callNumber: 1, role: .initiator, scenario: scenario.name, verdict: .failed(.aborted),
                startedAt: 0, durationSeconds: 0, measurements: [])
        }
        if let message = failure.get(), !record.verdict.passed {
            record.verdict = .failed(.transport("the target could not be asked to call: \(message)"))
        }
        return record
    }

    private static func waitsForInitiate(_ instruction: Instruction) -> Bool {
        if case .expect(let group) = instruction { group.expectations.contains { $0.action == "session-initiate" } } else { false }
    }
}

private final class TriggerFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var message: String?
    func set(_ m: String) { lock.lock(); message = m; lock.unlock() }
    func get() -> String? { lock.lock(); defer { lock.unlock() }; return message }
}
