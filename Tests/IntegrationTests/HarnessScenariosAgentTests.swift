import Foundation
import Harness
import Testing
import XMPPCore

/// The built-in initiator scenarios of `jingle-harness run` played against the built
/// `jingle-agent answer` through the shared Prosody: what a user of the harness does with a
/// Jingle client under test, with our own agent as that client.
///
/// Left out: `glare` needs the target to place a call of its own at the same moment, and the
/// agent has no control for that (a two-sided glare is only deterministic when the harness plays
/// both sides, as `glare-both` does; `glare` runs against the harness's `glare-callee` in
/// HarnessProsodyTests). `ice-restart` and `content-add` are tested against the agent once
/// JingleKit answers those actions.
@Suite(.serialized) struct HarnessScenariosAgentTests {
    static let library = ["\(Repository.root)/Samples/harness"]

    func scenario(_ name: String) throws -> Scenario { try ScenarioLibrary.load(name, searchPaths: Self.library) }

    /// `jingle-agent answer EXTRA...` on `account/resource`, logged in and waiting for calls.
    func agent(_ account: String, resource: String = "agent", _ extra: [String]) async throws -> (AgentProcess, JID) {
        let accounts = try await AgentAccounts.make()
        let process = try AgentProcess(
            "scenario-target-\(resource)",
            ["answer"] + extra + [
                "--report", "none", "--local-address", "127.0.0.1", "--no-discover-servers",
            ] + (try await accounts.arguments(account, resource: resource)))
        try await process.waitFor("waiting for calls")
        return (process, try #require(JID("\(accounts.bare(account))/\(resource)")))
    }

    /// Places `calls` calls of `scenario` from the harness account `harness` to `peer`.
    func run(_ scenario: Scenario, to peer: JID, harness: String, calls: Int = 2, media: MediaPlane? = nil) async throws -> RunReport {
        let prosody = try await ProsodyFixture.shared()
        let (jid, password) = try await prosody.account(harness)
        let (client, bound) = try await HarnessSetup.connect(
            HarnessAccount(jid: jid, password: password), index: 0,
            server: ServerSettings(
                host: "127.0.0.1", port: prosody.port,
                caFile: prosody.caFile))
        let endpoints = [HarnessEndpoint(client: client, localJID: bound, scenario: scenario, peer: peer)]
        // Every record whole, transcripts included (some tests read them).
        var options = LoadOptions(rate: 5, maxConcurrent: 2, totalCalls: calls, drainSeconds: 20)
        options.retention = .all
        let runner = LoadRunner(endpoints: endpoints, options: options, media: media)
        let report = await runner.run(scenarioName: scenario.name)
        await HarnessSetup.disconnect(endpoints)
        return report
    }

    func expectPassed(_ report: RunReport, calls: Int = 2, _ agent: AgentProcess) {
        #expect(report.allPassed, "\(report.scenario): \(report.failuresByCause)\n\(agent.transcript)")
        #expect(report.records.count == calls && report.started == calls)
    }

    @Test func callerPassesAgainstAnAnsweringAgent() async throws {
        let (agent, jid) = try await agent("hscen-agent-caller", ["--auto"])
        let report = try await run(try scenario("caller"), to: jid, harness: "hscen-harness-caller")
        agent.send(SIGTERM)
        expectPassed(report, agent)
        #expect(report.steps.contains { $0.name == "initiate->accept" && $0.summary.count == 2 })
    }

    /// With `--media` the harness's leg does ICE, DTLS-SRTP and Opus with the agent: a call passes
    /// only once the agent's first audio packet was decoded.
    @Test func callerWithMediaReachesFirstAudioFromTheAgent() async throws {
        let (agent, jid) = try await agent("hscen-agent-media", ["--auto"])
        let report = try await run(
            try scenario("caller"), to: jid, harness: "hscen-harness-media",
            media: .ice(localAddresses: ["127.0.0.1"], timeout: .seconds(10)))
        agent.send(SIGTERM)
        expectPassed(report, agent)
        #expect(report.steps.contains { $0.name == "dtls->first-media" && $0.summary.count == 2 }, "\(report.steps.map(\.name))")
    }

    /// The quality guard in the harness's verdict: an agent that drops 80 % of its RTP reaches
    /// first media, but the call's received frames are mostly concealed, so each call fails
    /// `media-concealed` rather than passing.
    @Test func mostlyConcealedMediaFailsTheCall() async throws {
        let (agent, jid) = try await agent("hscen-agent-concealed", ["--auto", "--test-drop-outgoing-rtp", "80"])
        let text = try String(contentsOfFile: "\(Self.library[0])/caller.xml", encoding: .utf8)
            .replacingOccurrences(of: "<pause ms=\"20\"/>", with: "<pause ms=\"2500\"/>")
        let report = try await run(
            try ScenarioParser.parse(text), to: jid, harness: "hscen-harness-concealed", calls: 1,
            media: .ice(localAddresses: ["127.0.0.1"], timeout: .seconds(10)))
        agent.send(SIGTERM)
        #expect(!report.allPassed)
        #expect(report.failuresByCause.contains { $0.cause == "media-concealed" }, "\(report.failuresByCause)\n\(agent.transcript)")
    }

    /// A caller chooses the sid; `--record DIR/{sid}.wav` must keep the recording in DIR. A sid
    /// of `../escaped-sid` wrote `escaped-sid.wav` one folder up; now the sid is reduced to a safe
    /// file name and the file is created with mode 0600.
    @Test func aCallersSidCannotPlaceTheRecordingOutsideItsFolder() async throws {
        let base = NSTemporaryDirectory() + "hscen-record-\(UUID().uuidString)"
        let folder = base + "/recordings"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (agent, jid) = try await agent("hscen-agent-record", ["--auto", "--record", "\(folder)/{sid}.wav"])
        let text = try String(contentsOfFile: "\(Self.library[0])/caller.xml", encoding: .utf8)
            .replacingOccurrences(of: "sid=\"[sid]\"", with: "sid=\"../escaped-sid\"")
        _ = try await run(try ScenarioParser.parse(text), to: jid, harness: "hscen-harness-record", calls: 1)
        agent.send(SIGTERM)
        _ = try await agent.exitStatus()
        #expect(!FileManager.default.fileExists(atPath: base + "/escaped-sid.wav"), "\(agent.transcript)")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(files == ["_._escaped-sid.wav"], "\(files)\n\(agent.transcript)")
        let mode = try FileManager.default.attributesOfItem(atPath: folder + "/_._escaped-sid.wav")[.posixPermissions] as? Int
        #expect(mode.map { $0 & 0o777 } == 0o600)
    }

    /// XEP-0353 to the agent's bare JID: propose, ringing, proceed, then the Jingle session.
    @Test func jmiCallerPassesAgainstAnAnsweringAgent() async throws {
        let (agent, jid) = try await agent("hscen-agent-jmi", ["--auto"])
        let report = try await run(try scenario("jmi-caller"), to: jid.bare, harness: "hscen-harness-jmi")
        agent.send(SIGTERM)
        expectPassed(report, agent)
        #expect(report.steps.contains { $0.name == "propose->proceed" && $0.summary.count == 2 })
    }

    /// The agent rings for five seconds before answering; the harness retracts on ringing.
    @Test func retractWhileRingingPassesAgainstARingingAgent() async throws {
        let (agent, jid) = try await agent("hscen-agent-retract", ["--auto", "--answer-after", "5"])
        let report = try await run(try scenario("retract-while-ringing"), to: jid.bare, harness: "hscen-harness-retract")
        agent.send(SIGTERM)
        expectPassed(report, agent)
        #expect(report.steps.contains { $0.name == "propose->ringing" && $0.summary.count == 2 })
    }

    /// `multi-device-caller` (JMI to a bare JID) with two devices online: the one answering at once takes the call (its
    /// proceed comes from its full JID, and the session goes there); the other, set to answer much
    /// later, stops ringing when it sees its sibling's proceed (XEP-0280 carbons).
    @Test func jmiCallerToTwoDevicesIsTakenByTheOneThatAnswers() async throws {
        let (desk, deskJID) = try await agent("hscen-agent-two", resource: "desk", ["--auto"])
        let (phone, _) = try await agent("hscen-agent-two", resource: "phone", ["--auto", "--answer-after", "30"])
        let report = try await run(try scenario("multi-device-caller"), to: deskJID.bare, harness: "hscen-harness-two")
        // The phone saw the desk's proceed and stopped ringing, well before its own 30 s answer.
        try await phone.waitFor("answeredElsewhere", limit: .seconds(10))
        desk.send(SIGTERM)
        phone.send(SIGTERM)
        // Its calls ended, the phone exits at once: its 30 s answer timers no longer hold them.
        try await phone.exitStatus(limit: .seconds(10))
        #expect(!phone.stderr.contains("cannot answer"), "\(phone.transcript)")
        expectPassed(report, desk)
        for record in report.records {
            let proceed = record.transcript.first { $0.elements.contains { $0.name == "proceed" } }
            #expect(proceed?.attribute("from") == deskJID.description, "call \(record.callNumber): \(String(describing: proceed))")
        }
    }

    /// Each way the agent ends a call, and the reason the harness sees: `terminate-reasons` as
    /// built in for `--decline`, and the same scenario expecting the other reasons. The last: the
    /// agent is stopped (SIGTERM) while the call is active and hangs up with success on its way out.
    static let reasons: [(name: String, agent: [String], reason: String, afterAccept: Bool)] = [
        ("decline", ["--decline"], "decline", false),
        ("busy", ["--busy"], "busy", false),
        ("hangup", ["--auto", "--hangup-after", "0.3"], "success", true),
        ("sigterm", ["--auto"], "success", true),
    ]

    /// `terminate-reasons` with `reason` in place of decline; for a reason given after the
    /// agent answered, the session-accept is expected first.
    func terminateScenario(reason: String, afterAccept: Bool) throws -> Scenario {
        var text = try String(contentsOfFile: "\(Self.library[0])/terminate-reasons.xml", encoding: .utf8)
        if afterAccept {
            // The ack of session-initiate reaches the scenario on another path than the peer's
            // requests, so an early hang-up can overtake it: the ack is optional here, and one
            // that comes after the accept is dropped.
            text = text.replacingOccurrences(
                of: """
                        <expect type="result" measure="initiate->result"/>
                        <expect type="set" action="session-terminate" reason="decline" measure="initiate->terminate"/>
                      </unordered>
                      <answer-iq/>
                    """,
                with: """
                        <expect type="result" measure="initiate->result" optional="true"/>
                        <expect type="set" action="session-accept" measure="initiate->accept"/>
                      </unordered>
                      <answer-iq/>
                      <ignore kind="iq" type="result"/>
                      <ignore kind="iq" type="set" action="transport-info"/>
                      <expect type="set" action="session-terminate" reason="\(reason)" measure="initiate->terminate"/>
                      <answer-iq/>
                    """)
        } else {
            text = text.replacingOccurrences(of: "reason=\"decline\"", with: "reason=\"\(reason)\"")
        }
        let parsed = try ScenarioParser.parse(text)
        #expect(text.contains("reason=\"\(reason)\""), "the built-in terminate-reasons changed shape")
        return parsed
    }

    @Test(arguments: 0..<4)
    func terminateReasonsPassForEachWayTheAgentEndsACall(_ index: Int) async throws {
        let (name, args, reason, afterAccept) = Self.reasons[index]
        let script =
            try reason == "decline"
            ? scenario("terminate-reasons")
            : terminateScenario(reason: reason, afterAccept: afterAccept)
        let (agent, jid) = try await agent("hscen-agent-\(name)", args)
        let calls = name == "sigterm" ? 1 : 2
        let running = Task { try await run(script, to: jid, harness: "hscen-harness-\(name)", calls: calls) }
        if name == "sigterm" {
            try await agent.waitFor("is active")
            agent.send(SIGTERM)
        }
        let report = try await running.value
        agent.send(SIGTERM)
        expectPassed(report, calls: calls, agent)
        #expect(report.steps.contains { $0.name == "initiate->terminate" && $0.summary.count == calls })
    }
}
