import ArgumentParser
import Logging

/// `jingle-agent`: a headless Jingle voice-call agent (XEP-0166/0167 calls, set up through
/// XEP-0353 Jingle Message Initiation). Each subcommand lives in its own file.
@main
struct JingleAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jingle-agent",
        abstract: "Headless Jingle voice-call agent.",
        discussion: "Exit codes of call, answer and echo:\n" + AgentExitCode.table,
        subcommands: [CallCommand.self, AnswerCommand.self, EchoCommand.self, Check.self])

    /// Logs (`--verbose`) go to stderr: stdout carries only reports.
    static func main() async {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        await main(nil)
    }
}
