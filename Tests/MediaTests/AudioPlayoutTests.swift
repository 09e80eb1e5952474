import DriverClock
import EngineTime
import Testing
@testable import Media

@Suite struct AudioPlayoutTests {
    @Test func playoutRecoversLossWithOpusFEC() throws {
        let encoder = try OpusEncoder()
        try encoder.setBitrate(24_000)
        try encoder.setInbandFEC(true, expectedPacketLossPercent: 20)
        var tone = ToneGenerator(frequency: 300, amplitude: 0.4)
        let playout = try AudioPlayout()
        let t0 = EngineClock.process.now
        var out: [Int16] = []
        for seq in 0..<60 {
            let payload = try encoder.encode(tone.nextFrame(samplesPerChannel: 960))
            let now = t0 + .milliseconds(seq * 20)
            if seq != 30 && seq != 40 && seq != 41 {
                playout.insert(
                    RTPPacket(
                        payloadType: 111, sequenceNumber: UInt16(seq), timestamp: UInt32(seq * 960),
                        ssrc: 5, payload: payload), at: now)
            }
            let frame = playout.pull(at: now + .milliseconds(10))
            #expect(frame.count == 960)
            out += frame
        }
        #expect(playout.statistics.fecRecoveredFrames == 2) // 30 from 31, 41 from 42
        #expect(playout.statistics.concealedFrames >= 1) // 40 (and waiting while the buffer ran dry)
        #expect(playout.decodeErrors == 0)
        #expect(rms(out[(960 * 45)...]) > 3000)
    }

    @Test func delayGrowsUntilLatePacketsArriveInTime() throws {
        let encoder = try OpusEncoder()
        var tone = ToneGenerator(frequency: 300, amplitude: 0.4)
        let playout = try AudioPlayout()
        let t0 = EngineClock.process.now
        // Every fifth packet is 60 ms late; frames are pulled every 20 ms.
        var events: [(ms: Int, packet: RTPPacket?)] = []
        for seq in 0..<300 {
            let payload = try encoder.encode(tone.nextFrame(samplesPerChannel: 960))
            let p = RTPPacket(payloadType: 111, sequenceNumber: UInt16(seq), timestamp: UInt32(seq * 960), ssrc: 5, payload: payload)
            events.append((seq * 20 + (seq % 5 == 4 ? 60 : 0), p))
            events.append((seq * 20 + 10, nil))
        }
        events.sort { ($0.ms, $0.packet == nil ? 1 : 0) < ($1.ms, $1.packet == nil ? 1 : 0) }
        var repairedAtHalf = 0
        var pulls = 0
        for e in events {
            if let p = e.packet {
                playout.insert(p, at: t0 + .milliseconds(e.ms))
            } else {
                _ = playout.pull(at: t0 + .milliseconds(e.ms))
                pulls += 1
                if pulls == 150 { repairedAtHalf = playout.statistics.fecRecoveredFrames + playout.statistics.latePackets }
            }
        }
        let s = playout.statistics
        #expect(s.expandedFrames > 0)
        #expect(repairedAtHalf > 0)
        #expect(s.fecRecoveredFrames + s.latePackets == repairedAtHalf, "late packets kept coming: \(s)")
        #expect(s.currentDelay >= .milliseconds(60))
    }

    @Test func timeStretchChangesLengthByAPitchPeriod() {
        var tone = ToneGenerator(frequency: 200, amplitude: 0.5) // period 240 samples
        let frame = tone.nextFrame(samplesPerChannel: 960)
        let shorter = TimeStretcher.accelerate(frame, channels: 1, sampleRate: 48_000)
        let longer = TimeStretcher.expand(frame, channels: 1, sampleRate: 48_000)
        #expect(960 - shorter.count == 240 || 960 - shorter.count == 480)
        #expect(longer.count - 960 == 240 || longer.count - 960 == 480)
        // No click: neighbouring samples stay close (the tone's largest step is about 430).
        let maxStep = zip(shorter, shorter.dropFirst()).map { abs(Int($0) - Int($1)) }.max() ?? 0
        #expect(maxStep < 700)
    }
}
