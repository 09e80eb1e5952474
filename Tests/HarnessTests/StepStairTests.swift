import Foundation
import Testing
import XMPPClient
import XMPPCore
@testable import Harness

/// The step stair (`--rate-increase N --every S --rate-max M --stop-on-fail P`): its steps,
/// where it stops, and the capacity it reports.
@Suite struct StepStairTests {
    /// Drives a stair second by second against a simulated target: each second places the
    /// current rate's calls, which finish at once, passed or not as `outcome(rate)` says, with
    /// `setup(rate)` as their `initiate->accept` time. Returns how it stopped and the report.
    static func simulate(
        _ options: StepStairOptions, from start: Double, seconds: Int = 1000,
        outcome: (Double) -> Bool, setup: (Double) -> Double = { _ in 0.05 }
    )
        -> (stop: StopReason?, at: Int, report: CapacityReport)
    {
        var stair = StepStair(options: options, startRate: start)
        var rate = stair.rate(ofStep: 0)
        for t in 0..<seconds {
            switch stair.advance(activeSeconds: Double(t)) {
            case .stop(let reason): return (reason, t, stair.report)
            case .rate(let r): rate = r
            case .keep: break
            }
            for _ in 0..<Int(rate) {
                let step = stair.placed()
                stair.finished(
                    step: step, passed: outcome(rate),
                    measurements: [.init(name: "initiate->accept", seconds: setup(rate))])
            }
        }
        return (nil, seconds, stair.report)
    }

    @Test func theRateClimbsByStepsUpToTheMax() {
        let stair = StepStair(options: StepStairOptions(increase: 15, everySeconds: 10, maxRate: 50), startRate: 10)
        #expect(stair.stepCount == 4)
        #expect((0..<4).map(stair.rate(ofStep:)) == [10, 25, 40, 50])
        #expect(stair.stepIndex(at: 9.99) == 0 && stair.stepIndex(at: 10) == 1 && stair.stepIndex(at: 1e6) == 4)
    }

    @Test func itStopsAtTheStepWhoseFailuresPassTheLimitAndReportsTheLastGoodRate() {
        // A target that refuses a tenth of the calls above 30 calls/s.
        var n = 0
        let options = StepStairOptions(increase: 10, everySeconds: 10, maxRate: 100, stopOnFailPercent: 5)
        let run = Self.simulate(options, from: 10) { rate in
            n += 1
            return rate <= 30 || n % 10 != 0
        }
        #expect(run.stop == .stepFailures(rate: 40, percent: 10, limit: 5))
        #expect(run.at == 31) // the first check after the first failures, placed at 40 calls/s from t = 30
        #expect(run.report.steps.map(\.rate) == [10, 20, 30, 40])
        #expect(run.report.lastGoodRate == 30 && run.report.firstBadRate == 40)
        #expect(run.stop?.description == "--stop-on-fail 5 %: 10 % of the calls at 40 calls/s failed")
    }

    @Test func failuresUnderTheLimitGoOnButTheStepIsNotGood() {
        // 2 % failures at 30 calls/s and above: under --stop-on-fail 5, so the stair runs to the max.
        var n = 0
        let options = StepStairOptions(increase: 10, everySeconds: 5, maxRate: 50, stopOnFailPercent: 5)
        let run = Self.simulate(options, from: 10) { rate in
            n += 1
            return rate < 30 || n % 50 != 0
        }
        #expect(run.stop == .rateMax(50))
        #expect(run.report.steps.count == 5)
        #expect(run.report.lastGoodRate == 20)
    }

    @Test func theP99BoundLowersTheCapacity() {
        // Every call passes, but setup slows down with the rate: 100 ms at 40 calls/s.
        let options = StepStairOptions(
            increase: 10, everySeconds: 10, maxRate: 60, stopOnFailPercent: 1,
            p99BoundSeconds: 0.08)
        let run = Self.simulate(options, from: 10, outcome: { _ in true }, setup: { $0 / 400 })
        #expect(run.stop == .rateMax(60))
        #expect(run.report.lastGoodRate == 30)
        let json = CapacityJSON(run.report)
        #expect(json.last_good_rate_cps == 30 && json.first_bad_rate_cps == 40 && json.p99_bound_ms == 80)
        #expect(json.steps[3].setup_p99_ms == 100 && !json.steps[3].good && json.steps[2].good)
    }

    static let idle = """
        <scenario name="idle" role="initiator" peer="idle">
          <pause ms="1"/>
        </scenario>
        """

    static func endpoint(_ scenario: Scenario) throws -> HarnessEndpoint {
        let jid = try #require(JID("alice@example.invalid/harness"))
        let client = XMPPClient(configuration: XMPPClientConfiguration(jid: jid, password: "unused", pingInterval: nil))
        return HarnessEndpoint(client: client, localJID: jid, scenario: scenario, peer: JID("bob@example.invalid/phone"))
    }
}
