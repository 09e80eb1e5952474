import ArgumentParser
import Foundation
import Harness

/// `run --trace-dir/--trace-all/--max-traces` and `--stats-interval/--stats-csv`.
extension RunCommand {
    func validateObservation() throws {
        if traceDir == nil, traceAll { throw ValidationError("--trace-all goes with --trace-dir") }
        guard maxTraces >= 1 else { throw ValidationError("--max-traces must be at least 1") }
        if let statsInterval, !(statsInterval > 0 && statsInterval.isFinite) {
            throw ValidationError("--stats-interval must be a positive number of seconds")
        }
        if statsCsv != nil, statsInterval == nil { throw ValidationError("--stats-csv goes with --stats-interval") }
    }

    /// Creates the trace directory and the stats CSV (with its header) and hands them to
    /// `runner`; returns the CSV's writer. Throws when either cannot be written (exit 74).
    func startObservation(_ runner: LoadRunner, scenario: String) async throws -> StatsCSVWriter? {
        if let traceDir {
            let writer = TraceWriter(directory: traceDir, maxTraces: maxTraces, all: traceAll)
            do { try writer.createDirectory() } catch {
                throw ObservationError("cannot create --trace-dir \(traceDir): \(error.localizedDescription)")
            }
            await runner.traceCalls(with: writer)
        }
        guard let statsInterval else { return nil }
        let path = statsCsv ?? defaultStatsPath(scenario: scenario)
        let steps = await runner.measuredSteps
        let writer: StatsCSVWriter
        do { writer = try StatsCSVWriter(path: path, steps: steps) } catch {
            throw ObservationError("cannot write \(path): \(error.localizedDescription)")
        }
        await runner.recordIntervals(every: statsInterval, steps: steps) { writer.append($0) }
        return writer
    }

    /// `SCENARIO-stats.csv` in the folder of the first report given, else the current folder.
    func defaultStatsPath(scenario: String) -> String {
        let name = TraceText.fileNamePart(scenario) + "-stats.csv"
        guard let report = [json, html, csv, junit].compactMap({ $0 }).first else { return name }
        let folder = (report as NSString).deletingLastPathComponent
        return folder.isEmpty ? name : (folder as NSString).appendingPathComponent(name)
    }

    /// `report` with its trace paths relative to the HTML file's folder, so its links work
    /// wherever the folder is moved with the traces beside it.
    static func linkingTraces(_ report: RunReport, from htmlPath: String?) -> RunReport {
        guard let htmlPath, report.traces != nil else { return report }
        let folder = (htmlPath as NSString).deletingLastPathComponent
        var linked = report
        linked.records = report.records.map { record in
            var r = record
            r.tracePath = r.tracePath.map { ReportWriters.relativePath($0, from: folder.isEmpty ? "." : folder) }
            return r
        }
        return linked
    }
}

struct ObservationError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
