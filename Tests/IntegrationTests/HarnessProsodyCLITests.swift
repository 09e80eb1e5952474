import Foundation
import Testing
import XMPPCore

/// The built `jingle-harness` executable through the shared Prosody: its exit status tells a
/// passing run (0) from failing calls (1), bad arguments (64), a malformed input file (65, the
/// message naming file, line and problem) and a refused login (69).
@Suite(.serialized) struct HarnessProsodyCLITests {
    /// The executable built next to the test bundle (whatever the scratch path), else .build/debug.
    static var harness: String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("jingle-harness")
            .path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return "\(Repository.root)/.build/debug/jingle-harness"
    }

    static let samples = "\(Repository.root)/Samples/harness"

    /// Runs the executable off the cooperative threads (the in-process targets need them meanwhile).
    func harness(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await harnessRunProcess(Self.harness, arguments)
    }

    func temporary(_ name: String, _ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "jingle-harness-cli-\(UUID().uuidString)-\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func accounts(_ names: [String]) async throws -> String {
        let prosody = try await ProsodyFixture.shared()
        var rows = ["jid,password"]
        for name in names {
            let (jid, password) = try await prosody.account(name)
            rows.append("\(jid),\(password)")
        }
        return try temporary("accounts.csv", rows.joined(separator: "\n") + "\n")
    }

    func server() async throws -> [String] {
        let prosody = try await ProsodyFixture.shared()
        return ["--server", "127.0.0.1:\(prosody.port)", "--ca-file", prosody.caFile]
    }

    @Test func aPassingRunExitsZero() async throws {
        let csv = try await accounts(["hcli-a", "hcli-b"])
        let (status, output) = try await harness(
            [
                "run", "\(Self.samples)/caller.xml", "--accounts", csv, "--calls", "2",
                "--rate", "20", "--quiet",
            ] + (try await server()))
        #expect(status == 0, "output:\n\(output)")
        #expect(output.contains("caller: 4 call legs started, 4 finished, 4 passed, 0 failed"), "output:\n\(output)")
    }

    @Test func failingCallsExitOneWithTheCause() async throws {
        let csv = try await accounts(["hcli-c", "hcli-d"])
        let (status, output) = try await harness(
            [
                "run", "\(Self.samples)/caller.xml", "--peer-scenario", "\(Self.samples)/broken/out-of-order.xml",
                "--accounts", csv, "--calls", "1", "--drain", "10", "--quiet",
            ] + (try await server()))
        #expect(status == 1, "output:\n\(output)")
        #expect(output.contains("jingle:out-of-order"), "output:\n\(output)")
    }

    @Test func badArgumentsExit64NamingTheOption() async throws {
        let (status, output) = try await harness(["run", "caller", "--accounts", "x.csv", "--role", "sideways"])
        #expect(status == 64, "output:\n\(output)")
        #expect(output.contains("--role"), "output:\n\(output)")
        let (status2, output2) = try await harness(["conformance", "--accounts", "x.csv"])
        #expect(status2 == 64, "output:\n\(output2)")
        #expect(output2.contains("--target"), "output:\n\(output2)")
    }

    @Test func aMalformedScenarioExits65NamingFileLineAndProblem() async throws {
        let scenario = try temporary(
            "bad.xml",
            """
            <scenario name="bad" role="initiator" peer="callee">
              <send><iq type="set" to="[peer]" id="[id]"/></send>
              <expect type="result" colour="blue"/>
            </scenario>
            """)
        let csv = try await accounts(["hcli-e", "hcli-f"])
        let (status, output) = try await harness(["run", scenario, "--accounts", csv] + (try await server()))
        #expect(status == 65, "output:\n\(output)")
        #expect(output.contains("\(scenario):3: <expect>: unknown attribute 'colour'"), "output:\n\(output)")

        let notXML = try temporary("broken.xml", "<scenario name='x' role='initiator'>\n<send>\n</scenario>\n")
        let (status2, output2) = try await harness(["run", notXML, "--accounts", csv])
        #expect(status2 == 65, "output:\n\(output2)")
        #expect(output2.contains("\(notXML):3:") && output2.contains("XML error"), "output:\n\(output2)")
    }

    @Test func aMalformedAccountsFileExits65NamingFileAndLine() async throws {
        let csv = try temporary("accounts.csv", "jid,password\nalice@localhost,secret\nnot a jid\n")
        let (status, output) = try await harness(["run", "\(Self.samples)/caller.xml", "--accounts", csv])
        #expect(status == 65, "output:\n\(output)")
        #expect(output.contains("\(csv):3: expected jid,password"), "output:\n\(output)")
    }

    @Test func aRefusedLoginExits69() async throws {
        _ = try await accounts(["hcli-g"])
        let csv = try temporary("accounts.csv", "hcli-g@localhost,wrong-password\nhcli-h@localhost,wrong-too\n")
        let (status, output) = try await harness(["run", "\(Self.samples)/caller.xml", "--accounts", csv] + (try await server()))
        #expect(status == 69, "output:\n\(output)")
        #expect(output.contains("login failed"), "output:\n\(output)")
    }

    @Test func conformanceAgainstABrokenTargetExitsOneAndWritesJUnit() async throws {
        let target = try await ScenarioTarget(account: "hcli-nofp", scenarioFile: "\(Self.samples)/broken/no-fingerprint.xml")
        let csv = try await accounts(["hcli-conformance"])
        let junit = NSTemporaryDirectory() + "jingle-harness-cli-\(UUID().uuidString)-junit.xml"
        let run = try await harness(
            [
                "conformance", "--target", target.target.jid.description, "--accounts", csv,
                "--rule", "xep0320-fingerprint", "--rule", "xep0167-opus-accepted", "--junit", junit,
            ] + (try await server()))
        await target.stop()
        #expect(run.status == 1, "output:\n\(run.output)")
        #expect(run.output.contains("FAIL xep0320-fingerprint"), "output:\n\(run.output)")
        #expect(run.output.contains("PASS xep0167-opus-accepted"), "output:\n\(run.output)")
        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(xml.contains("tests='2'") && xml.contains("failures='1'") && xml.contains("missing:fingerprint@hash"), "\(xml)")
    }

    @Test func conformanceFromTheCommandLinePassesEveryRuleAgainstJingleKitWithATriggerCommand() async throws {
        // The trigger command writes the harness JID into a FIFO; reading it (a blocking read on
        // its own thread) is the signal to make the target call that JID.
        let target = try await CallManagerTarget(account: "hcli-jinglekit")
        let fifo = NSTemporaryDirectory() + "jingle-harness-trigger-\(UUID().uuidString)"
        guard mkfifo(fifo, 0o600) == 0 else { throw FixtureError(description: "mkfifo failed") }
        defer { unlink(fifo) }
        let placeCall = try #require(target.target.placeCall)
        let triggered = Task { () -> String? in
            let jid: String = await withCheckedContinuation { c in
                Thread {
                    let data = FileHandle(forReadingAtPath: fifo)?.readDataToEndOfFile() ?? Data()
                    c.resume(returning: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
                }.start()
            }
            guard let harness = JID(jid) else { return nil }
            try? await placeCall(harness)
            return jid
        }
        let csv = try await accounts(["hcli-conformance-all"])
        let json = NSTemporaryDirectory() + "jingle-harness-cli-\(UUID().uuidString).json"
        let run = try await harness(
            [
                "conformance", "--target", target.target.jid.description, "--accounts", csv,
                "--trigger-command", "echo {jid} > \(fifo)", "--json", json,
            ] + (try await server()))
        // If the trigger never came, a writer that opens and closes ends the reader's wait.
        let unblock = open(fifo, O_WRONLY | O_NONBLOCK)
        if unblock >= 0 { close(unblock) }
        let caller = await triggered.value
        await target.stop()
        #expect(run.status == 0, "output:\n\(run.output)")
        #expect(caller?.hasPrefix("hcli-conformance-all@localhost/") == true)
        #expect(run.output.contains("16 passed, 0 failed, 0 skipped"), "output:\n\(run.output)")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any]
        #expect(summary?["passed"] as? Int == 16)
    }
}
