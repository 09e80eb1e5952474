import ArgumentParser
import JingleKitVersion

/// `jingle-bench`: performance measurements of JingleKit's hot paths against C anchors.
/// Each measured area is one subcommand in its own file; add new ones to `subcommands`.
@main
struct JingleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jingle-bench",
        abstract: "Measure JingleKit's hot paths against plain C anchors.",
        version: JingleKitVersion.string,
        subcommands: [XMLBenchCommand.self, MediaBenchCommand.self, CallsBenchCommand.self, RelayLoadCommand.self]
    )
}
