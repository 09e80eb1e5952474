import Foundation
import Harness
import Testing
import XMPPCore

/// The multi-device built-ins (XEP-0353 §3.2 with XEP-0280 carbons) through Prosody: the callee
/// account is logged in twice, both devices ring, device 1 takes the call and device 2 stops
/// ringing when device 1's proceed reaches it as a carbon.
@Suite(.serialized) struct HarnessMultiDeviceProsodyTests {
    func scenario(_ name: String) throws -> Scenario {
        try ProsodyFixture.sampleScenario(name)
    }

    func server(_ prosody: ProsodyFixture) -> ServerSettings {
        prosody.harnessServer
    }

    @Test func harnessCallerAndTwoDeviceCalleePass() async throws {
        let prosody = try await ProsodyFixture.shared()
        let caller = try await prosody.account("hmulti-caller")
        let callee = try await prosody.account("hmulti-callee")
        let endpoints = try await HarnessSetup.pairs(
            [HarnessAccount(jid: caller.jid, password: caller.password), HarnessAccount(jid: callee.jid, password: callee.password)],
            initiator: try scenario("multi-device-caller"), responder: try scenario("multi-device-callee"), devices: 2,
            server: server(prosody))
        #expect(endpoints.count == 3)
        // The caller calls the callee's bare JID; the two devices are two resources of it.
        #expect(endpoints[0].peer == callee.jid.bare)
        #expect(Set(endpoints.dropFirst().map(\.localJID.bare)) == [callee.jid.bare])
        #expect(Set(endpoints.dropFirst().compactMap { $0.variables["device"] }) == ["1", "2"])
        let runner = LoadRunner(endpoints: endpoints, options: LoadOptions(rate: 5, maxConcurrent: 1, totalCalls: 3, drainSeconds: 15))
        let report = await runner.run(scenarioName: "multi-device-caller")
        await HarnessSetup.disconnect(endpoints)
        #expect(report.allPassed, "\(report.failuresByCause)")
        #expect(report.records.filter { $0.role == .initiator }.count == 3)
        #expect(report.records.filter { $0.role == .responder }.count == 6)
        let steps = Dictionary(uniqueKeysWithValues: report.steps.map { ($0.name, $0.summary.count) })
        #expect(steps["ringing->answered-elsewhere"] == 3, "\(steps)")
        #expect(steps["proceed->initiate"] == 3, "\(steps)")
        #expect(steps["initiate->accept"] == 3, "\(steps)")
    }

    /// `jingle-agent call` to the bare JID of a user on two harness devices: the agent talks to
    /// the device that proceeded, and the other stops ringing on the carbon.
    @Test func jingleAgentCallsTwoHarnessDevices() async throws {
        let prosody = try await ProsodyFixture.shared()
        let agents = try await AgentAccounts.make()
        let callee = try await prosody.account("hmulti-agent-callee")
        let endpoints = try await HarnessSetup.responders(
            HarnessAccount(jid: callee.jid, password: callee.password), index: 0,
            scenario: try scenario("multi-device-callee"), devices: 2,
            server: server(prosody))
        // A responder-only run ends once this many legs (one per device) have started and finished.
        let runner = LoadRunner(endpoints: endpoints, options: LoadOptions(totalCalls: 2, drainSeconds: 15))
        let run = Task { await runner.run(scenarioName: "multi-device-callee") }
        let caller = try AgentProcess(
            "multi-caller",
            ["call", agents.bare("hmulti-agent-callee")]
                + (try await agents.arguments("hmulti-agent-caller"))
                + ["--report", "json", "--hangup-after", "0.5", "--signalling-only"])
        let status = try await caller.exitStatus()
        let report = await run.value
        await HarnessSetup.disconnect(endpoints)
        #expect(status == 0, "\(caller.transcript)")
        #expect(report.allPassed, "\(report.failuresByCause)")
        #expect(report.records.count == 2)
        let out = try caller.report()
        #expect(out["outcome"] as? String == "completed")
        let device1 = try #require(endpoints.first { $0.variables["device"] == "1" })
        #expect(out["remoteDevice"] as? String == device1.localJID.description)
        #expect(report.steps.contains { $0.name == "ringing->answered-elsewhere" && $0.summary.count == 1 })
    }

    /// The same through the built executable: `--devices 2` logs the callee in twice.
    @Test func theCommandLineRunsTwoDevices() async throws {
        let prosody = try await ProsodyFixture.shared()
        var rows = ["jid,password"]
        for name in ["hmulti-cli-a", "hmulti-cli-b"] {
            let (jid, password) = try await prosody.account(name)
            rows.append("\(jid),\(password)")
        }
        let csv = NSTemporaryDirectory() + "jingle-harness-multi-\(UUID().uuidString).csv"
        try (rows.joined(separator: "\n") + "\n").write(toFile: csv, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: csv) }
        let server = ["--server", "127.0.0.1:\(prosody.port)", "--ca-file", prosody.caFile]
        let (status, output) = try await harnessRunProcess(
            HarnessProsodyCLITests.harness,
            [
                "run", "multi-device-caller", "--devices", "2", "--accounts", csv, "--calls", "2", "--quiet",
            ] + server)
        #expect(status == 0, "output:\n\(output)")
        #expect(output.contains("multi-device-caller: 6 call legs started, 6 finished, 6 passed, 0 failed"), "output:\n\(output)")
        let (badStatus, badOutput) = try await harnessRunProcess(
            HarnessProsodyCLITests.harness,
            [
                "run", "multi-device-caller", "--devices", "0", "--accounts", csv,
            ] + server)
        #expect(badStatus == 64, "output:\n\(badOutput)")
        #expect(badOutput.contains("--devices"), "output:\n\(badOutput)")
    }
}
