import Foundation
import Testing
import XMLStream
@testable import Harness

/// A long run keeps a bounded number of records (passed ones without transcripts), counts every
/// call in its totals, and streams per-call output to files as calls finish.
@Suite struct RecordRetentionTests {
    static func record(_ i: Int, passed: Bool) -> CallRecord {
        CallRecord(
            callNumber: i, role: .initiator, scenario: "caller",
            verdict: passed ? .passed : .failed(.timeout(expecting: "iq result", line: 9)), startedAt: Double(i),
            durationSeconds: 0.1, measurements: [.init(name: "initiate->result", seconds: 0.002)],
            transcript: [XMLElement("iq", namespace: "jabber:client", ["id": "\(i)"])])
    }

    @Test func keepsTheFirstRecordsAndDropsPassedTranscripts() {
        let retention = RecordRetention(passed: 3, failed: 2, failedTranscripts: 1)
        var state = RecordRetention.State()
        var kept: [CallRecord] = []
        for i in 1...100 { if let r = state.admit(Self.record(i, passed: i % 10 != 0), under: retention) { kept.append(r) } }
        #expect(kept.map(\.callNumber) == [1, 2, 3, 10, 20])
        #expect(kept.filter(\.verdict.passed).allSatisfy { $0.transcript.isEmpty })
        #expect(kept.first { $0.callNumber == 10 }?.transcript.count == 1)
        #expect(kept.first { $0.callNumber == 20 }?.transcript.isEmpty == true)
        #expect(state.dropped == 95)
        var all = RecordRetention.State()
        #expect(all.admit(Self.record(1, passed: true), under: .all)?.transcript.count == 1)
    }

    @Test func aLongRunnerRunKeepsBoundedRecordsAndCountsEveryCall() async throws {
        // Calls that send nothing pass without a server.
        let scenario = try ScenarioParser.parse(StepStairTests.idle)
        var options = LoadOptions(rate: 2000, maxConcurrent: 100, totalCalls: 400, drainSeconds: 5)
        options.retention = RecordRetention(passed: 10, failed: 10, failedTranscripts: 1)
        let runner = LoadRunner(endpoints: [try StepStairTests.endpoint(scenario)], options: options)
        let streamed = Counter()
        await runner.setRecordSink { _ in streamed.add() }
        let report = await runner.run(scenarioName: "idle")
        #expect(report.records.count == 10)
        #expect(report.finished == 400 && report.succeeded == 400 && report.allPassed)
        #expect(streamed.value == 400)
        #expect(report.steps.last?.summary.count == 400) // call durations of every call
        let json = try #require(try JSONSerialization.jsonObject(with: Data(ReportWriters.json(report).utf8)) as? [String: Any])
        #expect(json["finished"] as? Int == 400 && json["records_dropped"] as? Int == 390)
        #expect(await runner.counters.succeeded == 400)
    }

    @Test func theStreamWritesTheSameCSVAndJUnitAsTheReport() throws {
        let records = (1...5).map { Self.record($0, passed: $0 != 3) }
        let report = RunReport(scenario: "caller", records: records, elapsedSeconds: 2, started: 5, stopReason: .calls(5))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let csv = dir.appendingPathComponent("calls.csv").path, junit = dir.appendingPathComponent("junit.xml").path
        let caller = try ScenarioLibrary.load("caller", searchPaths: [])
        let names = CallRecordStream.measureNames([caller], media: false)
        #expect(names == ["initiate->result", "initiate->accept", "terminate->result"])
        let stream = try CallRecordStream(csvPath: csv, junitPath: junit, measureNames: ["initiate->result"])
        records.forEach(stream.write)
        try stream.finish(report: report)
        #expect(try String(contentsOfFile: csv, encoding: .utf8) == ReportWriters.csv(report))
        #expect(try String(contentsOfFile: junit, encoding: .utf8) == ReportWriters.junit(report))
        #expect(!FileManager.default.fileExists(atPath: junit + ".partial"))
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
