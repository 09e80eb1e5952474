import Testing
@testable import Media

@Suite struct RedundancyControllerTests {
    @Test func cleanPathSendsPlainOpusAtTheFullRate() {
        var c = RedundancyController()
        #expect(c.current.distance == 0 && c.current.opusBitrate == 48_000)
        for _ in 0..<20 { #expect(c.update(lossPercent: 0.4) == nil) }
        #expect(c.current.distance == 0)
    }

    /// Each report taken as it is, to test the levels' own rules.
    static let unsmoothed = ExpectedLossEstimator(initialPercent: 0, riseWeight: 1, decayWeight: 1)

    /// Three levels, as a deployment with a tighter budget might set them.
    static let threeLevels = [
        RedundancyController.Level(distance: 0, opusBitrate: 48_000, fromLossPercent: 0),
        .init(distance: 1, opusBitrate: 32_000, fromLossPercent: 1),
        .init(distance: 2, opusBitrate: 24_000, fromLossPercent: 4),
    ]

    @Test func theDefaultRepeatsOneFrameFromOnePercentAndThreeFromEightAtTheSameRate() {
        var c = RedundancyController(lossSmoothing: Self.unsmoothed)
        #expect(c.update(lossPercent: 0.9) == nil)
        let level = c.update(lossPercent: 1.2)
        #expect(level?.distance == 1 && level?.opusBitrate == 48_000 && level?.payloadKilobitsPerSecond == 96)
        let heavy = c.update(lossPercent: 8)
        #expect(heavy?.distance == 3 && heavy?.opusBitrate == 48_000 && heavy?.payloadKilobitsPerSecond == 192)
        #expect(c.update(lossPercent: 30) == nil, "three repeats is the default's top level")
    }

    /// One second of 50 packets at 5 % random loss often shows 8 % or more; smoothed, the
    /// reports of such a path keep one repeat, while loss that stays high climbs within a few.
    @Test func reportsAreSmoothedBeforeTheLevelIsChosen() {
        var c = RedundancyController()
        for report in [4.0, 6, 10, 2, 4, 6, 4, 2, 6, 4, 5, 3] { _ = c.update(lossPercent: report) }
        #expect(c.current.distance == 1, "loss \(c.loss.smoothedPercent) %")
        var reports = 0
        while c.current.distance < 3 && reports < 10 {
            _ = c.update(lossPercent: 12)
            reports += 1
        }
        #expect(c.current.distance == 3 && reports <= 3, "\(reports) reports of 12 %")
    }

    @Test func lossClimbsAtOnceAndTheRateDropsWithinTheBudget() {
        var c = RedundancyController(levels: Self.threeLevels, lossSmoothing: Self.unsmoothed)
        #expect(c.update(lossPercent: 2)?.distance == 1)
        #expect(c.current.opusBitrate == 32_000 && c.current.payloadKilobitsPerSecond == 64)
        #expect(c.update(lossPercent: 12)?.distance == 2)
        #expect(c.current.opusBitrate == 24_000 && c.current.payloadKilobitsPerSecond == 72)
        // Straight from clean to heavy loss.
        var d = RedundancyController(levels: Self.threeLevels, lossSmoothing: Self.unsmoothed)
        #expect(d.update(lossPercent: 20)?.distance == 2)
    }

    @Test func comingDownWaitsForAStretchOfCleanReportsAndStepsOneLevelAtATime() {
        var c = RedundancyController(levels: Self.threeLevels, holdReports: 5, lossSmoothing: Self.unsmoothed)
        _ = c.update(lossPercent: 10)
        for _ in 0..<4 { #expect(c.update(lossPercent: 0) == nil) }
        #expect(c.update(lossPercent: 0)?.distance == 1)
        for _ in 0..<4 { #expect(c.update(lossPercent: 0) == nil) }
        #expect(c.update(lossPercent: 0)?.distance == 0)
    }

    @Test func aFlickeringPathDoesNotFlipTheStream() {
        var c = RedundancyController(levels: Self.threeLevels, holdReports: 5, lossSmoothing: Self.unsmoothed)
        _ = c.update(lossPercent: 5)
        var changes = 0
        for i in 0..<100 where c.update(lossPercent: i % 3 == 0 ? 4.5 : 0) != nil { changes += 1 }
        #expect(changes == 0 && c.current.distance == 2)
        // Loss above half the level's threshold resets the count down.
        for _ in 0..<4 { _ = c.update(lossPercent: 0) }
        #expect(c.update(lossPercent: 3) == nil)
        for _ in 0..<4 { #expect(c.update(lossPercent: 0) == nil) }
        #expect(c.update(lossPercent: 0)?.distance == 1)
    }

    @Test func nonFiniteLossIsIgnored() {
        var c = RedundancyController()
        #expect(c.update(lossPercent: .nan) == nil && c.update(lossPercent: .infinity) == nil)
        #expect(c.current.distance == 0)
    }
}
