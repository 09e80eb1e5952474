import Foundation
import Harness
import Testing
import XMPPCore

/// Pausing, resuming and changing the rate of a running load through the shared Prosody: in
/// process (LoadRunner's `pause()`, `resume()`, `setRate(_:)`), and from outside the built
/// `jingle-harness run` with SIGUSR1 / SIGUSR2, as SIPp users drive a load.
@Suite(.serialized) struct HarnessPauseTests {
    func endpoints(_ caller: String, _ callee: String) async throws -> [HarnessEndpoint] {
        try await ProsodyFixture.shared().harnessPairs(
            [caller, callee], initiator: try ProsodyFixture.sampleScenario("caller"),
            responder: try ProsodyFixture.sampleScenario("callee"))
    }

    @Test(.timeLimit(.minutes(2)))
    func noCallStartsWhilePausedAndAfterResumeTheRunReachesItsTotal() async throws {
        let endpoints = try await endpoints("hpause-caller", "hpause-callee")
        let runner = LoadRunner(
            endpoints: endpoints,
            options: LoadOptions(
                rate: 10, maxConcurrent: 10, totalCalls: 20,
                drainSeconds: 15))
        let (ticks, sink) = AsyncStream.makeStream(of: LiveCounters.self)
        let run = Task { await runner.run(scenarioName: "caller", progressInterval: .milliseconds(100)) { sink.yield($0) } }

        await runner.waitUntilStarted(4)
        await runner.pause()
        // Once pause() has returned no call starts: the count is frozen from here.
        let atPause = await runner.counters
        let frozen = atPause.started
        #expect(frozen >= 4 && frozen < 20)
        await runner.setRate(40)
        let rate = await runner.rate
        let paused = await runner.isPaused
        #expect(rate == 40 && paused)

        // Watch until every call in flight has finished, then five more ticks: started stays put.
        var ticksAfterDrain = 0
        var seen = 0
        var lastTick: LiveCounters?
        for await tick in ticks where tick.elapsed >= atPause.elapsed { // the stream may hold older ticks
            seen += 1
            lastTick = tick
            #expect(tick.started == frozen, "a call started while paused: \(tick)")
            #expect(tick.paused)
            if tick.inFlight == 0 && tick.succeeded + tick.failed == frozen { ticksAfterDrain += 1 }
            if ticksAfterDrain >= 5 || seen >= 300 { break }
        }
        #expect(ticksAfterDrain >= 5, "calls in flight did not finish while paused: \(String(describing: lastTick))")
        #expect(lastTick?.rate == 40)

        await runner.resume()
        #expect(await !runner.isPaused)
        let report = await run.value
        sink.finish()
        await HarnessSetup.disconnect(endpoints)
        #expect(report.allPassed, "\(report.failuresByCause)")
        #expect(report.records.filter { $0.role == .initiator }.count == 20)
        #expect(report.pausedSeconds > 0 && report.pausedSeconds < report.elapsedSeconds)
        #expect(report.rate > Double(20) / report.elapsedSeconds, "the rate must leave out the paused time")
    }

    @Test(.timeLimit(.minutes(2)))
    func aRunPausedFromTheStartPlacesNothingAndStopEndsIt() async throws {
        let endpoints = try await endpoints("hpause-stop-caller", "hpause-stop-callee")
        let runner = LoadRunner(endpoints: endpoints, options: LoadOptions(rate: 50, totalCalls: 5, drainSeconds: 5))
        await runner.pause()
        let (ticks, sink) = AsyncStream.makeStream(of: LiveCounters.self)
        let run = Task { await runner.run(scenarioName: "caller", progressInterval: .milliseconds(50)) { sink.yield($0) } }
        var seen = 0
        for await tick in ticks {
            #expect(tick.started == 0 && tick.paused)
            seen += 1
            if seen >= 5 { break }
        }
        await runner.stop()
        let report = await run.value
        sink.finish()
        await HarnessSetup.disconnect(endpoints)
        #expect(report.started == 0 && report.records.isEmpty)
        #expect(report.pausedSeconds > 0)
        // A pause once placing has ended changes nothing.
        await runner.pause()
        #expect(await runner.counters.paused == false)
    }

    /// `jingle-harness run` paused by SIGUSR1 and resumed by SIGUSR2: the live line says PAUSED
    /// with a frozen started count, and the run still places and passes every call.
    @Test(.timeLimit(.minutes(2)))
    func theHarnessPausesOnSIGUSR1AndResumesOnSIGUSR2() async throws {
        let prosody = try await ProsodyFixture.shared()
        var rows = ["jid,password"]
        for name in ["hpause-cli-a", "hpause-cli-b"] {
            let (jid, password) = try await prosody.account(name)
            rows.append("\(jid),\(password)")
        }
        let csv = NSTemporaryDirectory() + "jingle-harness-pause-\(UUID().uuidString).csv"
        try (rows.joined(separator: "\n") + "\n").write(toFile: csv, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: csv) }
        let json = NSTemporaryDirectory() + "jingle-harness-pause-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: json) }

        let harness = try AgentProcess(
            "harness-pause",
            [
                "run", "\(Repository.root)/Samples/harness/caller.xml", "--accounts", csv, "--calls", "40", "--rate", "5",
                "--server", "127.0.0.1:\(prosody.port)", "--ca-file", prosody.caFile, "--json", json,
            ], executable: HarnessProsodyCLITests.harness)
        try await harness.waitFor(" started ") // the first live line: the run is placing calls
        harness.send(SIGUSR1)
        try await harness.waitFor("pausing: no new calls")
        // Three live lines while paused, all with the same started count.
        let deadline = ContinuousClock.now + .seconds(30)
        var pausedLines: [Substring] = []
        while ContinuousClock.now < deadline {
            pausedLines = harness.stderr.split(separator: "\n").filter { $0.hasSuffix("PAUSED") }
            if pausedLines.count >= 3 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(pausedLines.count >= 3, "\(harness.transcript)")
        let startedCounts = Set(pausedLines.map { $0.split(separator: " ").drop { $0 != "started" }.dropFirst().first ?? "" })
        #expect(startedCounts.count == 1, "started moved while paused: \(pausedLines)")
        #expect(startedCounts.first.flatMap { Int($0) }.map { $0 < 40 } == true, "\(pausedLines)")

        harness.send(SIGUSR2)
        try await harness.waitFor("resumed at 5.0 calls/s")
        let status = try await harness.exitStatus(limit: .seconds(60))
        #expect(status == 0, "\(harness.transcript)")
        #expect(harness.stdout.contains("caller: 80 call legs started, 80 finished, 80 passed, 0 failed"), "\(harness.transcript)")
        #expect(harness.stdout.contains(" s paused"), "\(harness.transcript)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        #expect((summary["paused_s"] as? Double).map { $0 > 0 } == true, "\(summary)")
    }

    /// On a terminal (a pseudo-terminal from util-linux `script`): `p` pauses, `+` raises the
    /// rate by `--rate-step`, `p` resumes, `q` stops like Ctrl-C; the run exits 0 with every
    /// started call passed, and the terminal is back in canonical mode with echo afterwards.
    @Test(.timeLimit(.minutes(2)))
    func keysOnATerminalPauseChangeTheRateResumeAndStopAndTheTerminalIsRestored() async throws {
        let prosody = try await ProsodyFixture.shared()
        var rows = ["jid,password"]
        for name in ["hpause-keys-a", "hpause-keys-b"] {
            let (jid, password) = try await prosody.account(name)
            rows.append("\(jid),\(password)")
        }
        let csv = NSTemporaryDirectory() + "jingle-harness-keys-\(UUID().uuidString).csv"
        try (rows.joined(separator: "\n") + "\n").write(toFile: csv, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: csv) }
        let command =
            [
                HarnessProsodyCLITests.harness, "run", "\(Repository.root)/Samples/harness/caller.xml",
                "--accounts", csv, "--calls", "1000", "--rate", "5", "--rate-step", "5",
                "--server", "127.0.0.1:\(prosody.port)", "--ca-file", prosody.caFile,
            ]
            .map { "'\($0)'" }.joined(separator: " ") + "; status=$?; stty -a; exit $status"
        let terminal = try AgentProcess(
            "harness-keys", ["-q", "-e", "-f", "-c", command, "/dev/null"],
            executable: "/usr/bin/script", interactive: true)
        try await terminal.waitFor("keys: p pause/resume", onStdout: true)
        try await terminal.waitFor(" started ", onStdout: true)
        try terminal.type("p")
        try await terminal.waitFor("PAUSED", onStdout: true)
        try terminal.type("+")
        try await terminal.waitFor("rate 10.0 calls/s", onStdout: true)
        try terminal.type("p")
        try await terminal.waitFor("resumed at 10.0 calls/s", onStdout: true)
        try terminal.type("q")
        try await terminal.waitFor("stopping: no new calls", onStdout: true)
        let status = try await terminal.exitStatus(limit: .seconds(60))
        let output = terminal.stdout
        #expect(status == 0, "\(terminal.transcript)")
        let summary = output.split(whereSeparator: \.isNewline).first { $0.hasPrefix("caller: ") }.map(String.init) ?? ""
        let legs = summary.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        #expect(legs > 0 && legs < 2000 && summary.contains("\(legs) passed, 0 failed"), "\(terminal.transcript)")
        #expect(summary.contains(" s paused"), "\(summary)")
        // `stty -a` after the harness exited: canonical input and echo are on again.
        #expect(output.contains(" icanon") && !output.contains("-icanon") && !output.contains("-echo "), "\(output)")
    }
}
