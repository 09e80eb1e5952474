import Foundation
import Harness
import JingleKit
import Testing
import XMLStream
import XMPPClient
import XMPPCore

/// An implementation under test, logged into the shared Prosody. The suite below runs the
/// conformance rules against any of these; add one (e.g. `jingle-agent answer --auto` started as
/// a process) by conforming to this protocol.
protocol ConformanceTargetUnderTest: Sendable {
    /// The JID to test, and how to make the target call the harness (for the tie-break rule).
    var target: ConformanceTarget { get }
    func stop() async
}

/// JingleKit's `CallManager` as an auto-answering target: every incoming call rings for
/// `ringPeriod` (the target's behaviour, as a phone would) and is then accepted.
final class CallManagerTarget: ConformanceTargetUnderTest {
    let client: XMPPClient
    let manager: CallManager
    let answering: Task<Void, Never>
    let target: ConformanceTarget

    init(account: String, ringPeriod: Duration = .seconds(2)) async throws {
        let prosody = try await ProsodyFixture.shared()
        let (jid, password) = try await prosody.account(account)
        client = XMPPClient(
            configuration: XMPPClientConfiguration(
                jid: JID(localpart: jid.localpart, domainpart: jid.domainpart, resourcepart: "target"), password: password,
                server: .init(host: "127.0.0.1", port: prosody.port), trustedCAFile: prosody.caFile,
                connectTimeout: .seconds(5), negotiationStepTimeout: .seconds(10), requestTimeout: .seconds(10)))
        let info = try await client.connect()
        let manager = try await CallManager.forClient(client)
        await manager.start()
        self.manager = manager
        answering = Task {
            for await call in manager.incomingCalls {
                Task {
                    try? await Task.sleep(for: ringPeriod)
                    try? await call.accept()
                }
            }
        }
        target = ConformanceTarget(jid: info.boundJID) { harness in
            _ = try await manager.placeCall(to: harness, useJMI: false, timeout: .seconds(10))
        }
        // A round trip through the server after the initial presence: the target is available.
        _ = try await client.ping(nil, timeout: .seconds(10))
    }

    func stop() async {
        answering.cancel()
        await manager.stop()
        await client.disconnect()
    }
}

/// A second harness playing a responder scenario (e.g. one of Samples/harness/broken/) as the target.
final class ScenarioTarget: ConformanceTargetUnderTest {
    let endpoint: HarnessEndpoint
    let runner: LoadRunner
    let running: Task<RunReport, Never>
    let target: ConformanceTarget

    init(account: String, scenarioFile: String) async throws {
        let prosody = try await ProsodyFixture.shared()
        let (jid, password) = try await prosody.account(account)
        let scenario = try ScenarioParser.parse(contentsOf: scenarioFile)
        let server = ServerSettings(host: "127.0.0.1", port: prosody.port, caFile: prosody.caFile)
        let (client, bound) = try await HarnessSetup.connect(HarnessAccount(jid: jid, password: password), index: 0, server: server)
        endpoint = HarnessEndpoint(client: client, localJID: bound, scenario: scenario)
        let runner = LoadRunner(endpoints: [endpoint], options: LoadOptions(totalCalls: nil, durationSeconds: 3600, drainSeconds: 1))
        self.runner = runner
        running = Task { await runner.run(scenarioName: scenario.name) }
        target = ConformanceTarget(jid: bound)
        _ = try await client.ping(nil, timeout: .seconds(10))
    }

    func stop() async {
        await runner.stop()
        _ = await running.value
        await endpoint.client.disconnect()
    }
}

/// Runs the selected rules (all when empty) from the account `harness` against `target`, then stops it.
func runConformance(_ rules: [String], against target: some ConformanceTargetUnderTest, harness: String) async throws -> ConformanceReport {
    let prosody = try await ProsodyFixture.shared()
    let (jid, password) = try await prosody.account(harness)
    let server = ServerSettings(host: "127.0.0.1", port: prosody.port, caFile: prosody.caFile)
    let report: ConformanceReport
    do {
        report = try await ConformanceRunner.run(
            try ConformanceSuite.select(rules), target: target.target,
            account: HarnessAccount(jid: jid, password: password), server: server)
    } catch {
        await target.stop()
        throw error
    }
    await target.stop()
    print(report.text)
    return report
}

/// `jingle-harness conformance` (the library behind it) through the shared Prosody: every rule
/// passes against JingleKit's own responder, and deliberately broken responders fail exactly the
/// rules they break, with the right cause and the stanza that decided it.
@Suite(.serialized) struct HarnessConformanceTests {
    func run(against target: some ConformanceTargetUnderTest, harness: String, rules: [String] = []) async throws -> ConformanceReport {
        try await runConformance(rules, against: target, harness: harness)
    }

    func broken(_ name: String) -> String { "\(Repository.root)/Samples/harness/broken/\(name).xml" }

    @Test func everyRulePassesAgainstJingleKitsCallManager() async throws {
        let report = try await run(against: try await CallManagerTarget(account: "hconf-jinglekit"), harness: "hconf-harness-a")
        #expect(report.outcomes.count == ConformanceSuite.rules.count)
        for outcome in report.outcomes {
            #expect(outcome.status == .pass, "\(ConformanceReport.line(outcome))")
            #expect(outcome.stanza != nil, "\(outcome.rule.id) names no deciding stanza")
        }
        #expect(report.allPassed)
        // The deciding stanzas are the target's own answers.
        let unknown = try #require(report.outcome("xep0166-unknown-session")?.stanza)
        #expect(unknown.attribute("type") == "error" && unknown.child("error")?.elements.contains { $0.name == "unknown-session" } == true)
        let tieBreak = try #require(report.outcome("xep0166-tie-break")?.stanza)
        #expect(tieBreak.child("error")?.elements.contains { $0.name == "tie-break" } == true)
    }

    @Test func withoutAWayToMakeTheTargetCallTheTieBreakRuleIsSkippedNotPassed() async throws {
        let target = try await CallManagerTarget(account: "hconf-jinglekit-b")
        let report = try await run(
            against: TargetWithoutCalls(inner: target), harness: "hconf-harness-b",
            rules: ["xep0166-tie-break", "xep0166-unknown-session"])
        #expect(report.outcome("xep0166-tie-break")?.status == .skip)
        #expect(report.outcome("xep0166-unknown-session")?.status == .pass)
        #expect(report.allPassed && report.skipped == 1)
    }

    @Test func aResponderThatAnswersOutOfOrderFailsTheCallRulesWithOutOfOrder() async throws {
        let target = try await ScenarioTarget(account: "hconf-broken-ooo", scenarioFile: broken("out-of-order"))
        let report = try await run(
            against: target, harness: "hconf-harness-c",
            rules: ["xep0167-opus-accepted", "xep0320-fingerprint", "xep0166-unknown-session"])
        for id in ["xep0167-opus-accepted", "xep0320-fingerprint"] {
            let outcome = try #require(report.outcome(id))
            #expect(outcome.status == .fail && outcome.cause == "jingle:out-of-order", "\(ConformanceReport.line(outcome))")
            #expect(outcome.stanza?.child("error")?.elements.contains { $0.name == "out-of-order" } == true)
        }
        // The harness answering for an unknown sid on the target's behalf still passes its rule.
        #expect(report.outcome("xep0166-unknown-session")?.status == .pass)
        #expect(!report.allPassed)
    }

    @Test func aResponderThatNeverAnswersFailsWithATimeoutButPassesRinging() async throws {
        let target = try await ScenarioTarget(account: "hconf-broken-silent", scenarioFile: broken("never-answers"))
        let report = try await run(against: target, harness: "hconf-harness-d", rules: ["xep0167-opus-accepted", "xep0167-ringing"])
        let accepted = try #require(report.outcome("xep0167-opus-accepted"))
        #expect(accepted.status == .fail && accepted.cause == "timeout", "\(ConformanceReport.line(accepted))")
        #expect(accepted.detail?.contains("session-accept") == true)
        let ringing = try #require(report.outcome("xep0167-ringing"))
        #expect(ringing.status == .pass, "\(ConformanceReport.line(ringing))")
        #expect(ringing.stanza?.child("jingle")?.attribute("action") == "session-info")
    }

    /// A JMI target that never sends <ringing/> (as Dino 0.4.2): ringing-proceed fails on the
    /// missing ringing; the retract rule still retracts (after 3 s) and passes, since no proceed
    /// follows; the busy rule cannot tell busy from "offering both calls", so it is inconclusive
    /// rather than failed (before, both waited for a ringing that never came and failed).
    @Test func aJMITargetThatNeverRingsIsJudgedOnWhatItDid() async throws {
        let target = try await ScenarioTarget(account: "hconf-broken-noring", scenarioFile: broken("jmi-never-rings"))
        let report = try await run(against: target, harness: "hconf-harness-f", rules: ["xep0353"])
        let proceed = try #require(report.outcome("xep0353-ringing-proceed"))
        #expect(proceed.status == .fail && proceed.detail?.contains("ringing") == true, "\(ConformanceReport.line(proceed))")
        let retract = try #require(report.outcome("xep0353-retract-stops-ringing"))
        #expect(retract.status == .pass, "\(ConformanceReport.line(retract))")
        let busy = try #require(report.outcome("xep0353-busy-reject"))
        #expect(busy.status == .inconclusive && busy.cause == "precondition:not-busy", "\(ConformanceReport.line(busy))")
        #expect(busy.hint?.contains("--max-concurrent 1") == true)
    }

    @Test func aResponderOmittingTheFingerprintFailsOnlyTheXEP0320Rules() async throws {
        let target = try await ScenarioTarget(account: "hconf-broken-nofp", scenarioFile: broken("no-fingerprint"))
        let report = try await run(against: target, harness: "hconf-harness-e", rules: ["xep0167", "xep0176", "xep0320"])
        let fingerprint = try #require(report.outcome("xep0320-fingerprint"))
        #expect(fingerprint.status == .fail && fingerprint.cause == "missing:fingerprint@hash", "\(ConformanceReport.line(fingerprint))")
        #expect(fingerprint.stanza?.child("jingle")?.attribute("action") == "session-accept")
        let setup = try #require(report.outcome("xep0320-setup-not-actpass"))
        #expect(setup.status == .fail && setup.cause == "missing:fingerprint@setup")
        for id in ["xep0167-opus-accepted", "xep0167-answer-only-offered", "xep0167-ringing", "xep0176-credentials", "xep0176-candidates"] {
            #expect(report.outcome(id)?.status == .pass, "\(report.outcome(id).map { ConformanceReport.line($0) } ?? id)")
        }
    }
}

/// A target that cannot be asked to place calls.
struct TargetWithoutCalls<Inner: ConformanceTargetUnderTest>: ConformanceTargetUnderTest {
    let inner: Inner
    var target: ConformanceTarget { ConformanceTarget(jid: inner.target.jid) }
    func stop() async { await inner.stop() }
}
