import Testing
@testable import JingleKit

/// The quality guard: a call whose packets arrived but whose played frames were mostly
/// concealment is not a success.
@Suite struct MediaQualityGuardTests {
    static func statistics(decoded: Int, concealed: Int, fec: Int = 0, packets: Int) -> CallMediaStatistics {
        var s = CallMediaStatistics()
        s.packetsReceived = packets
        s.decodedFrames = decoded
        s.concealedFrames = concealed
        s.fecRecoveredFrames = fec
        return s
    }

    @Test func theFieldCaseFails() throws {
        // Dino through the old jitter buffer: 920 packets, 99.9 % concealed.
        let why = try #require(MediaQualityGuard().failure(Self.statistics(decoded: 1, concealed: 919, packets: 920)))
        #expect(why.contains("920 packets") && why.contains("99.9 %") && why.contains("20.0 %"), "\(why)")
    }

    @Test func aCleanOrSlightlyLossyCallPasses() {
        #expect(MediaQualityGuard().failure(Self.statistics(decoded: 990, concealed: 10, packets: 1000)) == nil)
        #expect(MediaQualityGuard().failure(Self.statistics(decoded: 800, concealed: 150, fec: 50, packets: 850)) == nil)
    }

    @Test func theThresholdIsTheLimit() {
        let s = Self.statistics(decoded: 700, concealed: 300, packets: 700)
        #expect(MediaQualityGuard().failure(s) != nil)
        #expect(MediaQualityGuard(maximumConcealment: 0.35).failure(s) == nil)
        #expect(MediaQualityGuard(maximumConcealment: 1).failure(s) == nil)
    }

    @Test func tooLittleToJudgeOrNoPacketsIsLeftToTheNoAudioCheck() {
        #expect(MediaQualityGuard().failure(Self.statistics(decoded: 2, concealed: 30, packets: 2)) == nil)
        #expect(MediaQualityGuard().failure(Self.statistics(decoded: 0, concealed: 500, packets: 0)) == nil)
    }

    @Test func silenceFramesAreNotConcealment() {
        var s = Self.statistics(decoded: 500, concealed: 5, packets: 500)
        s.silenceFrames = 2_000
        #expect(s.concealmentRate < 0.02)
        #expect(MediaQualityGuard().failure(s) == nil)
    }
}
