import ArgumentParser
import JingleKitVersion

/// `jingle-harness`: signalling test tool for Jingle (XEP-0166) and JMI (XEP-0353).
/// Each subcommand lives in its own file; add new ones to `subcommands`.
@main
struct JingleHarness: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jingle-harness",
        abstract: "Decode, map and exercise Jingle signalling.",
        version: JingleKitVersion.string,
        subcommands: [DecodeCommand.self, RunCommand.self, ConformanceCommand.self, ScenariosCommand.self]
    )
}
