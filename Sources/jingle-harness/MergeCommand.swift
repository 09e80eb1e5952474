import ArgumentParser
import Foundation
import Harness

/// `jingle-harness merge A.json B.json ...`: one report for several harness processes run side by
/// side against one server (each with its own range of accounts).
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine the JSON reports of several jingle-harness run processes into one summary.",
        discussion: """
            Counts and failures add up; each step's percentiles come from the merged log-linear \
            histograms the JSON reports carry (log_histogram), so they are what one process placing \
            every call would have reported. The processes are taken to have run side by side: the \
            merged time is the longest run's, and calls/s is every call over the longest placing time. \
            Per-call output (CSV, JUnit) and step-stair tables are not merged.

            Exit codes: 0 every call of every report passed; 1 a call failed or did not finish; 64 bad \
            arguments; 65 a file is not a jingle-harness JSON report with histograms; 74 a report \
            could not be written.
            """)

    @Argument(help: "JSON reports written by jingle-harness run --json.") var reports: [String]
    @Option(help: "Write the merged summary as JSON (mergeable again).") var json: String?
    @Option(help: "Write the merged summary as HTML.") var html: String?

    func validate() throws {
        guard !reports.isEmpty else { throw ValidationError("give at least one JSON report") }
    }

    func run() throws {
        let merged: RunReport
        do { merged = try ReportMerge.merge(files: reports) } catch {
            throw ExitCode(HarnessExit.fail(HarnessExit.badInput, "\(error)"))
        }
        print("merged \(reports.count) reports")
        print(ReportWriters.text(merged), terminator: "")
        for case (let path?, let render) in [(json, ReportWriters.json), (html, HTMLReport.render)] as [(String?, (RunReport) -> String)] {
            do { try render(merged).write(toFile: path, atomically: true, encoding: .utf8) } catch {
                throw ExitCode(HarnessExit.fail(HarnessExit.cannotWrite, "cannot write \(path): \(error)"))
            }
        }
        if !merged.allPassed { throw ExitCode(HarnessExit.failed) }
    }
}
