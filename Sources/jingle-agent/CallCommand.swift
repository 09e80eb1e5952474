import ArgumentParser
import Foundation
import JingleKit
import XMPPClient
import XMPPCore

/// `jingle-agent call JID`: places one call (XEP-0353 proposal to the bare JID, then XEP-0166;
/// or a direct session-initiate with `--no-jmi`), follows it to its end, prints the report and
/// exits with the code of its outcome.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Place a call and exit with its outcome.",
        discussion: "Exit codes:\n" + AgentExitCode.table)

    @Argument(help: ArgumentHelp("Who to call: a bare JID (JMI rings all its devices) or, with --no-jmi, a full JID.", valueName: "jid"))
    var target: String

    @Flag(name: .customLong("no-jmi"), help: "Send a Jingle session-initiate straight to a full JID, without a JMI proposal.")
    var noJMI = false

    @Option(name: .long, help: ArgumentHelp("Give up when nobody answers within this many seconds.", valueName: "seconds"))
    var timeout: Double = 60

    @OptionGroup(title: "Account") var account: AccountOptions
    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Call") var options: CallOptions
    @OptionGroup(title: "Media") var mediaOptions: MediaOptions

    func validate() throws {
        guard let jid = JID(target), jid.localpart != nil || jid.resourcepart != nil else {
            throw ValidationError("'\(target)' is not a JID to call")
        }
        if noJMI, jid.resourcepart == nil {
            throw ValidationError("--no-jmi needs a full JID (user@domain/resource), got '\(target)'")
        }
        guard timeout > 0, timeout <= 86400 else { throw ValidationError("--timeout must be between 0 and 86400 seconds") }
    }

    func run() async throws {
        Console.shared.setQuiet(options.quiet)
        let code: AgentExitCode
        do { code = try await placeCall() } catch {
            printError("jingle-agent call: \(error)")
            code = error.exitCode
        }
        if code != .success { throw ExitCode(code.rawValue) }
    }

    private func placeCall() async throws(AgentFailure) -> AgentExitCode {
        let file = try account.configFile()
        let configuration = try account.clientConfiguration(file)
        let plan = try mediaOptions.plan(file)
        // Files are checked before anything else, --dry-run included.
        let media = try MediaWiring(plan: plan, enabled: !options.signallingOnly)
        if options.dryRun {
            printSettings(command: "call", configuration, plan)
            return .success
        }
        guard let peer = JID(target) else { throw AgentFailure(usage: "'\(target)' is not a JID") }
        let signals = SignalWatcher()
        let session = try await AgentSession.connect(configuration, options: options, media: media, connectionOptions: connection)
        let call: Call
        do {
            call = try await session.manager.placeCall(to: peer, useJMI: !noJMI, timeout: .milliseconds(Int64(timeout * 1000)))
        } catch {
            await session.close()
            if case .transportFailed = error {
                throw AgentFailure("cannot place the call: \(error)", exitCode: .connectionFailure)
            }
            throw AgentFailure("cannot place the call: \(error)", exitCode: .signallingFailure)
        }
        Console.shared.progress("calling \(peer)\(noJMI ? " (direct Jingle)" : " (JMI)"), sid \(call.sid)")
        let board = StatusBoard(media: session.media, connection: session.connection)
        let ticker = Task { await board.run(idle: "calling \(peer)") }
        let interrupt = Task {
            for await number in signals.signals {
                Console.shared.progress("\(signalName(number)): hanging up")
                await call.hangUp()
            }
        }
        let runner = CallRunner(call: call, options: options, media: session.media, board: board)
        let bounces = Task { [failure = runner.failure] in
            for await bounce in session.transport.bounces {
                let mine = bounce.proposalID.map { $0 == call.sid } ?? (bounce.from?.bare == call.peer.bare)
                guard call.usesJMI, mine, await call.state == .proposing else { continue }
                failure.set("the proposal bounced: \(bounce.error)")
                await call.hangUp()
            }
        }
        let report = await session.run(runner)
        bounces.cancel()
        ticker.cancel()
        interrupt.cancel()
        await session.close()
        return AgentExitCode(rawValue: report.exitCode) ?? .failure
    }
}

/// `--dry-run`: the settings a run would use, as one JSON line, without secrets.
func printSettings(command: String, _ configuration: XMPPClientConfiguration, _ plan: MediaPlan, maxConcurrent: Int? = nil) {
    let settings = ResolvedSettings(
        command: command, jid: configuration.jid.description, server: configuration.server?.description,
        caFile: configuration.trustedCAFile,
        iceServers: plan.iceServerURLs, discoverServers: plan.discoverServers, relayOnly: plan.relayOnly,
        localAddresses: plan.localAddresses, bitrate: plan.bitrate, fec: plan.fec, dtx: plan.dtx, play: plan.play,
        record: plan.record, tone: plan.tone, dtmf: plan.dtmf, maxConcurrent: maxConcurrent)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = (try? encoder.encode(settings)) ?? Data("{}".utf8)
    Console.shared.output(String(decoding: data, as: UTF8.self))
}
