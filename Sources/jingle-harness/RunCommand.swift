import ArgumentParser
import Foundation
import Harness
import JingleKit
import XMPPCore

/// `jingle-harness run SCENARIO`: places Jingle calls through an XMPP server at a given rate,
/// in the manner of SIPp, and reports per-step response times and failures.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a signalling scenario (file or built-in name) at a call rate; exit 0 only if every call passed.",
        discussion: """
            Scenario format: docs/jingle-harness-scenarios.md. Built-ins (compiled in): jingle-harness scenarios list.

            Placing calls stops at the first limit reached: --calls, --duration, --max-failures, or an \
            interruption (Ctrl-C / SIGINT, or the q key); calls in flight then get --drain seconds. The \
            live line, the summary and the reports (JSON stopped_by/stopped, a JUnit property, HTML) \
            say which: "stopped: --calls 100 reached", "--duration 10 s elapsed", "--max-failures 5 \
            reached", "interrupted (SIGINT)".

            Capacity search: --rate-increase N --every S --rate-max M raises the rate from --rate by N \
            calls/s every S seconds up to M (then stops: "--rate-max M calls/s step done"); \
            --stop-on-fail P stops once a step's calls fail more than P %. The reports give each step \
            and the highest rate at which every call passed (and, with --p99-bound MS, the \
            --setup-step p99 stayed within MS).

            Memory stays flat however long the run: statistics are log-linear histograms (percentiles \
            within 1 %), CSV rows and JUnit test cases are written as calls finish, and only the first \
            1000 passed and 1000 failed calls are kept in memory. The JSON report carries the \
            histograms: jingle-harness merge combines the reports of several processes.

            Exit codes: 0 every call passed; 1 at least one call failed or did not finish; 64 bad \
            arguments; 65 a malformed scenario or accounts file (naming file, line and problem); 69 the \
            XMPP server could not be reached or refused the login; 74 a report file could not be \
            written; 130 a second Ctrl-C quit at once.
            """)

    @Argument(help: "Scenario file, or built-in name (caller, jmi-caller, glare, ice-restart, ...: see scenarios list).")
    var scenario: String

    @Option(help: "initiator (call --target), responder (answer), or both (accounts pair up: odd rows call even rows).")
    var role: String = "both"

    @Option(help: "CSV file with jid,password rows.")
    var accounts: String

    @Option(help: "Scenario for the other side with --role both (default: the scenario's peer attribute).")
    var peerScenario: String?

    @Option(help: "Full JID to call with --role initiator.")
    var target: String?

    @Option(
        help:
            "Log each answering account in this many times (resources ...-d1, -d2 ...): one user's several devices; scenario variables [device] and [devices]. With --role both the caller then calls the bare JID."
    )
    var devices: Int = 1

    @Option(help: "Server address host[:port] (default: the JID's domain).")
    var server: String?

    @Option(help: "CA file to verify the server certificate.")
    var caFile: String?

    @Option(help: "New calls per second.") var rate: Double = 10
    @Option(help: "Calls/s the + and - keys add or take away (default: 10 % of the current rate).") var rateStep: Double?
    @Option(help: "Most initiator calls in flight at once.") var maxConcurrent: Int = 100
    @Option(help: "Total calls to place (default 1 unless --duration is given).") var calls: Int?
    @Option(help: "Stop placing calls after this many seconds of placing them (paused time does not count).") var duration: Double?
    @Option(help: "Stop placing calls once this many calls have failed.") var maxFailures: Int?
    @Option(help: "Ramp the rate up over this many seconds.") var ramp: Double = 0
    @Option(help: "Wait at most this many seconds for calls in flight at the end.") var drain: Double = 30

    @Option(
        help: ArgumentHelp(
            "Capacity search (a step stair, as SIPp's -rate_increase): raise the rate by this many calls/s every --every seconds, from --rate up to --rate-max.",
            valueName: "cps"))
    var rateIncrease: Double?
    @Option(help: ArgumentHelp("With --rate-increase: seconds each step lasts (placing time).", valueName: "seconds")) var every: Double?
    @Option(help: ArgumentHelp("With --rate-increase: the last step's rate; the run ends once that step has run.", valueName: "cps"))
    var rateMax: Double?
    @Option(
        help: ArgumentHelp(
            "With --rate-increase: stop once the calls placed in a step fail more than this percentage.", valueName: "percent"))
    var stopOnFail: Double?
    @Option(
        help: ArgumentHelp("With --rate-increase: a step counts as good only if its --setup-step p99 is at most this.", valueName: "ms"))
    var p99Bound: Double?
    @Option(help: "With --rate-increase: the measured step --p99-bound applies to.") var setupStep: String = "initiate->accept"

    @Flag(
        help:
            "Media plane: each call runs ICE + DTLS-SRTP + Opus through JingleKit; a call passes only once the peer's first media packet is decoded."
    )
    var media = false
    @Option(help: "With --media: local addresses for host candidates (repeatable).") var mediaAddress: [String] = ["127.0.0.1"]
    @Option(help: "With --media: seconds a call waits for first media (else ice-failed, dtls-failed or no-media).")
    var mediaTimeout: Double = 5
    @Option(
        help: ArgumentHelp(
            "With --media: a call whose received frames were more than this share concealed fails (media-concealed).",
            valueName: "percent"))
    var maxConcealment: Double = MediaQualityGuard.defaultMaximumConcealment * 100

    @Option(help: "Write one row per call.") var csv: String?
    @Option(help: "Write the summary as JSON.") var json: String?
    @Option(help: "Write JUnit XML (one test case per call).") var junit: String?
    @Option(help: "Write an HTML report with SVG histograms.") var html: String?
    @Option(
        help: ArgumentHelp(
            "Write a trace of each failed call into this directory, one file per call: its stanzas both ways with times, the step it failed at and the deciding stanza (as SIPp's -trace_err).",
            valueName: "dir"))
    var traceDir: String?
    @Flag(help: "With --trace-dir: trace passed calls too.") var traceAll = false
    @Option(help: "With --trace-dir: write at most this many traces; the reports say how many were not written.") var maxTraces: Int = 100
    @Option(
        help: ArgumentHelp(
            "Write a statistics row every this many seconds: calls started, passed and failed, in flight, call rate, each step's p50/p90/p99 (as SIPp's -trace_stat); the HTML report draws them over time.",
            valueName: "seconds"))
    var statsInterval: Double?
    @Option(
        help:
            "With --stats-interval: the CSV file (default SCENARIO-stats.csv beside the first of --json, --html, --csv, --junit, else here)."
    )
    var statsCsv: String?
    @Flag(help: "No live line.") var quiet = false

    func validate() throws {
        guard ["initiator", "responder", "both"].contains(role) else {
            throw ValidationError("--role must be initiator, responder or both")
        }
        if media, !(mediaTimeout > 0) { throw ValidationError("--media-timeout must be above 0") }
        if !(0...100).contains(maxConcealment) { throw ValidationError("--max-concealment must be a percentage from 0 to 100") }
        if role == "initiator", target == nil { throw ValidationError("--role initiator needs --target JID") }
        guard (1...16).contains(devices) else { throw ValidationError("--devices must be 1 to 16") }
        if devices > 1, role == "initiator" { throw ValidationError("--devices applies to answering accounts (--role responder or both)") }
        if let maxFailures, maxFailures < 1 { throw ValidationError("--max-failures must be at least 1") }
        guard rate > 0, rate.isFinite, maxConcurrent > 0 else { throw ValidationError("--rate and --max-concurrent must be positive") }
        if let rateStep, !(rateStep > 0 && rateStep.isFinite) { throw ValidationError("--rate-step must be positive") }
        if let rateIncrease {
            guard rateIncrease > 0, rateIncrease.isFinite else { throw ValidationError("--rate-increase must be positive") }
            guard let every, every > 0, every.isFinite else { throw ValidationError("--rate-increase needs --every SECONDS above 0") }
            guard let rateMax, rateMax >= rate, rateMax.isFinite else {
                throw ValidationError("--rate-increase needs --rate-max at least --rate")
            }
            if role == "responder" { throw ValidationError("--rate-increase needs a role that places calls (initiator or both)") }
        } else if every != nil || rateMax != nil || stopOnFail != nil || p99Bound != nil {
            throw ValidationError("--every, --rate-max, --stop-on-fail and --p99-bound go with --rate-increase")
        }
        if let stopOnFail, !(0...100).contains(stopOnFail) { throw ValidationError("--stop-on-fail must be a percentage from 0 to 100") }
        if let p99Bound, !(p99Bound > 0 && p99Bound.isFinite) { throw ValidationError("--p99-bound must be positive (ms)") }
        try validateObservation()
    }

    func run() throws {
        let command = self
        try HarnessExit.runBlocking { await command.execute() }
    }

    func execute() async -> Int32 {
        // SIGINT, SIGUSR1 and SIGUSR2 are handled once the run starts; until then they must not kill us.
        RunControls.ignoreSignals()
        let mainScenario: Scenario
        let accountList: [HarnessAccount]
        do {
            mainScenario = try ScenarioLibrary.load(scenario)
            accountList = try HarnessAccount.load(accounts)
        } catch {
            return HarnessExit.fail(HarnessExit.badInput, "\(error)")
        }
        guard let settings = ServerSettings(server: server, caFile: caFile) else {
            return HarnessExit.fail(HarnessExit.usage, "--server '\(server ?? "")' is not host[:port]")
        }
        var endpoints: [HarnessEndpoint] = []
        do {
            switch role {
            case "both":
                guard let peerName = peerScenario ?? mainScenario.peer else {
                    return HarnessExit.fail(HarnessExit.usage, "scenario '\(mainScenario.name)' names no peer; give --peer-scenario")
                }
                let peer: Scenario
                do { peer = try ScenarioLibrary.load(peerName) } catch {
                    return HarnessExit.fail(HarnessExit.badInput, "\(error)")
                }
                let (initiator, responder) = mainScenario.role == .initiator ? (mainScenario, peer) : (peer, mainScenario)
                if responder.role == .initiator, peerName != mainScenario.name {
                    return HarnessExit.fail(
                        HarnessExit.usage, "both scenarios are initiators; only a scenario that names itself as peer (glare-both) may")
                }
                guard accountList.count >= 2 else { return HarnessExit.fail(HarnessExit.usage, "--role both needs at least two accounts") }
                endpoints = try await HarnessSetup.pairs(
                    accountList, initiator: initiator, responder: responder,
                    devices: devices, server: settings)
            case "initiator":
                guard mainScenario.role == .initiator, let targetJID = target.flatMap(JID.init) else {
                    return HarnessExit.fail(HarnessExit.usage, "--role initiator needs an initiator scenario and a valid --target")
                }
                for (i, account) in accountList.enumerated() {
                    let (client, jid) = try await HarnessSetup.connect(account, index: i, server: settings, carbons: mainScenario.carbons)
                    endpoints.append(HarnessEndpoint(client: client, localJID: jid, scenario: mainScenario, peer: targetJID))
                }
            default:
                guard mainScenario.role == .responder else {
                    return HarnessExit.fail(HarnessExit.usage, "--role responder needs a responder scenario")
                }
                for (i, account) in accountList.enumerated() {
                    let answering = try await HarnessSetup.responders(
                        account, index: i, scenario: mainScenario,
                        devices: devices, server: settings)
                    for endpoint in answering {
                        FileHandle.standardError.write(Data("answering as \(endpoint.localJID)\n".utf8))
                    }
                    endpoints += answering
                }
            }
        } catch {
            await HarnessSetup.disconnect(endpoints)
            return HarnessExit.fail(HarnessExit.unavailable, "login failed: \(error)")
        }

        // Two-sided glare: when both of a pair initiate, each placement starts both at once.
        let together =
            endpoints.count >= 2 && endpoints.allSatisfy { $0.scenario.role == .initiator && $0.peer != nil }
            && role == "both"
        var options = LoadOptions(
            rate: rate, maxConcurrent: maxConcurrent,
            totalCalls: calls ?? (duration == nil && rateIncrease == nil ? 1 : nil), durationSeconds: duration,
            rampSeconds: ramp, drainSeconds: drain, together: together, maxFailures: maxFailures)
        if let rateIncrease, let every, let rateMax {
            options.stair = StepStairOptions(
                increase: rateIncrease, everySeconds: every, maxRate: rateMax,
                stopOnFailPercent: stopOnFail, p99BoundSeconds: p99Bound.map { $0 / 1000 },
                setupStep: setupStep)
        }
        let plane =
            media
            ? MediaPlane.ice(
                localAddresses: mediaAddress, timeout: .milliseconds(Int(mediaTimeout * 1000)),
                qualityGuard: MediaQualityGuard(maximumConcealment: maxConcealment / 100)) : nil
        let runner = LoadRunner(endpoints: endpoints, options: options, media: plane)
        // Traces and stats first: --trace-dir creates its folder (and the reports' beside it).
        let statsWriter: StatsCSVWriter?
        do { statsWriter = try await startObservation(runner, scenario: mainScenario.name) } catch {
            await HarnessSetup.disconnect(endpoints)
            return HarnessExit.fail(HarnessExit.cannotWrite, "\(error)")
        }
        defer { statsWriter?.close() }
        // Per-call CSV rows and JUnit test cases are written as calls finish, not kept until the end.
        var stream: CallRecordStream?
        if csv != nil || junit != nil {
            var scenarios: [Scenario] = []
            for s in [mainScenario] + endpoints.map(\.scenario) where !scenarios.contains(s) { scenarios.append(s) }
            do {
                let opened = try CallRecordStream(
                    csvPath: csv, junitPath: junit,
                    measureNames: CallRecordStream.measureNames(scenarios, media: media))
                stream = opened
                await runner.setRecordSink { opened.write($0) }
            } catch {
                await HarnessSetup.disconnect(endpoints)
                return HarnessExit.fail(HarnessExit.cannotWrite, "cannot write \(csv ?? junit ?? ""): \(error)")
            }
        }
        let controls = RunControls(runner: runner, rateStep: rateStep)
        controls.start(keys: true)
        defer { controls.finish() }
        let quiet = self.quiet
        let lastBox = LastBox()
        let report = await runner.run(scenarioName: mainScenario.name) { c in
            guard !quiet else { return }
            let finished = c.succeeded + c.failed
            let last = lastBox.swap((c.elapsed, finished))
            let rate = c.elapsed > last.time ? Double(finished - last.finished) / (c.elapsed - last.time) : 0
            FileHandle.standardError.write(
                Data(
                    (ReportWriters.liveLine(
                        elapsed: c.elapsed, started: c.started, succeeded: c.succeeded, failed: c.failed,
                        inFlight: c.inFlight, rate: rate, target: c.rate > 0 ? c.rate : nil, paused: c.paused, stopped: c.stopped) + "\n")
                        .utf8))
        }
        controls.finish()
        await HarnessSetup.disconnect(endpoints)
        print(ReportWriters.text(report), terminator: "")
        do { try stream?.finish(report: report) } catch {
            return HarnessExit.fail(HarnessExit.cannotWrite, "cannot write \(csv ?? junit ?? ""): \(error)")
        }
        if let statsWriter {
            print("stats: \(report.intervals.count) intervals in \(statsWriter.path)")
            if let error = statsWriter.writeError { return HarnessExit.fail(HarnessExit.cannotWrite, "cannot write \(error)") }
        }
        let html = self.html
        let outputs: [(String?, (RunReport) -> String)] = [
            (json, ReportWriters.json), (html, { HTMLReport.render(RunCommand.linkingTraces($0, from: html)) }),
        ]
        for case (let path?, let render) in outputs {
            do { try render(report).write(toFile: path, atomically: true, encoding: .utf8) } catch {
                return HarnessExit.fail(HarnessExit.cannotWrite, "cannot write \(path): \(error)")
            }
        }
        return report.allPassed ? HarnessExit.passed : HarnessExit.failed
    }
}

private final class LastBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (Double, Int) = (0, 0)
    func swap(_ new: (Double, Int)) -> (time: Double, finished: Int) {
        lock.lock(); defer { lock.unlock() }
        let old = value
        value = new
        return (old.0, old.1)
    }
}
