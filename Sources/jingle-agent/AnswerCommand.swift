import ArgumentParser
import Foundation
import JingleKit
import XMPPCore

/// Which calls `answer` and `echo` take, and how many.
struct AnswerLimitOptions: ParsableArguments {
    @Option(
        name: .customLong("from"),
        help: ArgumentHelp(
            "Only take calls from this JID (bare: any device of the account); repeatable. Others ring on unanswered.",
            valueName: "jid"))
    var allowed: [String] = []

    @Option(name: .customLong("max-calls"), help: ArgumentHelp("Exit after this many calls have ended.", valueName: "n"))
    var maxCalls: Int?

    @Option(
        name: .customLong("max-concurrent"),
        help: ArgumentHelp(
            "Take at most this many calls at once; further callers get <busy/> (default: 16 per core).",
            valueName: "n"))
    var maxConcurrent: Int?

    /// Calls taken at once when `--max-concurrent` is not given: 16 per active core (a call with
    /// media costs about 4 % of a core; see BENCHMARKS.md), so a flood of callers gets <busy/>
    /// instead of one libnice agent and DTLS handshake each.
    static var defaultMaxConcurrent: Int { 16 * max(1, ProcessInfo.processInfo.activeProcessorCount) }

    var effectiveMaxConcurrent: Int { maxConcurrent ?? Self.defaultMaxConcurrent }

    func validate() throws {
        for jid in allowed where JID(jid) == nil { throw ValidationError("--from '\(jid)' is not a JID") }
        if let maxCalls, maxCalls < 1 { throw ValidationError("--max-calls must be at least 1") }
        if let maxConcurrent, maxConcurrent < 1 { throw ValidationError("--max-concurrent must be at least 1") }
    }

    var limits: AnswerLoop.Limits {
        AnswerLoop.Limits(allowed: allowed.compactMap { JID($0) }, maxCalls: maxCalls, maxConcurrent: effectiveMaxConcurrent)
    }
}

/// `jingle-agent answer`: waits for calls and answers them (or declines, or asks).
struct AnswerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "answer",
        abstract: "Wait for calls and answer them.",
        discussion: """
            Without --auto, --busy or --decline, each call is offered as a y/n question when stdin is a \
            terminal, and otherwise rings until the caller gives up or another device answers.
            Exits after --max-calls calls, or on SIGINT/SIGTERM (hanging up calls going on), with 0 when \
            every call ended normally, else the code of the last call that did not.

            Exit codes:
            """ + "\n" + AgentExitCode.table)

    @Flag(name: .long, help: "Answer every call at once.")
    var auto = false

    @Option(
        name: .customLong("answer-after"),
        help: ArgumentHelp("With --auto: let each call ring this many seconds before answering.", valueName: "seconds"))
    var answerAfter: Double = 0

    @Flag(name: .long, help: "Decline every call with <busy/>.")
    var busy = false

    @Flag(name: .long, help: "Decline every call with <decline/>.")
    var decline = false

    @OptionGroup(title: "Which calls") var which: AnswerLimitOptions
    @OptionGroup(title: "Account") var account: AccountOptions
    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Call") var options: CallOptions
    @OptionGroup(title: "Media") var mediaOptions: MediaOptions

    func validate() throws {
        if [auto, busy, decline].filter({ $0 }).count > 1 { throw ValidationError("choose one of --auto, --busy and --decline") }
        if answerAfter != 0 && !auto { throw ValidationError("--answer-after goes with --auto") }
        if answerAfter < 0 || answerAfter > 3600 { throw ValidationError("--answer-after: 0 to 3600 seconds, got \(answerAfter)") }
    }

    func run() async throws {
        let mode: AnswerMode =
            auto
            ? .auto(delay: .milliseconds(Int(answerAfter * 1000)))
            : busy ? .busy : decline ? .decline : Console.shared.canPrompt ? .prompt : .ring
        try await runAnswering(
            command: "answer", mode: mode, echo: false, which: which, account: account,
            connection: connection, options: options, mediaOptions: mediaOptions)
    }
}

/// `jingle-agent echo`: answers every call and sends the received audio back.
struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Answer calls and send the received audio back.",
        discussion: "Exit codes:\n" + AgentExitCode.table)

    @OptionGroup(title: "Which calls") var which: AnswerLimitOptions
    @OptionGroup(title: "Account") var account: AccountOptions
    @OptionGroup(title: "Connection") var connection: ConnectionOptions
    @OptionGroup(title: "Call") var options: CallOptions
    @OptionGroup(title: "Media") var mediaOptions: MediaOptions

    func run() async throws {
        try await runAnswering(
            command: "echo", mode: .auto(delay: .zero), echo: true, which: which, account: account,
            connection: connection, options: options, mediaOptions: mediaOptions)
    }
}

/// The body of `answer` and `echo`: log in, take calls until done, log out, exit with the outcome.
func runAnswering(
    command: String, mode: AnswerMode, echo: Bool, which: AnswerLimitOptions, account: AccountOptions,
    connection: ConnectionOptions, options: CallOptions, mediaOptions: MediaOptions
) async throws {
    Console.shared.setQuiet(options.quiet)
    let code: AgentExitCode
    do throws(AgentFailure) {
        let file = try account.configFile()
        let configuration = try account.clientConfiguration(file)
        let plan = try mediaOptions.plan(file)
        // Files are checked before anything else, --dry-run included.
        let media = try MediaWiring(plan: plan, enabled: !options.signallingOnly)
        if options.dryRun {
            printSettings(command: command, configuration, plan, maxConcurrent: which.effectiveMaxConcurrent)
            return
        }
        let signals = SignalWatcher()
        // The agent itself refuses calls beyond --max-concurrent; the runtime need not.
        let session = try await AgentSession.connect(
            configuration, options: options, media: media,
            connectionOptions: connection,
            concurrentCalls: which.effectiveMaxConcurrent + 1)
        let board = StatusBoard(media: session.media, connection: session.connection)
        let loop = AnswerLoop(session: session, options: options, mode: mode, echo: echo, limits: which.limits, board: board)
        let interrupt = Task {
            for await number in signals.signals {
                Console.shared.progress("\(signalName(number)): hanging up and exiting")
                await loop.stop()
            }
        }
        let ticker = Task { await board.run(idle: "waiting for calls as \(session.boundJID)") }
        Console.shared.progress("waiting for calls as \(session.boundJID)")
        await loop.run()
        ticker.cancel()
        interrupt.cancel()
        await session.close()
        code = await loop.exitCode
    } catch {
        printError("jingle-agent \(command): \(error)")
        code = error.exitCode
    }
    if code != .success { throw ExitCode(code.rawValue) }
}
