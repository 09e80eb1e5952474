import ArgumentParser
import Foundation
import Harness
import XMPPCore

/// `jingle-harness run SCENARIO`: places Jingle calls through an XMPP server at a given rate,
/// in the manner of SIPp, and reports per-step response times and failures.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a signalling scenario (file or built-in name) at a call rate; exit 0 only if every call passed.",
        discussion: "Scenario format: Tools/jingle-harness/SCENARIOS.md. Built-ins: Samples/harness.")

    @Argument(help: "Scenario file, or built-in name (caller, jmi-caller, glare, ice-restart, ...).")
    var scenario: String

    @Option(help: "initiator (call --target), responder (answer), or both (accounts pair up: odd rows call even rows).")
    var role: String = "both"

    @Option(help: "CSV file with jid,password rows.")
    var accounts: String

    @Option(help: "Scenario for the other side with --role both (default: the scenario's peer attribute).")
    var peerScenario: String?

    @Option(help: "Full JID to call with --role initiator.")
    var target: String?

    @Option(help: "Server address host[:port] (default: the JID's domain).")
    var server: String?

    @Option(help: "CA file to verify the server certificate.")
    var caFile: String?

    @Option(help: "New calls per second.") var rate: Double = 10
    @Option(help: "Most initiator calls in flight at once.") var maxConcurrent: Int = 100
    @Option(help: "Total calls to place (default 1 unless --duration is given).") var calls: Int?
    @Option(help: "Stop placing calls after this many seconds.") var duration: Double?
    @Option(help: "Ramp the rate up over this many seconds.") var ramp: Double = 0
    @Option(help: "Wait at most this many seconds for calls in flight at the end.") var drain: Double = 30

    @Option(help: "Write one row per call.") var csv: String?
    @Option(help: "Write the summary as JSON.") var json: String?
    @Option(help: "Write JUnit XML (one test case per call).") var junit: String?
    @Option(help: "Write an HTML report with SVG histograms.") var html: String?
    @Flag(help: "No live line.") var quiet = false

    func validate() throws {
        guard ["initiator", "responder", "both"].contains(role) else { throw ValidationError("--role must be initiator, responder or both") }
        if role == "initiator", target == nil { throw ValidationError("--role initiator needs --target JID") }
        guard rate > 0, maxConcurrent > 0 else { throw ValidationError("--rate and --max-concurrent must be positive") }
    }

    func run() throws {
        let box = ResultBox()
        let semaphore = DispatchSemaphore(value: 0)
        let command = self
        Task {
            let code = await command.execute()
            box.set(code)
            semaphore.signal()
        }
        semaphore.wait()
        let code = box.get()
        if code != 0 { throw ExitCode(code) }
    }

    private func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("jingle-harness: \(message)\n".utf8))
        return 2
    }

    func execute() async -> Int32 {
        let mainScenario: Scenario
        let accountList: [HarnessAccount]
        do {
            mainScenario = try ScenarioLibrary.load(scenario)
            let text = try String(contentsOfFile: accounts, encoding: .utf8)
            accountList = try HarnessAccount.parseCSV(text)
        } catch {
            return fail("\(error)")
        }
        var settings = ServerSettings(caFile: caFile)
        if let server {
            guard let address = XMPPClientAddress(server) else { return fail("--server '\(server)' is not host[:port]") }
            settings.host = address.host
            settings.port = address.port
        }
        var endpoints: [HarnessEndpoint] = []
        do {
            switch role {
            case "both":
                guard let peerName = peerScenario ?? mainScenario.peer else {
                    return fail("scenario '\(mainScenario.name)' names no peer; give --peer-scenario")
                }
                let peer = try ScenarioLibrary.load(peerName)
                let (initiator, responder) = mainScenario.role == .initiator ? (mainScenario, peer) : (peer, mainScenario)
                guard accountList.count >= 2 else { return fail("--role both needs at least two accounts") }
                endpoints = try await HarnessSetup.pairs(accountList, initiator: initiator, responder: responder, server: settings)
            case "initiator":
                guard mainScenario.role == .initiator, let targetJID = target.flatMap(JID.init) else {
                    return fail("--role initiator needs an initiator scenario and a valid --target")
                }
                for (i, account) in accountList.enumerated() {
                    let (client, jid) = try await HarnessSetup.connect(account, index: i, server: settings)
                    endpoints.append(HarnessEndpoint(client: client, localJID: jid, scenario: mainScenario, peer: targetJID))
                }
            default:
                guard mainScenario.role == .responder else { return fail("--role responder needs a responder scenario") }
                for (i, account) in accountList.enumerated() {
                    let (client, jid) = try await HarnessSetup.connect(account, index: i, server: settings)
                    FileHandle.standardError.write(Data("answering as \(jid)\n".utf8))
                    endpoints.append(HarnessEndpoint(client: client, localJID: jid, scenario: mainScenario))
                }
            }
        } catch {
            await HarnessSetup.disconnect(endpoints)
            return fail("login failed: \(error)")
        }

        let options = LoadOptions(rate: rate, maxConcurrent: maxConcurrent,
                                  totalCalls: calls ?? (duration == nil ? 1 : nil), durationSeconds: duration,
                                  rampSeconds: ramp, drainSeconds: drain)
        let runner = LoadRunner(endpoints: endpoints, options: options)
        signal(SIGINT, SIG_IGN)
        let interrupts = DispatchSource.makeSignalSource(signal: SIGINT)
        let stops = StopCounter()
        interrupts.setEventHandler {
            if stops.increment() > 1 { Foundation.exit(130) }
            FileHandle.standardError.write(Data("\nstopping: no new calls, waiting for calls in flight (^C again to quit)\n".utf8))
            Task { await runner.stop() }
        }
        interrupts.resume()
        let quiet = self.quiet
        let lastBox = LastBox()
        let report = await runner.run(scenarioName: mainScenario.name) { c in
            guard !quiet else { return }
            let finished = c.succeeded + c.failed
            let last = lastBox.swap((c.elapsed, finished))
            let rate = c.elapsed > last.time ? Double(finished - last.finished) / (c.elapsed - last.time) : 0
            FileHandle.standardError.write(Data((ReportWriters.liveLine(
                elapsed: c.elapsed, started: c.started, succeeded: c.succeeded, failed: c.failed,
                inFlight: c.inFlight, rate: rate) + "\n").utf8))
        }
        interrupts.cancel()
        await HarnessSetup.disconnect(endpoints)
        print(ReportWriters.text(report), terminator: "")
        let outputs: [(String?, (RunReport) -> String)] = [
            (csv, ReportWriters.csv), (json, ReportWriters.json), (junit, ReportWriters.junit), (html, HTMLReport.render),
        ]
        for case (let path?, let render) in outputs {
            do { try render(report).write(toFile: path, atomically: true, encoding: .utf8) } catch {
                return fail("cannot write \(path): \(error)")
            }
        }
        return report.allPassed ? 0 : 1
    }
}

/// `host[:port]`, IPv6 literals in brackets.
private struct XMPPClientAddress {
    var host: String
    var port: Int

    init?(_ text: String) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            port = rest.isEmpty ? 5222 : (rest.hasPrefix(":") ? Int(rest.dropFirst()) ?? -1 : -1)
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            port = Int(text[text.index(after: colon)...]) ?? -1
        } else {
            host = text
            port = 5222
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
    }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var code: Int32 = 2
    func set(_ value: Int32) { lock.lock(); code = value; lock.unlock() }
    func get() -> Int32 { lock.lock(); defer { lock.unlock() }; return code }
}

private final class StopCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() -> Int { lock.lock(); defer { lock.unlock() }; count += 1; return count }
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
