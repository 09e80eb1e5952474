import DriverClock
import EngineTime
import Testing
@testable import Media

/// Splitting received RED packets into Opus packets for the jitter buffer.
@Suite struct RedundancyRecoveryTests {
    static let firstSequence: UInt16 = 65_530 // wraps during the stream
    static let firstTimestamp: UInt32 = 4_000

    /// Packet `i` of a 20 ms stream: its Opus frame (TOC 0xF8, then `i`), sequence number and timestamp.
    static func opus(_ i: Int) -> [UInt8] { [0xF8, UInt8(truncatingIfNeeded: i)] }
    static func sequence(_ i: Int) -> UInt16 { firstSequence &+ UInt16(i) }
    static func timestamp(_ i: Int) -> UInt32 { firstTimestamp &+ UInt32(i) * 960 }

    /// `count` RTP packets as libwebrtc sends RED (payload type 63) with `distance` redundant frames.
    static func redStream(_ count: Int, distance: Int = 2, ssrc: UInt32 = 7) -> [RTPPacket] {
        var encoder = RedundantAudioEncoder(distance: distance)
        return (0..<count).map { i in
            RTPPacket(
                marker: i == 0, payloadType: 63, sequenceNumber: sequence(i), timestamp: timestamp(i), ssrc: ssrc,
                payload: encoder.encode(payloadType: 111, timestamp: timestamp(i), payload: opus(i)).serialized())
        }
    }

    static func plain(_ i: Int, ssrc: UInt32 = 7) -> RTPPacket {
        RTPPacket(payloadType: 111, sequenceNumber: sequence(i), timestamp: timestamp(i), ssrc: ssrc, payload: opus(i))
    }

    /// Feeds the packets except `lost`; returns every output packet and the recovery state.
    static func receive(_ packets: [RTPPacket], losing lost: Set<Int>) -> ([RedundancyRecovery.Output], RedundancyRecovery) {
        var recovery = RedundancyRecovery()
        var out: [RedundancyRecovery.Output] = []
        for (i, p) in packets.enumerated() where !lost.contains(i) { out += recovery.process(p) }
        return (out, recovery)
    }

    /// Each output is plain Opus with the sequence number and timestamp of the packet it stands for.
    static func expectConsistent(_ out: [RedundancyRecovery.Output]) {
        for o in out {
            let i = Int(o.packet.payload[1])
            #expect(o.packet.payloadType == 111)
            #expect(o.packet.sequenceNumber == sequence(i) && o.packet.timestamp == timestamp(i), "frame \(i)")
        }
    }

    @Test func nothingLostGivesThePrimariesOnly() {
        let (out, r) = Self.receive(Self.redStream(20), losing: [])
        #expect(out.map { Int($0.packet.payload[1]) } == Array(0..<20))
        #expect(out.allSatisfy { !$0.isRecovered })
        #expect(out.first?.packet.marker == true)
        #expect(r.statistics.recoveredFrames == 0 && r.statistics.redPackets == 20)
        #expect(r.statistics.repeatedFrames == 37) // 1 + 2 * 18 redundant blocks, all already received
        Self.expectConsistent(out)
    }

    @Test func oneLostPacketIsRecovered() {
        let (out, r) = Self.receive(Self.redStream(12), losing: [5])
        #expect(Set(out.map { Int($0.packet.payload[1]) }) == Set(0..<12))
        let recovered = out.filter(\.isRecovered)
        #expect(recovered.map { Int($0.packet.payload[1]) } == [5])
        #expect(r.statistics.recoveredFrames == 1)
        Self.expectConsistent(out)
    }

    /// Distance 2 covers two consecutive losses: the next packet carries both.
    @Test func twoConsecutiveLostPacketsAreRecovered() {
        let (out, r) = Self.receive(Self.redStream(12), losing: [5, 6])
        let recovered = out.filter(\.isRecovered).map { Int($0.packet.payload[1]) }
        #expect(recovered == [5, 6])
        #expect(r.statistics.recoveredFrames == 2)
        // In arrival order: 4, then 5 and 6 recovered just before 7's primary.
        #expect(out.map { Int($0.packet.payload[1]) } == Array(0..<12))
        Self.expectConsistent(out)
    }

    /// A burst of 3 with distance 2: the first of the three is gone for good.
    @Test func aBurstOfThreeIsNotFullyRecovered() {
        let (out, r) = Self.receive(Self.redStream(12), losing: [5, 6, 7])
        #expect(out.filter(\.isRecovered).map { Int($0.packet.payload[1]) } == [6, 7])
        #expect(!out.contains { $0.packet.payload[1] == 5 })
        #expect(r.statistics.recoveredFrames == 2)
        Self.expectConsistent(out)
    }

    /// Distance 3 (the product's top level) restores the last three frames of a burst of four,
    /// and the receiver reads the distance it is sent, for the jitter buffer's target; it falls
    /// back a second (50 packets) after the sender repeats less.
    @Test func distanceThreeRestoresThreeOfABurstAndItsDistanceIsRead() {
        var packets = Self.redStream(12, distance: 3)
        #expect(Self.receive(packets, losing: []).1.receivedDistance == 3)
        let (out, r) = Self.receive(packets, losing: [5, 6, 7, 8])
        #expect(out.filter(\.isRecovered).map { Int($0.packet.payload[1]) } == [6, 7, 8])
        #expect(r.receivedDistance == 3)
        Self.expectConsistent(out)
        // Then 60 packets repeating one frame each.
        var encoder = RedundantAudioEncoder(distance: 1)
        packets += (12..<72).map { i in
            RTPPacket(
                payloadType: 63, sequenceNumber: Self.sequence(i), timestamp: Self.timestamp(i), ssrc: 7,
                payload: encoder.encode(payloadType: 111, timestamp: Self.timestamp(i), payload: Self.opus(i)).serialized())
        }
        var recovery = RedundancyRecovery()
        var seen: [Int] = []
        for p in packets { _ = recovery.process(p); seen.append(recovery.receivedDistance) }
        #expect(seen[11] == 3 && seen[12 + 30] == 3, "the largest of the last 50")
        #expect(seen.last == 1)
        #expect(RedundancyRecovery().receivedDistance == 0)
    }

    /// Distance 1 recovers isolated losses only.
    @Test func distanceOneRecoversSingleLosses() {
        let (out, r) = Self.receive(Self.redStream(12, distance: 1), losing: [3, 6, 7])
        #expect(out.filter(\.isRecovered).map { Int($0.packet.payload[1]) } == [3, 7])
        #expect(r.statistics.recoveredFrames == 2)
        Self.expectConsistent(out)
    }

    /// A frame recovered once is not recovered (or counted) again from the next packet, a packet
    /// received twice gives no second recovery, and a late original still comes through.
    @Test func duplicatesAreNotCountedTwice() {
        let stream = Self.redStream(12)
        var recovery = RedundancyRecovery()
        var out: [RedundancyRecovery.Output] = []
        for i in [0, 1, 2, 3, 4, 6, 6, 7, 8, 5, 9] { out += recovery.process(stream[i]) }
        #expect(out.filter(\.isRecovered).map { Int($0.packet.payload[1]) } == [5])
        #expect(recovery.statistics.recoveredFrames == 1)
        // 6 received twice: both primaries are returned (the jitter buffer drops the repeat).
        #expect(out.filter { $0.packet.payload[1] == 6 }.count == 2)
        // 5's own packet arrives late: returned as a primary.
        #expect(out.last(where: { $0.packet.payload[1] == 5 })?.isRecovered == false)
        Self.expectConsistent(out)
    }

    /// A peer that sends plain Opus for some packets and RED for others (libwebrtc does for frames
    /// too long for a RED block): both are received, and redundancy fills only the real gaps.
    @Test func plainOpusAndREDMixed() {
        let red = Self.redStream(12)
        let packets = (0..<12).map { i in [2, 3, 8].contains(i) ? Self.plain(i) : red[i] }
        let (out, r) = Self.receive(packets, losing: [4, 9])
        #expect(out.filter(\.isRecovered).map { Int($0.packet.payload[1]) } == [4, 9])
        #expect(Set(out.map { Int($0.packet.payload[1]) }) == Set(0..<12))
        #expect(r.statistics.plainPackets == 3 && r.statistics.redPackets == 7)
        Self.expectConsistent(out)
    }

    /// Redundancy for packets sent before the first one received (we joined late) is not
    /// "recovered": those packets were never ours to lose.
    @Test func nothingFromBeforeTheFirstPacket() {
        let (out, r) = Self.receive(Self.redStream(6), losing: [0, 1, 2])
        #expect(out.map { Int($0.packet.payload[1]) } == [3, 4, 5])
        #expect(r.statistics.recoveredFrames == 0 && r.statistics.skippedBlocks == 3) // 1 and 2 in packet 3, 2 again in 4
    }

    /// When the offset is not a whole number of the block's frames (or its TOC cannot be read),
    /// the sequence number comes from the block's position: the frames just before the primary.
    @Test func positionRuleWhenTimestampsAreUneven() throws {
        var recovery = RedundancyRecovery()
        _ = recovery.process(RTPPacket(payloadType: 111, sequenceNumber: 100, timestamp: 10_000, ssrc: 1, payload: [0xF8, 0]))
        let red = try RedundantAudioPayload(
            primaryPayloadType: 111, primary: [0xF8, 3],
            redundant: [
                try .init(payloadType: 111, timestampOffset: 2000, data: [0xF8, 1]), // not a multiple of 960
                try .init(payloadType: 111, timestampOffset: 1000, data: []), // no TOC
            ])
        let out = recovery.process(RTPPacket(payloadType: 63, sequenceNumber: 103, timestamp: 13_000, ssrc: 1, payload: red.serialized()))
        #expect(out.map(\.packet.sequenceNumber) == [101, 102, 103])
        #expect(out.map(\.packet.timestamp) == [11_000, 12_000, 13_000])
        #expect(out.map(\.isRecovered) == [true, true, false])
    }

    @Test func foreignBlocksMalformedPacketsAndNewSSRC() throws {
        var recovery = RedundancyRecovery()
        _ = recovery.process(Self.plain(0))
        // A redundant block of another payload type (PCMU) is skipped; the primary still comes out.
        let red = try RedundantAudioPayload(
            primaryPayloadType: 111, primary: Self.opus(2),
            redundant: [
                try .init(payloadType: 0, timestampOffset: 960, data: [0xFF, 0xFF])
            ])
        var p = Self.plain(2)
        p.payloadType = 63
        p.payload = red.serialized()
        #expect(recovery.process(p).map(\.isRecovered) == [false])
        #expect(recovery.statistics.skippedBlocks == 1)
        p.payload = [0xEF, 0x0F]
        #expect(recovery.process(p).isEmpty)
        #expect(recovery.statistics.malformedPackets == 1)
        // A new SSRC starts afresh: its first packet's redundancy predates it.
        let other = Self.redStream(3, ssrc: 99)
        #expect(recovery.process(other[2]).map(\.isRecovered) == [false])
        #expect(recovery.statistics.recoveredFrames == 0)
    }

    /// Recovered frames plug into the jitter buffer: with redundancy every frame is decoded in
    /// time; without it the lost ones are concealed. (The pulls after the stream's end conceal in
    /// both runs.)
    @Test func jitterBufferPlaysRecoveredFrames() {
        let lost: Set<Int> = [10, 11, 20, 30, 31]
        func played(recovering: Bool) -> AdaptiveJitterBuffer.Statistics {
            var buffer = AdaptiveJitterBuffer(configuration: .init(minimumDelay: .milliseconds(80)))
            var recovery = RedundancyRecovery()
            let t0 = EngineClock.process.now
            let stream = Self.redStream(50)
            for i in 0..<50 {
                let now = t0 + .milliseconds(20 * i)
                if !lost.contains(i) {
                    for o in recovery.process(stream[i]) where recovering || !o.isRecovered { buffer.insert(o.packet, at: now) }
                }
                _ = buffer.pull(at: now + .milliseconds(5))
            }
            for j in 0..<10 { _ = buffer.pull(at: t0 + .milliseconds(1005 + 20 * j)) }
            return buffer.statistics
        }
        let with = played(recovering: true)
        let without = played(recovering: false)
        #expect(with.decodedFrames == 50 && with.latePackets == 0 && with.duplicatePackets == 0, "\(with)")
        #expect(without.decodedFrames == 50 - lost.count, "\(without)")
        // Without it each lost frame is concealed or taken from the next packet's in-band FEC.
        #expect(with.fecRecoveredFrames == 0)
        #expect(without.concealedFrames + without.fecRecoveredFrames - with.concealedFrames == lost.count, "\(with) \(without)")
    }

    /// Share of frames neither received nor recovered, over `count` packets through `loss`.
    static func residualLoss<M: PacketLossModel>(_ loss: M, distance: Int, count: Int = 20_000) -> (sent: Double, left: Double) {
        var model = loss
        var recovery = RedundancyRecovery()
        var played = Set<UInt32>()
        var lost = 0
        for p in redStream(count, distance: distance) {
            if model.nextPacketLost() { lost += 1; continue }
            for o in recovery.process(p) { played.insert(o.packet.timestamp) }
        }
        return (Double(lost) / Double(count), Double(count - played.count) / Double(count))
    }

    /// What RED buys against the loss models. A lost frame stays lost when the `d` packets after
    /// it are lost too: with independent 10 % loss that leaves p^(d+1) of the frames (1 % with
    /// distance 1, 0.1 % with 2); in bursts of 3 on average each next packet is lost with
    /// probability 2/3, which leaves loss x (2/3)^d, far more.
    @Test func residualLossUnderLossModels() {
        let b1 = Self.residualLoss(BernoulliLoss(lossRate: 0.1, seed: 3), distance: 1)
        let b2 = Self.residualLoss(BernoulliLoss(lossRate: 0.1, seed: 3), distance: 2)
        #expect(abs(b1.left - 0.01) < 0.003 && abs(b2.left - 0.001) < 0.001, "\(b1) \(b2)")
        let g0 = Self.residualLoss(GilbertElliottLoss(averageLoss: 0.1, meanBurstLength: 3, seed: 3), distance: 0)
        let g1 = Self.residualLoss(GilbertElliottLoss(averageLoss: 0.1, meanBurstLength: 3, seed: 3), distance: 1)
        let g2 = Self.residualLoss(GilbertElliottLoss(averageLoss: 0.1, meanBurstLength: 3, seed: 3), distance: 2)
        #expect(g0.left == g0.sent)
        #expect(abs(g1.left - g1.sent * 2 / 3) < 0.01 && abs(g2.left - g2.sent * 4 / 9) < 0.01, "\(g0) \(g1) \(g2)")
    }
}
