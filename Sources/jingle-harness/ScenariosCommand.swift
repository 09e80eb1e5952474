import ArgumentParser
import Foundation
import Harness

/// `jingle-harness scenarios list|show|validate`: the built-in scenarios compiled into the binary,
/// and a check of scenario files without logging anything in.
struct ScenariosCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scenarios",
        abstract: "List, print or check scenarios (the built-ins are compiled into this binary).",
        discussion: """
            Built-in scenarios travel with the binary: `run NAME` finds them wherever jingle-harness is \
            copied. $JINGLE_HARNESS_SCENARIOS, when set, names a directory whose NAME.xml files are \
            looked up first. Format: docs/jingle-harness-scenarios.md.

            Exit codes: 0 success; 64 bad arguments or an unknown built-in name; 65 a scenario that is \
            not valid (the message names the file, line and, for XML errors, column).
            """,
        subcommands: [List.self, Show.self, Validate.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the built-in scenarios: name, role, peer and what each does.",
            discussion: "Exit codes: 0 success; 65 a built-in that does not compile (a broken build).")

        func run() throws {
            let names = BuiltInScenarios.names
            let width = (names.map(\.count).max() ?? 0) + 2
            var broken = false
            for name in names {
                do {
                    let scenario = try ScenarioLibrary.load(name, searchPaths: [])
                    let peer = scenario.peer.map { "peer \($0)" } ?? ""
                    print(
                        name.padding(toLength: width, withPad: " ", startingAt: 0)
                            + scenario.role.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
                            + peer.padding(toLength: 30, withPad: " ", startingAt: 0)
                            + Self.summary(BuiltInScenarios.texts[name] ?? ""))
                } catch {
                    broken = true
                    FileHandle.standardError.write(Data("jingle-harness: \(error)\n".utf8))
                }
            }
            if broken { throw ExitCode(HarnessExit.badInput) }
        }

        /// The scenario's first XML comment, on one line.
        static func summary(_ text: String) -> String {
            guard let start = text.range(of: "<!--"), let end = text.range(of: "-->", range: start.upperBound..<text.endIndex) else {
                return ""
            }
            return text[start.upperBound..<end.lowerBound].split(whereSeparator: \.isWhitespace).joined(separator: " ")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a built-in scenario's XML (to copy and edit: show caller > my-caller.xml).",
            discussion: "Exit codes: 0 success; 64 no built-in scenario of that name.")

        @Argument(help: "Built-in scenario name (see: jingle-harness scenarios list).") var name: String

        func run() throws {
            guard let (text, _) = ScenarioLibrary.builtIn(name) else {
                FileHandle.standardError.write(
                    Data("jingle-harness: no built-in scenario '\(name)' (see: jingle-harness scenarios list)\n".utf8))
                throw ExitCode(HarnessExit.usage)
            }
            print(text, terminator: "")
        }
    }

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check scenario files (or built-in names) without running them.",
            discussion: """
                Parses each file with libxml2 and compiles it as `run` would: an XML error is reported as \
                FILE:LINE:COLUMN: XML error: <libxml2's message>, any other problem (unknown step or \
                attribute, bad value, missing label) as FILE:LINE: <element>: problem.

                Exit codes: 0 every file is valid; 65 at least one is not (each is reported).
                """)

        @Argument(help: "Scenario files (or built-in names).") var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("give at least one scenario file") }
        }

        func run() throws {
            var invalid = 0
            for file in files {
                do {
                    let scenario = try ScenarioLibrary.load(file)
                    print("\(file): ok (\(scenario.name), \(scenario.role.rawValue), \(scenario.instructions.count) steps)")
                } catch {
                    invalid += 1
                    FileHandle.standardError.write(Data("jingle-harness: \(error)\n".utf8))
                }
            }
            if invalid > 0 { throw ExitCode(HarnessExit.badInput) }
        }
    }
}
