import ArgumentParser
import JingleKitVersion

/// `jingle-harness`: signalling test tool for Jingle (XEP-0166) and JMI (XEP-0353).
/// Each subcommand lives in its own file; add new ones to `subcommands`.
@main
struct JingleHarness: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jingle-harness",
        abstract: "Decode, map and exercise Jingle signalling.",
        discussion: """
            Exit codes: 0 success (every call passed; no conformance rule failed); 1 a call or \
            conformance rule failed; 2 conformance verified nothing (all inconclusive or skipped); 64 bad arguments; 65 a malformed scenario, accounts or input file; 69 login failed; 74 a \
            report could not be written. Each subcommand's --help lists its own.
            """,
        version: JingleKitVersion.string,
        subcommands: [DecodeCommand.self, RunCommand.self, ConformanceCommand.self, ScenariosCommand.self, MergeCommand.self]
    )
}
