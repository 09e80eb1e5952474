import DriverClock
import EngineTime
import Testing
@testable import Media

@Suite struct ReceiverStatisticsTests {
    let t0 = EngineClock.process.now

    @Test func sequenceRolloverExtendsNumbers() {
        var tracker = RTPSequenceTracker()
        #expect(tracker.update(65534) == .probation)
        #expect(tracker.update(65535) == .accepted(extended: 65535))
        #expect(tracker.update(0) == .accepted(extended: 65536))
        #expect(tracker.update(1) == .accepted(extended: 65537))
        #expect(tracker.update(65535) == .duplicateOrReordered(extended: 65535))
        #expect(tracker.expected == 3)
        #expect(tracker.extendedMax == 65537)
    }

    @Test func largeJumpNeedsConfirmation() {
        var tracker = RTPSequenceTracker()
        _ = tracker.update(10); _ = tracker.update(11)
        #expect(tracker.update(20_000) == .badSequence)
        #expect(tracker.update(20_001) == .accepted(extended: 20_001))
        #expect(tracker.expected == 1)
    }

    @Test func probationRestartsOnOutOfOrderStart() {
        var tracker = RTPSequenceTracker()
        #expect(tracker.update(100) == .probation)
        #expect(tracker.update(50) == .probation)
        #expect(tracker.update(51) == .accepted(extended: 51))
        #expect(tracker.isValid)
    }

    @Test func jitterMatchesHandComputedValues() {
        var stats = RTPReceiverStatistics(ssrc: 1, clockRate: 48_000)
        // (arrival ms, timestamp). The first packet is probation and not measured.
        let arrivals: [(Int, UInt32)] = [(0, 0), (20, 960), (45, 1920), (60, 2880), (80, 3840)]
        for (i, (ms, ts)) in arrivals.enumerated() {
            stats.receive(sequenceNumber: UInt16(i + 1), timestamp: ts, at: t0 + .milliseconds(ms))
        }
        // Transits -960, -720, -960, -960: |D| = 240, 240, 0.
        // J = 240/16 = 15; 15 + (240-15)/16 = 29.0625; 29.0625 - 29.0625/16 = 27.24609375.
        #expect(stats.jitter == 27.24609375)
        #expect(stats.makeReportBlock(at: t0).jitter == 27)
    }

    @Test func lossAndFractionLost() {
        var stats = RTPReceiverStatistics(ssrc: 9, clockRate: 48_000)
        for seq in [1, 2, 3, 5, 6, 8, 9, 10] as [UInt16] {
            stats.receive(sequenceNumber: seq, timestamp: UInt32(seq) * 960, at: t0 + .milliseconds(Int(seq) * 20))
        }
        let block = stats.makeReportBlock(at: t0 + .seconds(1))
        #expect(block.cumulativeLost == 2) // expected 2...10 = 9, received 7
        #expect(block.fractionLost == 56) // 2 * 256 / 9
        #expect(block.extendedHighestSequence == 10)
        #expect(block.ssrc == 9)
        // The next interval has no loss.
        stats.receive(sequenceNumber: 11, timestamp: 11 * 960, at: t0 + .milliseconds(220))
        #expect(stats.makeReportBlock(at: t0 + .seconds(2)).fractionLost == 0)
    }

    @Test func duplicatesCanMakeLossNegative() {
        var stats = RTPReceiverStatistics(ssrc: 9, clockRate: 48_000)
        for seq in [1, 2, 3, 3, 3] as [UInt16] { stats.receive(sequenceNumber: seq, timestamp: 0, at: t0) }
        #expect(stats.cumulativeLost == -2)
    }

    @Test func lastSenderReportAndDelay() {
        var stats = RTPReceiverStatistics(ssrc: 1, clockRate: 48_000)
        let ntp = NTPTimestamp(seconds: 1000, fraction: 0x8000_0000)
        stats.receiveSenderReport(ntp, at: t0)
        let block = stats.makeReportBlock(at: t0 + .milliseconds(1500))
        #expect(block.lastSenderReport == ntp.compact)
        #expect(block.delaySinceLastSenderReport == 98_304)
    }
}
