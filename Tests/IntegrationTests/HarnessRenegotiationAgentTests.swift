import Foundation
import Testing

/// ICE restart (XEP-0176 §2.4, RFC 8445 §9) and content-add (XEP-0166 §7.2.1) through the shared
/// Prosody: the built-in `ice-restart` and `content-add` scenarios of the built `jingle-harness`
/// against a `jingle-agent answer --auto` process, signalling only and with `--media`, and the
/// harness's own ice-restart pair with media on both legs.
@Suite(.serialized) struct HarnessRenegotiationAgentTests {
    typealias Report = HarnessMediaProsodyTests.Report

    /// `jingle-agent answer --auto` on `account`; returns the process and its full JID.
    func agent(_ account: String, extra: [String] = []) async throws -> (process: AgentProcess, jid: String) {
        let accounts = try await AgentAccounts.make()
        let process = try AgentProcess(
            "renegotiation-\(account)",
            ["answer", "--auto"] + extra + [
                "--report", "none", "--local-address", "127.0.0.1", "--no-discover-servers",
            ] + (try await accounts.arguments(account, resource: "agent")))
        try await process.waitFor("waiting for calls")
        return (process, "\(accounts.bare(account))/agent")
    }

    /// `jingle-harness run SCENARIO` with the JSON report; `target` nil plays both roles.
    func harness(
        _ scenario: String, accounts names: [String], target: String?, media: Bool,
        calls: Int = 1
    ) async throws -> (status: Int32, output: String, report: Report) {
        let prosody = try await ProsodyFixture.shared()
        var rows = ["jid,password"]
        for name in names {
            let (jid, password) = try await prosody.account(name)
            rows.append("\(jid),\(password)")
        }
        let base = NSTemporaryDirectory() + "jingle-harness-renegotiation-\(UUID().uuidString)"
        try (rows.joined(separator: "\n") + "\n").write(toFile: base + "-accounts.csv", atomically: true, encoding: .utf8)
        let role = target.map { ["--role", "initiator", "--target", $0] } ?? ["--role", "both"]
        let (status, output) = try await harnessRunProcess(
            HarnessProsodyCLITests.harness,
            [
                "run", "\(HarnessProsodyCLITests.samples)/\(scenario).xml", "--accounts", base + "-accounts.csv",
                "--calls", String(calls), "--rate", "2", "--drain", "30", "--quiet", "--json", base + ".json",
                "--server", "127.0.0.1:\(prosody.port)", "--ca-file", prosody.caFile,
            ] + role + (media ? ["--media", "--media-timeout", "8"] : []))
        let data = try Data(contentsOf: URL(fileURLWithPath: base + ".json"))
        return (status, output, try JSONDecoder().decode(Report.self, from: data))
    }

    func steps(_ report: Report) -> [String: Int] {
        Dictionary(report.steps.map { ($0.name, $0.count) }, uniquingKeysWith: +)
    }

    /// The agent answers the restart with a transport-info of its own (the scenario captures its
    /// new ufrag) and refuses the video content with content-reject, with media on or off.
    @Test(arguments: [false, true])
    func builtInRestartAndContentAddPassAgainstTheAgent(signallingOnly: Bool) async throws {
        let (agent, jid) = try await agent(
            signallingOnly ? "reneg-agent-sig" : "reneg-agent-media",
            extra: signallingOnly ? ["--signalling-only"] : [])
        defer { agent.send(SIGTERM) }
        let caller = signallingOnly ? "reneg-caller-sig" : "reneg-caller-media"

        let restart = try await harness("ice-restart", accounts: [caller], target: jid, media: false)
        #expect(restart.status == 0 && restart.report.passed, "\(restart.report.failures)\n\(restart.output)")
        #expect(steps(restart.report)["restart->peer-restart"] == 1, "\(restart.output)")

        let add = try await harness("content-add", accounts: [caller], target: jid, media: false)
        #expect(add.status == 0 && add.report.passed, "\(add.report.failures)\n\(add.output)")
        #expect(steps(add.report)["add->reject"] == 1, "the agent refuses video: \(add.report.steps.map(\.name))")
        #expect(steps(add.report)["add->accept"] == nil)
    }

    /// With `--media` both harness legs restart for real: ICE connects again and media packets
    /// arrive after the restart on each leg (restart->ice, restart->media).
    @Test func mediaRestartBetweenHarnessLegsReconnects() async throws {
        let (status, output, report) = try await harness(
            "ice-restart", accounts: ["reneg-media-a", "reneg-media-b"],
            target: nil, media: true, calls: 2)
        #expect(status == 0 && report.passed && report.succeeded == 4, "\(report.failures)\n\(output)")
        let counts = steps(report)
        for step in ["accept->ice", "dtls->first-media", "restart->ice", "restart->media"] {
            #expect(counts[step] == 4, "\(step): \(counts[step] ?? 0) of 4\n\(output)")
        }
    }

    /// A `--media` restart against the agent with media: its CallManager restarts its libnice
    /// agent, and the harness leg reconnects and receives the agent's audio again.
    @Test func mediaRestartAgainstTheAgentReconnects() async throws {
        let (agent, jid) = try await agent("reneg-agent-live")
        defer { agent.send(SIGTERM) }
        let (status, output, report) = try await harness("ice-restart", accounts: ["reneg-caller-live"], target: jid, media: true)
        #expect(status == 0 && report.passed, "\(report.failures)\n\(output)")
        let counts = steps(report)
        #expect(counts["restart->ice"] == 1 && counts["restart->media"] == 1, "\(report.steps.map(\.name))\n\(output)")
    }
}
