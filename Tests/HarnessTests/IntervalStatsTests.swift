import Foundation
import Testing
@testable import Harness

/// Statistics per interval (`--stats-interval`): the timeline on a virtual clock, the CSV, the
/// HTML time series, and a real runner's rows adding up to its totals.
@Suite struct IntervalStatsTests {
    /// Three intervals on a virtual clock: each event counts in the interval it happened in.
    @Test func eachEventCountsInItsIntervalAndTheTotalsAddUp() {
        var timeline = StatsTimeline(steps: ["initiate->accept", "terminate->result"])
        #expect(timeline.stepNames == ["initiate->accept", "terminate->result", "call"])
        // 0-1 s: three calls start, one passes; setup times 10, 20, 30 ms.
        for _ in 0..<3 { timeline.callStarted() }
        for ms in [10.0, 20, 30] { timeline.measured("initiate->accept", seconds: ms / 1000) }
        timeline.measured("not-a-column", seconds: 1)
        timeline.callFinished(passed: true, durationSeconds: 0.5)
        let first = timeline.close(at: 1, inFlight: 2, targetRate: 3, wallClock: 1000)
        // 1-2 s: one start, one failure, and a responder leg's duration (not counted).
        timeline.callStarted()
        timeline.measured("initiate->accept", seconds: 0.1)
        timeline.callFinished(passed: false, durationSeconds: 1)
        timeline.callFinished(passed: true, durationSeconds: 0.25, counted: false)
        let second = timeline.close(at: 2, inFlight: 2, targetRate: 3, paused: true)
        // 2-2.5 s: the last (short) interval: the two left pass.
        timeline.callFinished(passed: true, durationSeconds: 2)
        timeline.callFinished(passed: true, durationSeconds: 1.5)
        let last = timeline.close(at: 2.5, inFlight: 0, targetRate: 0)

        #expect((first.started, first.passed, first.failed, first.inFlight) == (3, 1, 0, 2))
        #expect(first.rate == 3 && first.intervalSeconds == 1 && first.wallClock == 1000)
        #expect(first.steps[0].count == 3 && first.steps[0].p50 == 0.02 && first.steps[0].p90 == 0.03 && first.steps[0].p99 == 0.03)
        #expect(first.steps[1].count == 0 && first.steps[2].count == 1 && first.steps[2].p50 == 0.5)
        #expect((second.started, second.passed, second.failed, second.paused) == (1, 0, 1, true))
        #expect(second.steps[0].p99 == 0.1 && second.steps[2].count == 1 && second.steps[2].p50 == 0.25)
        #expect((last.started, last.passed, last.failed) == (0, 2, 0))
        #expect(last.intervalSeconds == 0.5 && last.steps[2].count == 2)
        #expect((last.totalStarted, last.totalPassed, last.totalFailed) == (4, 3, 1))
        #expect(timeline.rows == [first, second, last])
        #expect(timeline.rows.map(\.passed).reduce(0, +) == last.totalPassed)
        #expect(timeline.rows.map(\.failed).reduce(0, +) == last.totalFailed)
        #expect(timeline.rows.map(\.started).reduce(0, +) == last.totalStarted)
    }

    @Test func theCSVHasAColumnPerCountAndThreePerStep() {
        var timeline = StatsTimeline(steps: ["initiate->accept"])
        timeline.callStarted()
        timeline.measured("initiate->accept", seconds: 0.012)
        timeline.close(at: 1, inFlight: 1, targetRate: 1, wallClock: 1)
        timeline.callFinished(passed: true, durationSeconds: 0.1)
        timeline.close(at: 2, inFlight: 0, targetRate: 1, wallClock: 2)
        let lines = StatsCSV.render(timeline.rows, steps: timeline.stepNames).split(separator: "\n").map(String.init)
        #expect(
            lines == [
                "time_s,wall_clock,interval_s,started,passed,failed,total_started,total_passed,total_failed,in_flight,rate_cps,"
                    + "target_cps,paused,initiate->accept_count,initiate->accept_p50_ms,initiate->accept_p90_ms,initiate->accept_p99_ms,"
                    + "call_count,call_p50_ms,call_p90_ms,call_p99_ms",
                "1.000,1970-01-01T00:00:01.000Z,1.000,1,0,0,1,0,0,1,1.000,1.000,0,1,12.000,12.000,12.000,0,,,",
                "2.000,1970-01-01T00:00:02.000Z,1.000,0,1,0,1,1,0,0,0.000,1.000,0,0,,,,1,100.000,100.000,100.000",
            ])
    }

    @Test func theHTMLReportDrawsTheRowsAsTimeSeries() {
        var timeline = StatsTimeline(steps: ["initiate->accept", "never-measured"])
        for t in 1...4 {
            timeline.callStarted()
            if t != 3 { timeline.measured("initiate->accept", seconds: Double(t) / 100) }
            timeline.callFinished(passed: true, durationSeconds: 0.1)
            timeline.close(at: Double(t), inFlight: t % 2, targetRate: 1)
        }
        var report = StatisticsTests.report()
        report.intervals = timeline.rows
        let html = HTMLReport.render(report)
        #expect(html.contains("<h2>Over time</h2>"))
        for title in ["calls per interval", "calls in flight", "call rate (calls/s)", "initiate-&gt;accept (ms)", "call (ms)"] {
            #expect(html.contains("<h3>\(title)</h3>"), "\(title)")
        }
        #expect(!html.contains("never-measured"))
        // The setup time has no sample at 3 s: its lines break there (two pieces per percentile).
        let setup = html.components(separatedBy: "<h3>initiate-&gt;accept (ms)</h3>")[1].components(separatedBy: "</svg>")[0]
        #expect(setup.components(separatedBy: "<polyline").count - 1 == 3)
        #expect(setup.components(separatedBy: "<circle").count - 1 == 3)
        #expect(!html.contains("<script"))
        #expect(HTMLReport.render(StatisticsTests.report()).contains("Over time") == false)
    }
}

final class RowBox: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [IntervalStats] = []
    func add(_ row: IntervalStats) { lock.lock(); stored.append(row); lock.unlock() }
    var rows: [IntervalStats] { lock.lock(); defer { lock.unlock() }; return stored }
}
