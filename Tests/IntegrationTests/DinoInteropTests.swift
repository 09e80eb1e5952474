import Foundation
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// Real calls between jingle-agent and Dino 0.4.2 (Debian `dino-im`), both ways, through
/// `Tools/peers/dino/interop`: a private network and mount namespace holding Prosody on 5222, a
/// headless Dino (Xvfb, session bus, PulseAudio null sinks) driven over AT-SPI, and the agent.
/// The agent speaks first, then Dino's microphone gets other words; each side's recording is
/// scored with wideband PESQ against what the other side was given. Real time (about 55 s each):
/// Tools/test runs these on their own. Never skipped: without Dino and the headless stack, or
/// without root (namespaces), the tests fail and say to run Tools/bootstrap.
@Suite(.serialized) struct DinoInteropRealTimeTests {
    struct Outcome {
        let directory: String
        let agentExit: Int32
        let report: [String: Any]
        let agentHeard: Double? // PESQ of the agent's recording against Dino's microphone speech
        let dinoHeard: Double? // PESQ of Dino's speaker against the agent's speech
        let details: String
    }

    static let script = "\(Repository.root)/Tools/peers/dino/interop"

    /// What the interop script needs; a missing piece fails the test with the fix.
    func requirePrerequisites() throws {
        guard getuid() == 0 else {
            throw AgentTestError("DinoInterop: needs root (network and mount namespaces for Dino); run Tools/test as root")
        }
        let tools = [
            "/usr/bin/dino-im", "/usr/bin/Xvfb", "/usr/bin/pulseaudio", "/usr/bin/parec", "/usr/bin/paplay",
            "/usr/bin/dbus-daemon", "/usr/bin/import", "/usr/bin/sqlite3", "/usr/bin/nsenter", "/usr/bin/unshare",
            "/usr/bin/prosody", "/usr/bin/espeak-ng", "/usr/bin/sox",
            "/usr/lib/python3/dist-packages/pyatspi/__init__.py",
        ]
        let missing = tools.filter { !FileManager.default.fileExists(atPath: $0) }
        guard missing.isEmpty else {
            throw AgentTestError(
                "DinoInterop: missing \(missing.joined(separator: ", ")): run Tools/bootstrap (it installs dino-im and the headless stack)")
        }
        guard FileManager.default.isExecutableFile(atPath: AgentProcess.executable) else {
            throw AgentTestError("DinoInterop: no jingle-agent at \(AgentProcess.executable) (swift build --build-tests)")
        }
    }

    /// Runs one call (bounded: `limit`), always stopping the session afterwards.
    func call(_ mode: String, environment: [String: String] = [:], limit: Duration = .seconds(150)) async throws -> Outcome {
        try requirePrerequisites()
        let dir = "\(Repository.runDirectory)/dino-\(mode)-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { _ = try? Repository.runBlocking("/bin/bash", ["\(Repository.root)/Tools/peers/dino/session", "stop", "\(dir)/session"]) }

        let log = "\(dir)/interop.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Self.script, dir, mode, AgentProcess.executable]
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        try process.run()
        let deadline = ContinuousClock.now + limit
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(200)) }
        if process.isRunning {
            process.terminate() // the script's EXIT trap stops the session; the defer above makes sure
            try await Task.sleep(for: .seconds(3))
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw AgentTestError("DinoInterop \(mode): Tools/peers/dino/interop did not finish within \(limit)\n\(read(log))")
        }

        func file(_ name: String) -> String { read("\(dir)/\(name)") }
        let details = """
            --- interop.log
            \(file("interop.log"))--- agent.err
            \(file("agent.err"))--- drive.log
            \(file("drive.log"))--- session.log (tail)
            \(file("session/session.log").suffix(1500))
            (files and screenshots in \(dir))
            """
        guard process.terminationStatus == 0 else {
            throw AgentTestError("DinoInterop \(mode): Tools/peers/dino/interop exited \(process.terminationStatus)\n\(details)")
        }
        guard let exit = Int32(file("agent.exit").trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw AgentTestError("DinoInterop \(mode): no agent exit status\n\(details)")
        }
        let lines = file("agent.json").split(separator: "\n")
        guard lines.count == 1,
            let report = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
        else {
            throw AgentTestError("DinoInterop \(mode): expected one JSON report from the agent, got \(lines.count)\n\(details)")
        }
        func score(_ name: String) -> Double? { Double(file(name).trimmingCharacters(in: .whitespacesAndNewlines)) }
        return Outcome(
            directory: dir, agentExit: exit, report: report, agentHeard: score("pesq-agent-heard"),
            dinoHeard: score("pesq-dino-heard"), details: details)
    }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    func check(_ o: Outcome, endedByPeer: Bool, exit: Int32 = 0) {
        let r = o.report
        let media = r["media"] as? [String: Any] ?? [:]
        let setup = r["setup"] as? [String: Any] ?? [:]
        let context = Comment(rawValue: "report: \(r)\n\(o.details)")
        #expect(o.agentExit == exit, context)
        #expect(r["outcome"] as? String == "completed", context)
        #expect(r["exitCode"] as? Int == Int(exit), context)
        #expect(r["endedByPeer"] as? Bool == endedByPeer, context)
        #expect(r["jmi"] as? Bool == true, context)
        #expect(setup["iceConnectedMs"] is Double && setup["dtlsConnectedMs"] is Double, "ICE and DTLS up: \(setup)")
        #expect(setup["firstAudioMs"] is Double, "audio from Dino: \(setup)")
        #expect(media["srtpProfile"] as? String == "AES_CM_128_HMAC_SHA1_80", "Dino offers AES_CM_128_HMAC_SHA1_80 only: \(media)")
        #expect(media["redAgreed"] as? Bool == false, "Dino has no RED: plain Opus both ways: \(media)")
        let concealment = media["concealmentRate"] as? Double ?? 1
        #expect(concealment < 0.05, "concealment \(concealment * 100) % \(media)")
        #expect((media["packetsReceived"] as? Int ?? 0) > 1000, "20 s and more of Dino's audio: \(media)")
        #expect(
            (o.agentHeard ?? 0) >= 3.5,
            "PESQ of what the agent recorded against Dino's microphone speech: \(String(describing: o.agentHeard))\n\(o.details)")
        #expect(
            (o.dinoHeard ?? 0) >= 3.5, "PESQ of Dino's speaker against the agent's speech: \(String(describing: o.dinoHeard))\n\(o.details)"
        )
        print(
            "DinoInteropRealTimeTests: \(read("\(o.directory)/summary").trimmingCharacters(in: .whitespacesAndNewlines)); "
                + "concealment \(concealment), pair \(media["selectedPair"] ?? "-"), setup \(setup)")
    }

    func cleanUp(_ o: Outcome) {
        if ProcessInfo.processInfo.environment["JINGLEKIT_KEEP_AUDIO"] == nil { try? FileManager.default.removeItem(atPath: o.directory) }
    }

    /// jingle-agent calls bob@localhost (JMI to the bare JID); Dino rings and is answered over
    /// AT-SPI; the agent hangs up after 40 s. The agent is also asked to send DTMF: Dino 0.4.2
    /// has no telephone-event at all (its rtp plugin lists Opus, Speex, G722, PCMU and PCMA, and
    /// its accept keeps one payload type), so the digits cannot go, and the report must say so
    /// with exit 8 rather than claim a clean call; the audio both ways is scored as usual.
    @Test func agentCallsDino() async throws {
        let o = try await call("agent-calls", environment: ["AGENT_DTMF": "5#"])
        check(o, endedByPeer: false, exit: 8)
        let problem = o.report["dtmfProblem"] as? String ?? ""
        #expect(problem.contains("DTMF 5# not sent") && problem.contains("telephone-event"), "\(o.report)")
        if o.agentExit == 8 && (o.agentHeard ?? 0) >= 3.5 && (o.dinoHeard ?? 0) >= 3.5 { cleanUp(o) }
    }

    /// Dino calls alice (its call button over AT-SPI); `jingle-agent answer --auto` takes it; Dino
    /// hangs up with its red button once both have spoken.
    @Test func dinoCallsAgent() async throws {
        let o = try await call("dino-calls")
        check(o, endedByPeer: true)
        if o.agentExit == 0 && (o.agentHeard ?? 0) >= 3.5 && (o.dinoHeard ?? 0) >= 3.5 { cleanUp(o) }
    }
}
