import Testing
@testable import Media

@Suite struct ExpectedLossEstimatorTests {
    @Test func startsAtTheInitialPercentClamped() {
        #expect(ExpectedLossEstimator().percent == 0)
        #expect(ExpectedLossEstimator(initialPercent: 7).percent == 7)
        #expect(ExpectedLossEstimator(initialPercent: -3).percent == 0)
        #expect(ExpectedLossEstimator(initialPercent: 250).percent == 100)
    }

    @Test func risesQuicklyOnLoss() {
        var e = ExpectedLossEstimator()
        // 26/256 is about 10%: two reports take it most of the way.
        let first = e.report(fractionLost: 26)
        let second = e.report(fractionLost: 26)
        #expect(first == 6)
        #expect(second == 9)
        #expect(e.percent == 9)
    }

    @Test func decaysSlowlyWhenLossStops() {
        var e = ExpectedLossEstimator(initialPercent: 20)
        var values: [Int] = []
        for _ in 0..<10 {
            _ = e.report(fractionLost: 0)
            values.append(e.percent)
        }
        #expect(values.first == 18)
        #expect(values == values.sorted(by: >), "never rises on clean reports")
        #expect(values.last! >= 6, "ten clean seconds leave some protection: \(values)")
        for _ in 0..<100 { _ = e.report(fractionLost: 0) }
        #expect(e.percent == 0)
    }

    @Test func reportsOnlyChanges() {
        var e = ExpectedLossEstimator(initialPercent: 10)
        #expect(e.report(percentLost: 10) == nil)
        #expect(e.report(percentLost: 10.4) == nil)
        #expect(e.report(percentLost: 30) == 22)
        #expect(e.reports == 3)
    }

    @Test func clampsOutOfRangeReports() {
        var e = ExpectedLossEstimator()
        _ = e.report(percentLost: 1_000)
        #expect(e.percent == 60)
        for _ in 0..<20 { _ = e.report(percentLost: 1_000) }
        #expect(e.percent == 100 && e.smoothedPercent <= 100)
        _ = e.report(percentLost: -50)
        #expect(abs(e.smoothedPercent - 90) < 0.001, "a negative report counts as no loss")
        _ = e.report(percentLost: .nan)
        #expect(e.smoothedPercent >= 0 && e.smoothedPercent <= 100)
    }
}
