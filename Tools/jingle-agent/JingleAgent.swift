import ArgumentParser

/// `jingle-agent`: a headless Jingle voice-call agent. Each subcommand lives in its own file.
@main
struct JingleAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jingle-agent",
        abstract: "Headless Jingle voice-call agent.",
        subcommands: [Check.self])
}
