import Foundation
import Testing
import XMPPClient
import XMPPCore
@testable import Harness

/// Harness runs against the clock (calls placed at a rate, intervals and stair steps of real
/// seconds): "RealTime" in the name, so Tools/test runs them on their own, where a starved
/// cooperative pool cannot stretch a second-long step past its calls.
@Suite(.serialized) struct HarnessRunnerRealTimeTests {
    /// A real runner for about 2.5 s with a 1 s interval (its calls fail at once: the client
    /// never connects): a row per second and a last short one, whose counts add up to the
    /// report's, and the CSV rows handed on as they close.
    @Test func aRunWritesARowPerIntervalAddingUpToItsTotals() async throws {
        let runner = LoadRunner(
            endpoints: [try StopReasonTests.caller()],
            options: LoadOptions(
                rate: 8, maxConcurrent: 5, totalCalls: nil, durationSeconds: 2.5,
                drainSeconds: 5))
        let handed = RowBox()
        await runner.recordIntervals(every: 1) { handed.add($0) }
        #expect(await runner.measuredSteps == ["initiate->result", "initiate->accept", "terminate->result", "call"])
        let report = await runner.run(scenarioName: "caller")
        let rows = report.intervals
        #expect(rows.count >= 3 && rows.count <= 4, "\(rows.map(\.time))")
        for (k, row) in rows.dropLast().enumerated() {
            #expect(row.time == Double(k + 1) && row.intervalSeconds == 1)
        }
        let last = try #require(rows.last)
        #expect(last.time >= 2.5 && last.intervalSeconds <= 1)
        #expect(rows.map(\.started).reduce(0, +) == report.started)
        #expect(rows.map(\.failed).reduce(0, +) == report.failed)
        #expect(rows.map(\.passed).reduce(0, +) == report.succeeded)
        #expect((last.totalStarted, last.totalPassed, last.totalFailed) == (report.started, report.succeeded, report.failed))
        #expect(report.started >= 15 && report.failed == report.started)
        #expect(last.inFlight == 0)
        #expect(rows.dropLast().allSatisfy { $0.targetRate == 8 })
        #expect(handed.rows == rows)
    }

    @Test func aRunnerStairWhoseCallsAllPassClimbsToTheMax() async throws {
        // Calls that send nothing pass without a server.
        // Steps of a second (10-30 calls each) leave a loaded machine room: at a quarter second a
        // step could go by before its first call was placed.
        var options = LoadOptions(rate: 10, maxConcurrent: 50, totalCalls: nil, drainSeconds: 5)
        options.stair = StepStairOptions(increase: 10, everySeconds: 1, maxRate: 30, stopOnFailPercent: 1)
        let runner = LoadRunner(endpoints: [try StepStairTests.endpoint(try ScenarioParser.parse(StepStairTests.idle))], options: options)
        let report = await runner.run(scenarioName: "idle")
        #expect(report.stopReason == .rateMax(30))
        let capacity = try #require(report.capacity)
        #expect(capacity.steps.map(\.rate) == [10, 20, 30])
        #expect(capacity.steps.allSatisfy { $0.placed > 0 && $0.failed == 0 && $0.finished == $0.placed })
        #expect(capacity.lastGoodRate == 30 && report.allPassed)
        #expect(ReportWriters.text(report).contains("capacity: 30.0 calls/s"))
        #expect(HTMLReport.render(report).contains("Capacity (step stair)"))
    }

    @Test func aRunnerStairWhoseCallsFailStopsAtTheFirstStep() async throws {
        // A client that never connects: each call fails at its first send.
        var options = LoadOptions(rate: 50, maxConcurrent: 10, totalCalls: nil, drainSeconds: 5)
        options.stair = StepStairOptions(increase: 50, everySeconds: 0.3, maxRate: 500, stopOnFailPercent: 10)
        let runner = LoadRunner(
            endpoints: [try StepStairTests.endpoint(try ScenarioLibrary.load("caller", searchPaths: []))], options: options)
        let report = await runner.run(scenarioName: "caller")
        guard case .stepFailures(let rate, let percent, let limit) = report.stopReason else {
            Issue.record("stopped by \(String(describing: report.stopReason))")
            return
        }
        #expect(rate == 50 && percent == 100 && limit == 10)
        #expect(report.capacity?.lastGoodRate == nil)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(ReportWriters.json(report).utf8)) as? [String: Any])
        #expect(json["stopped_by"] as? String == "stop-on-fail")
        let capacity = try #require(json["capacity"] as? [String: Any])
        #expect(capacity["last_good_rate_cps"] == nil && capacity["first_bad_rate_cps"] as? Double == 50)
    }
}
