import DriverClock
import EngineTime
import Testing
@testable import Media

/// Builds the packets of one sender: its SSRC, sequence and timestamp origins, packet duration
/// (from the TOC byte it writes) and first timestamp step.
struct RTPSender {
    var ssrc: UInt32 = 0x1234_5678
    var sequence: UInt16 = 0
    var timestamp: UInt32 = 0
    /// The Opus TOC (and frame-count byte for code 3) this sender writes.
    var toc: [UInt8] = [0xF8]
    var samples: UInt32 = 960
    var packetsSent = 0

    /// The next packet; `step` overrides the timestamp step to the packet after it.
    mutating func next(step: UInt32? = nil, marker: Bool = false) -> RTPPacket {
        let packet = RTPPacket(
            marker: marker, payloadType: 111, sequenceNumber: sequence, timestamp: timestamp, ssrc: ssrc,
            payload: toc + [UInt8(truncatingIfNeeded: packetsSent)])
        sequence &+= 1
        timestamp &+= step ?? samples
        packetsSent += 1
        return packet
    }

    /// The sender stays silent for `samples` of media time (DTX): no packet, no sequence number.
    mutating func skip(_ samples: UInt32) { timestamp &+= samples }
}

/// Plays a stream the way `AudioPlayout` does, on a virtual clock: one 20 ms frame per pull,
/// decoded packets as long as their TOC says, accelerate carried out by removing `removed`
/// samples, and the samples held reported back.
struct StreamSimulation {
    var buffer = AdaptiveJitterBuffer(configuration: .init(minimumDelay: .milliseconds(40)))
    let t0 = EngineClock.process.now
    let removed = 240
    var pending = 0
    var decisions: [AdaptiveJitterBuffer.Decision] = []
    /// The largest buffer delay seen after the first second.
    var maximumDelay: Duration = .zero

    /// `arrivals`: packets and their arrival in microseconds; a pull every `pullPeriod` us.
    mutating func run(_ arrivals: [(RTPPacket, Int)], firstPull: Int, pullPeriod: Int = 20_000, until end: Int) {
        var a = arrivals.sorted { $0.1 < $1.1 }[...]
        var pullAt = firstPull
        while pullAt <= end {
            while let (packet, at) = a.first, at <= pullAt {
                buffer.insert(packet, at: t0 + .microseconds(at))
                a = a.dropFirst()
            }
            pull(at: t0 + .microseconds(pullAt))
            if pullAt > 1_000_000 { maximumDelay = max(maximumDelay, buffer.statistics.currentDelay) }
            pullAt += pullPeriod
        }
    }

    mutating func pull(at now: EngineInstant) {
        var rounds = 0
        while pending < 960 && rounds < 4 {
            rounds += 1
            let d = buffer.pull(at: now, pendingSamples: pending)
            decisions.append(d)
            switch d {
            case .decode(let payload, _, let stretch):
                let samples = (try? OpusPacketInfo(parsing: payload))?.totalSamples ?? 960
                if stretch != .none {
                    pending += samples - removed
                    buffer.didAccelerate(removedSamples: removed)
                } else {
                    pending += samples
                }
            case .buffering: pending = 960
            case .decodeFEC, .conceal, .silence: pending += 960
            }
        }
        pending = max(0, pending - 960)
    }

    /// The packets decoded, by the counter byte each sender writes last.
    var decodedPayloads: [UInt8] {
        decisions.compactMap { if case .decode(let payload, _, _) = $0 { return payload.last } else { return nil } }
    }
}

/// Playout driven by RTP timestamps (RFC 3550 §5.1) and packet durations read from the Opus TOC
/// (RFC 7587 §4.2), for the stream shapes real senders produce. Each loss-free shape must decode
/// at least 99 % of the frames sent.
@Suite struct JitterBufferTimestampTests {
    /// Packets every `period` us from `start`, each `samples` long.
    static func stream(
        _ sender: inout RTPSender, count: Int, start: Int = 0, period: Int = 20_000,
        firstStep: UInt32? = nil
    ) -> [(RTPPacket, Int)] {
        (0..<count).map { i in (sender.next(step: i == 0 ? firstStep : nil), start + i * period) }
    }

    static func decodedShare(_ sim: StreamSimulation, framesSent: Int) -> Double {
        Double(sim.buffer.statistics.decodedFrames) / Double(framesSent)
    }

    @Test func gstreamersFirstStepOf648IsPlayedNotLost() {
        // rtpopuspay: timestamps 0, 648, 1608, 2568, ... (the encoder's look-ahead taken off the first step).
        var sender = RTPSender(timestamp: 0)
        var sim = StreamSimulation()
        sim.run(Self.stream(&sender, count: 500, firstStep: 648), firstPull: 5_000, until: 10_100_000)
        #expect(sim.decodedPayloads == (0..<500).map { UInt8(truncatingIfNeeded: $0) })
        #expect(Self.decodedShare(sim, framesSent: 500) >= 0.99)
        #expect(sim.buffer.statistics.concealedRatio <= 0.01)
        #expect(sim.buffer.statistics.latePackets == 0)
    }

    @Test(arguments: [UInt32(0), 0x8000_0000, 0xFFFF_F000])
    func anyTimestampOriginAndWrapAroundPlay(origin: UInt32) {
        var sender = RTPSender(sequence: 65_500, timestamp: origin)
        var sim = StreamSimulation()
        sim.run(Self.stream(&sender, count: 300), firstPull: 5_000, until: 6_200_000)
        #expect(Self.decodedShare(sim, framesSent: 300) >= 0.99)
        #expect(sim.buffer.statistics.latePackets == 0 && sim.buffer.statistics.resynchronisations == 0)
    }

    @Test(arguments: [
        ([UInt8(0x50)], UInt32(1920)), // SILK wideband 40 ms, one frame (config 10)
        ([UInt8(0x58)], UInt32(2880)), // SILK wideband 60 ms, one frame (config 11)
        ([UInt8(0xFB), 0x03], UInt32(2880)), // CELT fullband 20 ms, three frames (code 3)
        ([UInt8(0xF0)], UInt32(480)), // CELT fullband 10 ms
    ])
    func packetDurationsComeFromTheTOC(toc: [UInt8], samples: UInt32) {
        var sender = RTPSender(toc: toc, samples: samples)
        let count = Int(10 * 48_000 / samples)
        var sim = StreamSimulation()
        let period = Int(samples) * 1_000 / 48
        sim.run(Self.stream(&sender, count: count, period: period), firstPull: 5_000, until: count * period + 20_000)
        let framesSent = count * Int(samples) / 960
        #expect(Self.decodedShare(sim, framesSent: framesSent) >= 0.99)
        #expect(sim.buffer.statistics.concealedRatio <= 0.01)
        #expect(sim.decodedPayloads.count >= count - 4, "all but the last few, still buffered when the run stops")
    }

    @Test func aPtimeChangeMidCallPlaysOn() {
        var sender = RTPSender()
        var arrivals = Self.stream(&sender, count: 200)
        sender.toc = [0x58]; sender.samples = 2880
        arrivals += Self.stream(&sender, count: 70, start: 4_000_000, period: 60_000)
        var sim = StreamSimulation()
        sim.run(arrivals, firstPull: 5_000, until: 8_500_000)
        #expect(Self.decodedShare(sim, framesSent: 200 + 210) >= 0.99)
        #expect(sim.decodedPayloads.count == 270)
    }

    @Test func aNewSSRCMidCallStartsAfresh() {
        var first = RTPSender(ssrc: 1, sequence: 100, timestamp: 5_000)
        var second = RTPSender(ssrc: 2, sequence: 40_000, timestamp: 3_000_000_000)
        let arrivals = Self.stream(&first, count: 250) + Self.stream(&second, count: 250, start: 5_000_000)
        var sim = StreamSimulation()
        sim.run(arrivals, firstPull: 5_000, until: 10_200_000)
        #expect(sim.buffer.statistics.resynchronisations == 1)
        #expect(Self.decodedShare(sim, framesSent: 500) >= 0.99)
        #expect(sim.buffer.statistics.latePackets == 0)
    }

    @Test(arguments: [Int64(48_000 * 10), -Int64(48_000 * 10)])
    func aTimestampJumpUnderOneSSRCReanchors(jump: Int64) {
        var sender = RTPSender(timestamp: 1_000_000)
        var arrivals = Self.stream(&sender, count: 250)
        sender.timestamp = UInt32(truncatingIfNeeded: Int64(sender.timestamp) + jump)
        arrivals += Self.stream(&sender, count: 250, start: 5_000_000)
        var sim = StreamSimulation()
        sim.run(arrivals, firstPull: 5_000, until: 10_200_000)
        #expect(sim.buffer.statistics.resynchronisations == 1)
        #expect(Self.decodedShare(sim, framesSent: 500) >= 0.99)
        #expect(sim.maximumDelay <= .milliseconds(200))
    }

    @Test func dtxGapsAreSilenceNotLoss() {
        // Talkspurts of 2 s with 1 s of DTX between them: no packets, no sequence numbers
        // skipped, timestamps running on; the first packet of a talkspurt has the marker bit.
        var sender = RTPSender()
        var arrivals: [(RTPPacket, Int)] = []
        var at = 0
        for spurt in 0..<5 {
            for i in 0..<100 {
                arrivals.append((sender.next(marker: spurt > 0 && i == 0), at))
                at += 20_000
            }
            sender.skip(48_000)
            at += 1_000_000
        }
        var sim = StreamSimulation()
        sim.run(arrivals, firstPull: 5_000, until: at - 900_000)
        let s = sim.buffer.statistics
        #expect(Self.decodedShare(sim, framesSent: 500) >= 0.99)
        #expect(s.concealedRatio <= 0.01, "DTX gaps are not concealment: \(s)")
        #expect(s.silenceFrames >= 4 * 45)
        #expect(sim.maximumDelay <= .milliseconds(200))
    }

    @Test func dtxGapsWithoutMarkerBitsAreSilenceToo() {
        var sender = RTPSender()
        var arrivals: [(RTPPacket, Int)] = []
        var at = 0
        for _ in 0..<3 {
            for _ in 0..<100 { arrivals.append((sender.next(), at)); at += 20_000 }
            sender.skip(19_200) // 400 ms
            at += 400_000
        }
        var sim = StreamSimulation()
        sim.run(arrivals, firstPull: 5_000, until: at - 300_000)
        #expect(Self.decodedShare(sim, framesSent: 300) >= 0.99)
        #expect(sim.buffer.statistics.concealedRatio <= 0.015)
        #expect(sim.buffer.statistics.silenceFrames >= 2 * 15)
    }

    @Test(arguments: [0.995, 1.005])
    func senderClockDriftStaysBounded(rate: Double) {
        // Ten minutes of a sender whose clock runs 0.5 % slow or fast against ours.
        var sender = RTPSender()
        let count = 30_000
        let period = Int((20_000 / rate).rounded())
        var sim = StreamSimulation()
        sim.run(Self.stream(&sender, count: count, period: period), firstPull: 5_000, until: count * period + 500_000)
        #expect(Self.decodedShare(sim, framesSent: count) >= 0.99)
        #expect(sim.maximumDelay <= .milliseconds(200), "delay bounded by accelerate/expand")
        #expect(sim.buffer.statistics.discardedPackets == 0)
    }

    @Test func reorderingAndDuplicatesAreAbsorbed() {
        var sender = RTPSender(sequence: 65_000, timestamp: 0xFFFF_0000)
        var rng = JitterBufferPolicyTests.Seeded(state: 7)
        var arrivals: [(RTPPacket, Int)] = []
        for i in 0..<1_000 {
            let packet = sender.next()
            let at = i * 20_000 + Int(rng.next() * 35_000)
            arrivals.append((packet, at))
            if rng.next() < 0.05 { arrivals.append((packet, at + 3_000)) }
        }
        var sim = StreamSimulation()
        sim.run(arrivals, firstPull: 5_000, until: 20_500_000)
        let s = sim.buffer.statistics
        #expect(Self.decodedShare(sim, framesSent: 1_000) >= 0.99)
        #expect(s.duplicatePackets > 20)
        #expect(
            Set(sim.decodedPayloads).count == sim.decodedPayloads.count || sim.decodedPayloads.count > 256,
            "each packet decoded once")
    }

    @Test func lossIsStillConcealedAndRepaired() {
        // Losses (sequence numbers missing) are not mistaken for DTX silence.
        var sender = RTPSender()
        let arrivals = Self.stream(&sender, count: 500).enumerated().filter { $0.offset % 10 != 5 }.map(\.element)
        var sim = StreamSimulation()
        sim.run(arrivals, firstPull: 5_000, until: 10_500_000)
        let s = sim.buffer.statistics
        #expect(s.fecRecoveredFrames + s.concealedFrames >= 50)
        #expect(s.silenceFrames == 0)
    }
}
