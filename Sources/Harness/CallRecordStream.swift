import Foundation
import XMLStream

/// Per-call output written as calls finish, so a run of any length holds none of it in memory:
/// the CSV rows (`ReportWriters.csv`'s format, the columns being the scenarios' measures, and the
/// media steps with `--media`) go straight to their file; the JUnit test cases go to
/// `PATH.partial` and, at `finish`, into `PATH` under a `<testsuite>` whose counts are now known.
/// Safe to call from any thread.
public final class CallRecordStream: @unchecked Sendable {
    private let lock = NSLock()
    private let measureNames: [String]
    private var csv: FileHandle?
    private let junitPath: String?
    private var junitCases: FileHandle?
    private var tests = 0
    private var failures = 0
    /// The first write error (later rows are skipped).
    public private(set) var writeError: String?

    /// The measures a call of these scenarios can record, in order: each `measure` of the
    /// scenarios' expects, then the media plane's steps when `media`.
    public static func measureNames(_ scenarios: [Scenario], media: Bool) -> [String] {
        var names: [String] = []
        func add(_ name: String) { if !names.contains(name) { names.append(name) } }
        for scenario in scenarios { scenario.measures.forEach(add) }
        if media {
            for name in ["accept->ice", "ice->dtls", "dtls->first-media", "restart->ice", "restart->media"] { add(name) }
        }
        return names
    }

    public init(csvPath: String?, junitPath: String?, measureNames: [String]) throws {
        self.measureNames = measureNames
        self.junitPath = junitPath
        if let csvPath {
            csv = try Self.create(csvPath)
            let header =
                (["call", "role", "scenario", "result", "cause", "detail", "duration_ms"] + measureNames.map { "\($0)_ms" })
                .map(ReportWriters.csvField).joined(separator: ",") + "\n"
            try csv?.write(contentsOf: Data(header.utf8))
        }
        if let junitPath { junitCases = try Self.create(junitPath + ".partial") }
    }

    private static func create(_ path: String) throws -> FileHandle {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CallRecordStreamError(description: "cannot create \(path)")
        }
        return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }

    /// Writes one finished call.
    public func write(_ r: CallRecord) {
        lock.lock()
        defer { lock.unlock() }
        guard writeError == nil else { return }
        do {
            if let csv {
                var row = [String(r.callNumber), r.role.rawValue, r.scenario]
                switch r.verdict {
                case .passed: row += ["passed", "", ""]
                case .failed(let cause): row += ["failed", cause.category, cause.description]
                }
                row.append(ReportWriters.ms(r.durationSeconds))
                for name in measureNames {
                    row.append(r.measurements.first { $0.name == name }.map { ReportWriters.ms($0.seconds) } ?? "")
                }
                try csv.write(contentsOf: Data((row.map(ReportWriters.csvField).joined(separator: ",") + "\n").utf8))
            }
            if let junitCases {
                tests += 1
                if !r.verdict.passed { failures += 1 }
                try junitCases.write(contentsOf: Data(XMLSerializer.serialize(ReportWriters.junitTestCase(r)).utf8))
            }
        } catch {
            writeError = "\(error)"
        }
    }

    /// Closes the CSV and writes the JUnit file: the test cases written so far under the suite
    /// `ReportWriters.junit` would write for `report` (its name, time and properties).
    public func finish(report: RunReport) throws {
        lock.lock()
        defer { lock.unlock() }
        try csv?.close()
        csv = nil
        guard let junitPath, let cases = junitCases else {
            if let writeError { throw CallRecordStreamError(description: writeError) }
            return
        }
        try cases.close()
        junitCases = nil
        if let writeError { throw CallRecordStreamError(description: writeError) }
        let marker = "jingle-harness-test-cases"
        var suite = ReportWriters.junitSuite(report, tests: tests, failures: failures)
        suite.append(XMLElement(marker, namespace: ""))
        let text =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + XMLSerializer.serialize(XMLElement("testsuites", namespace: "", children: [suite])) + "\n"
        guard let range = text.range(of: "<\(marker)/>") else { throw CallRecordStreamError(description: "cannot assemble \(junitPath)") }
        let partial = junitPath + ".partial"
        let out = try Self.create(junitPath)
        try out.write(contentsOf: Data(text[..<range.lowerBound].utf8))
        let input = try FileHandle(forReadingFrom: URL(fileURLWithPath: partial))
        while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty { try out.write(contentsOf: chunk) }
        try input.close()
        try out.write(contentsOf: Data(text[range.upperBound...].utf8))
        try out.close()
        try? FileManager.default.removeItem(atPath: partial)
    }
}

/// A per-call output file could not be written.
public struct CallRecordStreamError: Error, CustomStringConvertible {
    public var description: String
}
