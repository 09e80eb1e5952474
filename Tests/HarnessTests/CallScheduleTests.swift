import EngineTime
import Foundation
import Testing
@testable import Harness

/// The load schedule on a virtual clock: pause, resume (no burst of missed calls), rate change,
/// ramp and durations counting only active time; and paused time in the reports.
@Suite struct CallScheduleTests {
    /// Steps the clock by `step` up to `until` and places every call that comes due; returns their start times.
    func drive(_ schedule: inout CallSchedule, from: Double, until: Double, step: Double = 0.001) -> [Double] {
        var starts: [Double] = []
        var i = 0
        while from + Double(i) * step < until {
            let t = from + Double(i) * step
            while schedule.isDue(now: .seconds(t)) {
                starts.append(t)
                schedule.placed(now: .seconds(t))
            }
            i += 1
        }
        return starts
    }

    @Test func callsComeDueAtTheRate() {
        var schedule = CallSchedule(rate: 10, now: .seconds(0))
        let starts = drive(&schedule, from: 0, until: 1.0)
        #expect(starts.count == 10)
        #expect(schedule.currentRate(now: .seconds(1)) == 10)
    }

    @Test func nothingComesDueWhilePausedAndResumeRestartsFromNowWithoutABurst() {
        var schedule = CallSchedule(rate: 10, now: .seconds(0))
        #expect(drive(&schedule, from: 0, until: 0.45).count == 5)
        schedule.pause(now: .seconds(0.45))
        #expect(schedule.isPaused && schedule.nextDue == nil)
        #expect(drive(&schedule, from: 0.45, until: 10.45).isEmpty)
        schedule.resume(now: .seconds(10.45))
        // Exactly one call at the resume, then one every 0.1 s: not the 100 "missed" ones.
        let after = drive(&schedule, from: 10.45, until: 10.9)
        #expect(after.count == 5)
        #expect(after.first.map { abs($0 - 10.45) < 1e-9 } == true)
        #expect(abs((schedule.paused(now: .seconds(20)) - .seconds(10)).inSeconds) < 1e-9)
        #expect(abs((schedule.active(now: .seconds(20)) - .seconds(10)).inSeconds) < 1e-9)
    }

    @Test func pausedTimeCountsTheCurrentPauseAndRepeatedPauseOrResumeChangesNothing() {
        var schedule = CallSchedule(rate: 5, now: .seconds(0))
        schedule.pause(now: .seconds(1))
        schedule.pause(now: .seconds(2))
        #expect(schedule.paused(now: .seconds(4)) == .seconds(3))
        schedule.resume(now: .seconds(4))
        schedule.resume(now: .seconds(6))
        #expect(schedule.paused(now: .seconds(8)) == .seconds(3))
        #expect(!schedule.isPaused)
    }

    @Test func aRateChangeTakesEffectFromNowAndABehindScheduleDoesNotCatchUp() {
        var schedule = CallSchedule(rate: 1, now: .seconds(0))
        _ = drive(&schedule, from: 0, until: 0.5) // one call at 0; the next due at 1
        schedule.setRate(100, now: .seconds(0.5)) // due within 10 ms, not at 1
        #expect(schedule.nextDue.map { $0 <= .seconds(0.51) } == true)
        #expect(drive(&schedule, from: 0.5, until: 1.505).count == 100)
        // Behind schedule (nothing placed for 5 s): a new rate starts from now, with no catch-up burst.
        schedule.setRate(10, now: .seconds(6.5))
        #expect(schedule.nextDue == .seconds(6.5))
        #expect(drive(&schedule, from: 6.5, until: 6.95).count == 5)
        schedule.setRate(0, now: .seconds(7))
        #expect(schedule.rate == CallSchedule.minimumRate)
        schedule.setRate(.nan, now: .seconds(7))
        #expect(schedule.rate == CallSchedule.minimumRate)
    }

    @Test func theRampCountsActiveTimeOnly() {
        var schedule = CallSchedule(rate: 100, ramp: .seconds(10), now: .seconds(0))
        #expect(schedule.currentRate(now: .seconds(5)) == 50)
        schedule.pause(now: .seconds(5))
        schedule.resume(now: .seconds(105))
        #expect(schedule.currentRate(now: .seconds(105)) == 50)
        #expect(schedule.currentRate(now: .seconds(110)) == 100)
    }

    static func pausedReport() -> RunReport {
        RunReport(
            scenario: "caller",
            records: (1...10).map {
                CallRecord(
                    callNumber: $0, role: .initiator, scenario: "caller", verdict: .passed, startedAt: 0,
                    durationSeconds: 0.1, measurements: [])
            }, elapsedSeconds: 7, started: 10, pausedSeconds: 5)
    }

    @Test func theRateOfAReportExcludesPausedTimeAndTheOutputsNameIt() throws {
        let report = Self.pausedReport()
        #expect(report.activeSeconds == 2 && report.rate == 5)
        #expect(
            ReportWriters.text(report).hasPrefix(
                "caller: 10 call legs started, 10 finished, 10 passed, 0 failed in 7.0 s, 5.0 s paused (5.0 calls/s)"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(ReportWriters.json(report).utf8)) as? [String: Any])
        #expect(object["paused_s"] as? Double == 5 && object["rate_cps"] as? Double == 5 && object["elapsed_s"] as? Double == 7)
        #expect(HTMLReport.render(report).contains("5.0 s paused"))
        // A run that was never paused prints as before.
        let plain = RunReport(scenario: "caller", records: report.records, elapsedSeconds: 2, started: 10)
        #expect(!ReportWriters.text(plain).contains("paused"))
    }

    @Test func theLiveLineShowsTheOfferedRateAndPaused() {
        let line = ReportWriters.liveLine(
            elapsed: 12, started: 240, succeeded: 236, failed: 1, inFlight: 3, rate: 19.96,
            target: 20, paused: true)
        #expect(line == "   12s started 240 ok 236 failed 1 in-flight 3 rate 20.0/s target 20.0/s PAUSED")
        #expect(
            !ReportWriters.liveLine(elapsed: 1, started: 1, succeeded: 0, failed: 0, inFlight: 1, rate: 0, target: 5)
                .contains("PAUSED"))
    }
}
