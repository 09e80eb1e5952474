import ArgumentParser
import Foundation
import Harness
import XMPPCore

/// `jingle-harness conformance --target JID`: runs the conformance rules (XEP-0166, 0167, 0176,
/// 0320, 0353) against any Jingle implementation logged in at `JID` and prints PASS, FAIL,
/// INCONCLUSIVE or SKIP per rule with the stanza that decided it.
struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Check a Jingle implementation against XEP-0166/0167/0176/0320/0353 rules; exit 0 only if none fails.",
        discussion: """
            The target must answer calls on its own (auto-answer after ringing briefly). Rules that need \
            the target to call the harness (the crossing session-initiate tie-break) run only with \
            --trigger-command, a shell command in which {jid} is replaced by the harness's full JID.

            A rule is INCONCLUSIVE, not FAIL, when the target did not give what the rule needs: \
            xep0353-retract-stops-ringing needs a target that rings for a while before answering (it \
            proceeded before the retract could reach it), xep0353-busy-reject one that is busy (it took \
            the second call, or rang for it without rejecting). The hint says how to configure the target, e.g. jingle-agent answer \
            --auto --answer-after 2 --max-concurrent 1.

            Exit codes: 0 no rule failed and at least one passed (inconclusive and skipped rules are \
            listed, not failures); 1 at least one rule failed; 2 no rule failed but none passed either \
            (all inconclusive or skipped: nothing was verified); 64 bad arguments or an unknown rule; \
            65 a malformed accounts file; 69 the XMPP server could not be reached or refused the \
            login; 74 a report file could not be written.
            """)

    @Option(help: "Full JID of the implementation under test.") var target: String?
    @Option(help: "CSV file with jid,password rows; the first account is the harness's.") var accounts: String?
    @Option(help: "Server address host[:port] (default: the JID's domain).") var server: String?
    @Option(help: "CA file to verify the server certificate.") var caFile: String?
    @Option(name: .customLong("rule"), help: "Run only this rule, or a prefix such as xep0166 (repeatable).") var rules: [String] = []
    @Option(help: "Shell command that makes the target call the harness; {jid} is replaced by the harness JID.")
    var triggerCommand: String?
    @Option(help: "Write the results as JSON.") var json: String?
    @Option(help: "Write JUnit XML (one test case per rule; inconclusive rules as skipped, with the hint).") var junit: String?
    @Option(help: "Write an HTML report.") var html: String?
    @Flag(help: "List the rules and exit.") var list = false

    func validate() throws {
        if !list {
            guard let target else { throw ValidationError("--target JID is required") }
            guard let jid = JID(target), jid.resourcepart != nil else {
                throw ValidationError("--target must be a full JID (with a resource), not '\(target)'")
            }
            guard accounts != nil else { throw ValidationError("--accounts FILE is required") }
        }
    }

    func run() throws {
        if list {
            for r in ConformanceSuite.rules { print("\(r.id.padding(toLength: 32, withPad: " ", startingAt: 0)) \(r.spec): \(r.summary)") }
            return
        }
        let command = self
        try HarnessExit.runBlocking { await command.execute() }
    }

    func execute() async -> Int32 {
        guard let targetText = target, let targetJID = JID(targetText), let accountsPath = accounts else { return HarnessExit.usage }
        let selected: [ConformanceRule]
        let account: HarnessAccount
        do {
            selected = try ConformanceSuite.select(rules)
        } catch {
            return HarnessExit.fail(HarnessExit.usage, error.message)
        }
        do {
            guard let first = try HarnessAccount.load(accountsPath).first else { return HarnessExit.badInput }
            account = first
        } catch {
            return HarnessExit.fail(HarnessExit.badInput, "\(error)")
        }
        guard let settings = ServerSettings(server: server, caFile: caFile) else {
            return HarnessExit.fail(HarnessExit.usage, "--server '\(server ?? "")' is not host[:port]")
        }
        var conformanceTarget = ConformanceTarget(jid: targetJID)
        if let triggerCommand {
            conformanceTarget.placeCall = { jid in try Self.shell(triggerCommand.replacingOccurrences(of: "{jid}", with: jid.description)) }
        }
        let report: ConformanceReport
        do {
            report = try await ConformanceRunner.run(selected, target: conformanceTarget, account: account, server: settings) { outcome in
                print(ConformanceReport.line(outcome))
            }
        } catch let error as ScenarioError {
            return HarnessExit.fail(HarnessExit.badInput, "\(error)")
        } catch {
            return HarnessExit.fail(HarnessExit.unavailable, "login failed: \(error)")
        }
        print(report.summary)
        for case (let path?, let text) in [(json, report.json), (junit, report.junit), (html, report.html)] {
            do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
                return HarnessExit.fail(HarnessExit.cannotWrite, "cannot write \(path): \(error)")
            }
        }
        switch report.verdict {
        case .passed: return HarnessExit.passed
        case .failed: return HarnessExit.failed
        case .unverified: return HarnessExit.unverified
        }
    }

    /// Starts `command` with /bin/sh and returns without waiting: a calling tool may stay up for
    /// the whole call.
    static func shell(_ command: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }
}
