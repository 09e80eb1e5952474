import DriverClock
import EngineTime
import Testing
@testable import Media

/// Like `JitterSimulation`, but carries out what the buffer decides the way `AudioPlayout` does:
/// an accelerated frame is `removed` samples short, the shortfall is pulled again in the same
/// 20 ms, and the samples held are reported back with each pull.
struct PlayoutSimulation {
    var buffer: AdaptiveJitterBuffer
    let t0 = EngineClock.process.now
    let removed = 240
    var pending = 0
    var decisions: [AdaptiveJitterBuffer.Decision] = []

    init(configuration: AdaptiveJitterBuffer.Configuration) {
        buffer = AdaptiveJitterBuffer(configuration: configuration)
    }

    mutating func run(arrivals: [(UInt16, Int)], firstPull: Int, pulls: Int) {
        for e in JitterSimulation.timeline(arrivals: arrivals, firstPull: firstPull, pulls: pulls) {
            let now = t0 + .milliseconds(e.ms)
            if let seq = e.seq {
                buffer.insert(JitterSimulation.packet(seq), at: now)
                continue
            }
            var rounds = 0
            while pending < 960 && rounds < 4 {
                rounds += 1
                let d = buffer.pull(at: now, pendingSamples: pending)
                decisions.append(d)
                if case .decode(_, _, let stretch) = d, stretch != .none {
                    pending += 960 - removed
                    buffer.didAccelerate(removedSamples: removed)
                } else {
                    pending += 960
                }
            }
            pending = max(0, pending - 960)
        }
    }

    var played: [String] {
        var sim = JitterSimulation()
        sim.decisions = decisions
        return sim.played
    }
}

/// The NetEq-like delay policy: the target follows the 95th percentile with hysteresis,
/// accelerate needs a sustained excess, and expand happens only when the buffer runs dry.
@Suite struct JitterBufferPolicyTests {
    /// SplitMix64, so every run sees the same jitter and loss.
    struct Seeded {
        var state: UInt64
        mutating func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Double(z >> 11) / Double(1 << 53)
        }
    }

    /// One minute of 20 ms packets with up to `jitterMs` of random delay and `loss` random loss.
    static func minute(jitterMs: Int, loss: Double, seed: UInt64) -> [(UInt16, Int)] {
        var rng = Seeded(state: seed)
        return (0..<3000).compactMap { i -> (UInt16, Int)? in
            let delay = Int(rng.next() * Double(jitterMs))
            return rng.next() < loss ? nil : (UInt16(i), i * 20 + delay)
        }
    }

    static let session = AdaptiveJitterBuffer.Configuration(minimumDelay: .milliseconds(40))

    @Test func cleanJitteryStreamNeverStretches() {
        var sim = PlayoutSimulation(configuration: Self.session)
        sim.run(arrivals: Self.minute(jitterMs: 8, loss: 0, seed: 1), firstPull: 10, pulls: 3000)
        let s = sim.buffer.statistics
        #expect(s.acceleratedFrames == 0 && s.expandedFrames == 0 && s.concealedFrames == 0, "\(s)")
        #expect(s.decodedFrames >= 2990)
    }

    @Test func randomLossIsRepairedWithoutStretching() {
        var sim = PlayoutSimulation(configuration: Self.session)
        let arrivals = Self.minute(jitterMs: 8, loss: 0.10, seed: 2)
        sim.run(arrivals: arrivals, firstPull: 10, pulls: 3000)
        let s = sim.buffer.statistics
        let received = Set(arrivals.map(\.0))
        // Only two or more packets lost in a row can empty a buffer that holds one frame ahead:
        // a run of n lost packets leaves it dry for at most n - 1 pulls.
        let bound = (1..<3000).filter { !received.contains(UInt16($0)) && !received.contains(UInt16($0 - 1)) }.count
        #expect(s.expandedFrames <= bound, "\(s), bound \(bound)")
        // Only the delay underruns added is taken back (an accelerate here removes 5 ms, a
        // frame is 20 ms).
        #expect(s.acceleratedFrames <= 4 * s.expandedFrames + 4, "\(s)")
        #expect(s.fecRecoveredFrames > 200)
    }

    @Test func targetRisesAtOnceAndFallsWithHysteresis() {
        var sim = JitterSimulation(configuration: .init(minimumDelay: .milliseconds(40), historyLength: 100, targetDecreaseHold: 25))
        // 100 packets where every fifth is 60 ms late, then a clean stream.
        var arrivals: [(UInt16, Int)] = (0..<100).map { ($0, Int($0) * 20 + ($0 % 5 == 4 ? 60 : 0)) }
        sim.run(arrivals: arrivals, firstPull: 10, pulls: 100)
        #expect(sim.buffer.statistics.targetDelay == .milliseconds(80))
        // The late packets leave the 100-packet history after about 100 clean ones; until then,
        // and for the hold after, the target stays.
        arrivals = (100..<190).map { ($0, Int($0) * 20) }
        var sim2 = sim
        sim2.run(arrivals: arrivals, firstPull: 2010, pulls: 90)
        #expect(sim2.buffer.statistics.targetDelay == .milliseconds(80))
        arrivals = (190..<400).map { ($0, Int($0) * 20) }
        var sim3 = sim2
        sim3.run(arrivals: arrivals, firstPull: 3810, pulls: 210)
        #expect(sim3.buffer.statistics.targetDelay == .milliseconds(40))
    }

    @Test func excessDelayIsAcceleratedAwayGradually() {
        var sim = PlayoutSimulation(configuration: Self.session)
        // A 200 ms stall: the buffer runs dry (expand), then the backlog arrives at once.
        var arrivals: [(UInt16, Int)] = (0..<50).map { ($0, Int($0) * 20) }
        arrivals += (50..<60).map { ($0, 1200) }
        arrivals += (60..<1000).map { ($0, Int($0) * 20) }
        sim.run(arrivals: arrivals, firstPull: 10, pulls: 1000)
        let s = sim.buffer.statistics
        #expect(s.expandedFrames > 0)
        #expect(s.acceleratedFrames > 0)
        #expect(s.latePackets == 0 && s.overflowDrops == 0)
        for seq in 0..<900 { #expect(sim.played.contains("d\(seq)")) }
        // Accelerations are spaced: never two in a row.
        let stretched = sim.decisions.map { if case .decode(_, _, .accelerate) = $0 { true } else { false } }
        #expect(!zip(stretched, stretched.dropFirst()).contains { $0 && $1 })
    }

    @Test func playersCutOnlyQuietFrames() {
        var tone = ToneGenerator(frequency: 200, amplitude: 0.3)
        let loud = tone.nextFrame(samplesPerChannel: 960)
        #expect(TimeStretcher.accelerateIfQuiet(loud, channels: 1, sampleRate: 48_000) == loud)
        let quiet = loud.map { $0 / 100 }
        #expect(TimeStretcher.accelerateIfQuiet(quiet, channels: 1, sampleRate: 48_000).count == 480)
        #expect(TimeStretcher.accelerateIfQuiet([], channels: 1, sampleRate: 48_000).isEmpty)
    }

    @Test func aDeclinedAccelerateIsNotCountedAndIsAskedAgain() {
        var buffer = AdaptiveJitterBuffer(configuration: Self.session)
        let t0 = EngineClock.process.now
        // Eight packets on time but nothing played for 160 ms: above the 60 ms high limit of the
        // 40 ms target, below the 240 ms where every frame is shortened.
        for seq in 0..<8 { buffer.insert(JitterSimulation.packet(UInt16(seq)), at: t0 + .milliseconds(20 * seq)) }
        var asked = 0
        for i in 0..<5 {
            if case .decode(_, _, .accelerate) = buffer.pull(at: t0 + .milliseconds(160 + 20 * i)) {
                asked += 1
                buffer.didAccelerate(removedSamples: 0)
            }
        }
        #expect(asked >= 2, "asked again on the next pull after declining")
        #expect(buffer.statistics.acceleratedFrames == 0)
    }

    @Test func mediaTimeTakenByATelephoneEventIsNotWaitedFor() {
        // Frames 20-24 are replaced by a DTMF event whose packets the session saw (not audio).
        let arrivals: [(UInt16, Int)] = (0..<100).filter { !(20..<25).contains($0) }.map { ($0, Int($0) * 20) }
        var told = PlayoutSimulation(configuration: Self.session)
        told.buffer.noteNoAudio(from: 1000 + 20 * 960, duration: 5 * 960)
        told.run(arrivals: arrivals, firstPull: 10, pulls: 100)
        var untold = PlayoutSimulation(configuration: Self.session)
        untold.run(arrivals: arrivals, firstPull: 10, pulls: 100)
        #expect(told.buffer.statistics.expandedFrames == 0)
        #expect(untold.buffer.statistics.expandedFrames > 0)
        #expect(told.played.filter { $0.hasPrefix("d") }.count >= 90)
        #expect(told.buffer.statistics.concealedFrames == 0, "DTMF is not concealment")
        #expect(told.buffer.statistics.silenceFrames >= 5)
    }

    @Test func aStallsBacklogIsShortenedEveryFrame() {
        var buffer = AdaptiveJitterBuffer(configuration: Self.session)
        let t0 = EngineClock.process.now
        // Forty packets on time, nothing played for 800 ms: far above four times the high limit
        // (60 ms for the 40 ms target).
        for seq in 0..<40 { buffer.insert(JitterSimulation.packet(UInt16(seq)), at: t0 + .milliseconds(20 * seq)) }
        var fast = 0
        for i in 0..<5 {
            if case .decode(_, _, .fastAccelerate) = buffer.pull(at: t0 + .milliseconds(800 + 20 * i)) { fast += 1 }
            buffer.didAccelerate(removedSamples: 240)
        }
        #expect(fast == 5, "every frame, loud or not")
        #expect(buffer.statistics.acceleratedFrames == 5)
    }
}
