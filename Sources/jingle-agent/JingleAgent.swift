import ArgumentParser
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import JingleKitVersion
import Logging
import Synchronization

/// `jingle-agent`: a headless Jingle voice-call agent (XEP-0166/0167 calls, set up through
/// XEP-0353 Jingle Message Initiation). Each subcommand lives in its own file.
@main
struct JingleAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jingle-agent",
        abstract: "Headless Jingle voice-call agent.",
        discussion: "Exit codes of call, answer and echo:\n" + AgentExitCode.table,
        version: JingleKitVersion.string,
        subcommands: [CallCommand.self, AnswerCommand.self, EchoCommand.self, Check.self])

    /// Logs go to stderr (stdout carries only reports), at debug level with `--verbose` and only
    /// critical ones otherwise; a closed stdout does not kill the agent.
    static func main() async {
        signal(SIGPIPE, SIG_IGN)
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = AgentLogging.level
            return handler
        }
        await main(nil)
    }
}

/// The log level chosen by `--verbose`, read when a logger is made.
enum AgentLogging {
    private static let current = Mutex(Logger.Level.critical)
    static var level: Logger.Level { current.withLock { $0 } }
    static func setVerbose(_ verbose: Bool) { current.withLock { $0 = verbose ? .debug : .critical } }
}
