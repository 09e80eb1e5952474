import DriverClock
import EngineTime
import Testing
@testable import Media

/// Drives a jitter buffer on a virtual clock: arrivals at given times, one pull every 20 ms.
struct JitterSimulation {
    var buffer: AdaptiveJitterBuffer
    let t0 = EngineClock.process.now
    var decisions: [AdaptiveJitterBuffer.Decision] = []
    var insertResults: [UInt16: AdaptiveJitterBuffer.InsertResult] = [:]

    init(configuration: AdaptiveJitterBuffer.Configuration = .init()) {
        buffer = AdaptiveJitterBuffer(configuration: configuration)
    }

    /// A 20 ms packet: the payload starts with an Opus TOC byte for one 20 ms CELT frame
    /// (configuration 31, RFC 6716 §3.1), then the sequence number.
    static func packet(_ seq: UInt16) -> RTPPacket {
        RTPPacket(
            payloadType: 111, sequenceNumber: seq, timestamp: UInt32(seq) &* 960 &+ 1000, ssrc: 1,
            payload: [0xF8, UInt8(truncatingIfNeeded: seq)])
    }

    /// The arrivals and the pulls (every 20 ms from `firstPull` ms) in time order, an arrival
    /// before a pull in the same millisecond; `seq` is nil for a pull.
    static func timeline(arrivals: [(UInt16, Int)], firstPull: Int, pulls: Int) -> [(ms: Int, seq: UInt16?)] {
        var events: [(ms: Int, order: Int, seq: UInt16?)] = arrivals.map { ($0.1, 0, $0.0) }
        for i in 0..<pulls { events.append((firstPull + 20 * i, 1, nil)) }
        events.sort { ($0.ms, $0.order) < ($1.ms, $1.order) }
        return events.map { ($0.ms, $0.seq) }
    }

    /// `arrivals`: (sequence number, arrival in ms). Pulls start at `firstPull` ms.
    mutating func run(arrivals: [(UInt16, Int)], firstPull: Int, pulls: Int) {
        for e in JitterSimulation.timeline(arrivals: arrivals, firstPull: firstPull, pulls: pulls) {
            let now = t0 + .milliseconds(e.ms)
            if let seq = e.seq {
                insertResults[seq] = buffer.insert(Self.packet(seq), at: now)
            } else {
                decisions.append(buffer.pull(at: now))
            }
        }
    }

    /// The sequence number each decision played (decoded, recovered or concealed).
    var played: [String] {
        decisions.compactMap { d in
            switch d {
            case .buffering: return nil
            case .decode(_, let ts, _): return "d\((ts - 1000) / 960)"
            case .decodeFEC(_, let ts): return "f\((ts - 1000) / 960)"
            case .conceal(let ts): return "c\((ts - 1000) / 960)"
            case .silence(let ts): return "s\((ts - 1000) / 960)"
            }
        }
    }
}

@Suite struct JitterBufferTests {
    /// RFC 2198 at distance 3: a burst of four lost packets is restored by the fifth, which
    /// arrives 80 ms after the first lost one was; the target grows by the distance so that the
    /// first of them is not yet due, and comes back down, a frame at a time, when the sender
    /// repeats less.
    @Test func aRedundancyDistanceAddsItsFramesToTheTarget() {
        var sim = JitterSimulation(configuration: .init(minimumDelay: .milliseconds(20), targetDecreaseHold: 10))
        sim.run(arrivals: (0..<20).map { ($0, Int($0) * 20) }, firstPull: 5, pulls: 0)
        let plain = sim.buffer.statistics.targetDelay
        #expect(plain == .milliseconds(20))
        sim.buffer.setRedundancyDistance(3)
        sim.run(arrivals: [(20, 400)], firstPull: 0, pulls: 0)
        #expect(sim.buffer.statistics.targetDelay == .milliseconds(80), "one frame plus three")
        #expect(sim.buffer.redundancyDistance == 3)
        sim.buffer.setRedundancyDistance(0)
        sim.run(arrivals: (21..<31).map { ($0, Int($0) * 20) }, firstPull: 0, pulls: 0)
        #expect(sim.buffer.statistics.targetDelay == .milliseconds(60), "down one frame after the hold")
        sim.run(arrivals: (31..<61).map { ($0, Int($0) * 20) }, firstPull: 0, pulls: 0)
        #expect(sim.buffer.statistics.targetDelay == .milliseconds(20))
    }

    @Test func steadyStreamPlaysEveryFrame() {
        var sim = JitterSimulation()
        sim.run(arrivals: (0..<50).map { ($0, Int($0) * 20) }, firstPull: 5, pulls: 50)
        #expect(sim.played == (0..<50).map { "d\($0)" })
        #expect(sim.buffer.statistics.concealedFrames == 0)
        #expect(sim.buffer.statistics.decodedFrames == 50)
    }

    @Test func reorderedPacketsAreStillPlayedInOrder() {
        var sim = JitterSimulation()
        var arrivals: [(UInt16, Int)] = (0..<30).map { ($0, Int($0) * 20) }
        arrivals[10].1 = 215; arrivals[11].1 = 205 // 11 arrives before 10
        sim.run(arrivals: arrivals, firstPull: 25, pulls: 28)
        #expect(Array(sim.played.prefix(28)) == (0..<28).map { "d\($0)" })
        #expect(sim.buffer.statistics.concealedFrames == 0 && sim.buffer.statistics.latePackets == 0)
    }

    @Test func singleLossIsRecoveredFromNextPacketsFEC() {
        var sim = JitterSimulation()
        let arrivals: [(UInt16, Int)] = (0..<30).filter { $0 != 12 }.map { ($0, Int($0) * 20) }
        sim.run(arrivals: arrivals, firstPull: 25, pulls: 28)
        #expect(sim.played.contains("f12"))
        #expect(sim.played.contains("d13"))
        #expect(sim.buffer.statistics.fecRecoveredFrames == 1)
        #expect(sim.buffer.statistics.concealedFrames == 0)
    }

    @Test func burstLossConcealsThenUsesFEC() {
        var sim = JitterSimulation()
        let arrivals: [(UInt16, Int)] = (0..<30).filter { !(10...12).contains($0) }.map { ($0, Int($0) * 20) }
        sim.run(arrivals: arrivals, firstPull: 25, pulls: 28)
        // The buffer runs dry at 10: concealment holds the playout point until 13 shows the gap.
        // The frames concealed while waiting stood in for the lost 10 and 11 (expand, then
        // merge): the playout point moves on to 12, which comes from 13's FEC. Nothing more is
        // concealed, and the delay the wait added is not kept (no accelerate to take it back).
        let after9 = sim.played.drop { $0 != "d9" }.dropFirst()
        let gap = after9.prefix { $0 != "f12" }
        #expect(gap.count == 2 && gap.allSatisfy { $0 == "c10" }, "\(sim.played)")
        #expect(Array(after9.dropFirst(gap.count).prefix(2)) == ["f12", "d13"])
        #expect(sim.buffer.statistics.concealedFrames == 2)
        #expect(sim.buffer.statistics.fecRecoveredFrames == 1)
        #expect(sim.buffer.statistics.acceleratedFrames == 0)
        #expect(Array(sim.played.suffix(3)) == ["d25", "d26", "d27"], "on time after the burst: \(sim.played)")
    }

    @Test func latePacketIsCountedAndConcealed() {
        var sim = JitterSimulation()
        var arrivals: [(UInt16, Int)] = (0..<30).map { ($0, Int($0) * 20) }
        arrivals[10].1 = 400 // far too late
        arrivals[11].1 = 400
        sim.run(arrivals: arrivals, firstPull: 25, pulls: 28)
        #expect(sim.insertResults[10] == .late)
        #expect(sim.buffer.statistics.latePackets >= 1)
        #expect(sim.buffer.statistics.concealedFrames >= 1)
        #expect(sim.played.contains("c10"))
    }

    @Test func duplicateIsIgnored() {
        var sim = JitterSimulation()
        sim.run(arrivals: [(0, 0), (1, 20), (1, 21), (2, 40)], firstPull: 25, pulls: 3)
        #expect(sim.insertResults[1] == .duplicate)
        #expect(sim.buffer.statistics.duplicatePackets == 1)
    }

    @Test func targetDelayFollowsThe95thPercentile() {
        var sim = JitterSimulation()
        // Every fifth packet is 60 ms late: the target must cover it.
        let arrivals: [(UInt16, Int)] = (0..<200).map { ($0, Int($0) * 20 + ($0 % 5 == 4 ? 60 : 0)) }
        sim.run(arrivals: arrivals, firstPull: 5, pulls: 200)
        #expect(sim.buffer.statistics.targetDelay >= .milliseconds(80))
        #expect(sim.buffer.statistics.targetDelay <= .milliseconds(100))
        // The delay was built up by playing concealment while the buffer was dry (expand), not
        // by stretching audio ahead of need (see AudioPlayoutTests for the effect on a stream).
        #expect(sim.buffer.statistics.expandedFrames > 0)
        #expect(sim.buffer.statistics.expandedFrames <= 10)
    }

    @Test func stallThenBurstIsPlayedAndAccelerated() {
        var sim = JitterSimulation(configuration: .init(historyLength: 40))
        // 20 packets arrive at once after a stall, then a steady stream.
        var arrivals: [(UInt16, Int)] = (0..<5).map { ($0, Int($0) * 20) }
        arrivals += (5..<25).map { ($0, 500) }
        arrivals += (25..<80).map { ($0, Int($0) * 20) }
        sim.run(arrivals: arrivals, firstPull: 25, pulls: 90)
        #expect(sim.buffer.statistics.acceleratedFrames > 0)
        #expect(sim.buffer.statistics.overflowDrops == 0)
        #expect(sim.buffer.statistics.latePackets == 0)
        // During the stall the frames are concealed without skipping: every packet is still played.
        for seq in 0..<60 { #expect(sim.played.contains("d\(seq)")) }
    }
}
