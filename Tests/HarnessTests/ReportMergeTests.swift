import Foundation
import Media
import Testing
@testable import Harness

/// `jingle-harness merge`: the JSON reports of two processes merge into what one process placing
/// every call would have reported.
@Suite struct ReportMergeTests {
    static func records(_ range: ClosedRange<Int>, seed: UInt64) -> [CallRecord] {
        var rng = SplitMix64(seed: seed)
        let m = { (n: String, s: Double) in CallInterpreter.Measurement(name: n, seconds: s) }
        return range.flatMap { i -> [CallRecord] in
            let failed = Double.random(in: 0...1, using: &rng) < 0.05
            let accept = Double.random(in: 0.005...0.400, using: &rng)
            let initiator = CallRecord(
                callNumber: i, role: .initiator, scenario: "caller",
                verdict: failed ? .failed(.timeout(expecting: "session-accept", line: 20)) : .passed,
                startedAt: Double(i) / 10, durationSeconds: accept + 0.05,
                measurements: [m("initiate->result", accept / 3)] + (failed ? [] : [m("initiate->accept", accept)]))
            let responder = CallRecord(
                callNumber: i, role: .responder, scenario: "callee", verdict: .passed,
                startedAt: Double(i) / 10, durationSeconds: accept,
                measurements: [m("accept->result", Double.random(in: 0.001...0.05, using: &rng))])
            return [initiator, responder]
        }
    }

    @Test func mergingTwoReportsEqualsOneRunsTotals() throws {
        let a = Self.records(1...300, seed: 11), b = Self.records(301...700, seed: 12)
        let reportA = RunReport(scenario: "caller", records: a, elapsedSeconds: 30, started: 600, placingSeconds: 30)
        let reportB = RunReport(scenario: "caller", records: b, elapsedSeconds: 40, started: 800, placingSeconds: 40)
        let one = RunReport(scenario: "caller", records: a + b, elapsedSeconds: 40, started: 1400, placingSeconds: 40)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("merge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pathA = dir.appendingPathComponent("a.json").path, pathB = dir.appendingPathComponent("b.json").path
        try ReportWriters.json(reportA).write(toFile: pathA, atomically: true, encoding: .utf8)
        try ReportWriters.json(reportB).write(toFile: pathB, atomically: true, encoding: .utf8)
        let merged = try ReportMerge.merge(files: [pathA, pathB])

        #expect(merged.started == one.started && merged.finished == one.finished)
        #expect(merged.succeeded == one.succeeded && merged.failed == one.failed && merged.allPassed == one.allPassed)
        #expect(merged.failuresByCause.map(\.cause) == one.failuresByCause.map(\.cause))
        #expect(merged.failuresByCause.map(\.count) == one.failuresByCause.map(\.count))
        #expect(merged.totals.initiatorFinished == one.totals.initiatorFinished)
        #expect(merged.steps.map(\.name) == one.steps.map(\.name))
        for ((name, m), (_, o)) in zip(merged.steps, one.steps) {
            #expect(m.count == o.count, "\(name)")
            #expect(m.p50 == o.p50 && m.p90 == o.p90 && m.p95 == o.p95 && m.p99 == o.p99 && m.max == o.max, "\(name)")
            #expect(abs(m.mean - o.mean) <= 1e-9 * o.mean, "\(name)")
            #expect(m.histogram == o.histogram, "\(name)")
        }
        #expect(merged.elapsedSeconds == 40 && abs(merged.rate - one.rate) < 1e-9)

        // The merged JSON carries the same numbers, and merges again.
        let json = try #require(try JSONSerialization.jsonObject(with: Data(ReportWriters.json(merged).utf8)) as? [String: Any])
        let oneJSON = try #require(try JSONSerialization.jsonObject(with: Data(ReportWriters.json(one).utf8)) as? [String: Any])
        for key in ["started", "finished", "succeeded", "failed"] { #expect(json[key] as? Int == oneJSON[key] as? Int, "\(key)") }
        let steps = try #require(json["steps"] as? [[String: Any]]), oneSteps = try #require(oneJSON["steps"] as? [[String: Any]])
        for (s, o) in zip(steps, oneSteps) {
            for key in ["p50_ms", "p90_ms", "p99_ms", "max_ms"] { #expect(s[key] as? Double == o[key] as? Double, "\(key)") }
        }
        let again = try ReportMerge.report(fromJSON: Data(ReportWriters.json(merged).utf8))
        #expect(again.totals.steps == merged.totals.steps && again.finished == merged.finished)
    }

    @Test func aReportWithoutHistogramsIsRefused() throws {
        var text = ReportWriters.json(RunReport(scenario: "caller", records: Self.records(1...3, seed: 1), elapsedSeconds: 1, started: 6))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var stripped = object
        stripped["steps"] = (object["steps"] as? [[String: Any]])?.map {
            var s = $0; s["log_histogram"] = nil; return s
        }
        text = String(decoding: try JSONSerialization.data(withJSONObject: stripped), as: UTF8.self)
        #expect(throws: ReportMerge.MergeError.noHistograms("old.json", step: "initiate->result")) {
            try ReportMerge.report(fromJSON: Data(text.utf8), name: "old.json")
        }
        #expect(throws: ReportMerge.MergeError.self) { try ReportMerge.report(fromJSON: Data("{}".utf8)) }
        #expect(throws: ReportMerge.MergeError.empty) { try ReportMerge.merge([]) }
    }
}
