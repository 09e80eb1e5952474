import Testing
@testable import Media

@Suite struct RedundancyControllerTests {
    @Test func cleanPathSendsPlainOpusAtTheFullRate() {
        var c = RedundancyController()
        #expect(c.current.distance == 0 && c.current.opusBitrate == 48_000)
        for _ in 0..<20 { #expect(c.update(lossPercent: 0.4) == nil) }
        #expect(c.current.distance == 0)
    }

    /// Three levels, as a deployment with a tighter budget might set them.
    static let threeLevels = [RedundancyController.Level(distance: 0, opusBitrate: 48_000, fromLossPercent: 0),
                              .init(distance: 1, opusBitrate: 32_000, fromLossPercent: 1),
                              .init(distance: 2, opusBitrate: 24_000, fromLossPercent: 4)]

    @Test func theDefaultRepeatsOneFrameFromOnePercentAtTheSameRate() {
        var c = RedundancyController()
        #expect(c.update(lossPercent: 0.9) == nil)
        let level = c.update(lossPercent: 1.2)
        #expect(level?.distance == 1 && level?.opusBitrate == 48_000 && level?.payloadKilobitsPerSecond == 96)
        #expect(c.update(lossPercent: 30) == nil, "one repeat is the default's top level")
    }

    @Test func lossClimbsAtOnceAndTheRateDropsWithinTheBudget() {
        var c = RedundancyController(levels: Self.threeLevels)
        #expect(c.update(lossPercent: 2)?.distance == 1)
        #expect(c.current.opusBitrate == 32_000 && c.current.payloadKilobitsPerSecond == 64)
        #expect(c.update(lossPercent: 12)?.distance == 2)
        #expect(c.current.opusBitrate == 24_000 && c.current.payloadKilobitsPerSecond == 72)
        // Straight from clean to heavy loss.
        var d = RedundancyController(levels: Self.threeLevels)
        #expect(d.update(lossPercent: 20)?.distance == 2)
    }

    @Test func comingDownWaitsForAStretchOfCleanReportsAndStepsOneLevelAtATime() {
        var c = RedundancyController(levels: Self.threeLevels, holdReports: 5)
        _ = c.update(lossPercent: 10)
        for _ in 0..<4 { #expect(c.update(lossPercent: 0) == nil) }
        #expect(c.update(lossPercent: 0)?.distance == 1)
        for _ in 0..<4 { #expect(c.update(lossPercent: 0) == nil) }
        #expect(c.update(lossPercent: 0)?.distance == 0)
    }

    @Test func aFlickeringPathDoesNotFlipTheStream() {
        var c = RedundancyController(levels: Self.threeLevels, holdReports: 5)
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
