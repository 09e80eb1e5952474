import Testing
@testable import Media

/// Seeded loss models: repeatable, and with the loss and burst lengths they were asked for.
@Suite struct PacketLossModelTests {
    /// Share lost and mean length of runs of consecutive losses over `count` packets.
    static func measure<M: PacketLossModel>(_ model: inout M, count: Int) -> (loss: Double, meanBurst: Double) {
        var lost = 0, bursts = 0, previous = false
        for _ in 0..<count {
            let l = model.nextPacketLost()
            if l { lost += 1; if !previous { bursts += 1 } }
            previous = l
        }
        return (Double(lost) / Double(count), bursts == 0 ? 0 : Double(lost) / Double(bursts))
    }

    static func sequence<M: PacketLossModel>(_ model: M, _ count: Int) -> [Bool] {
        var m = model
        return (0..<count).map { _ in m.nextPacketLost() }
    }

    /// The reference outputs of SplitMix64 for seed 0 (as published with the algorithm).
    @Test func splitMixReferenceValues() {
        var g = SplitMix64(seed: 0)
        #expect([g.next(), g.next(), g.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
        var u = SplitMix64(seed: 42)
        for _ in 0..<1000 { let x = u.nextUnit(); #expect(x >= 0 && x < 1) }
    }

    @Test(arguments: [UInt64(1), 0x5EED, 0xDEAD_BEEF])
    func bernoulliMatchesItsRate(seed: UInt64) {
        var model = BernoulliLoss(lossRate: 0.1, seed: seed)
        let m = Self.measure(&model, count: 100_000)
        #expect(abs(m.loss - 0.1) < 0.005, "\(m)")
        // Independent losses: runs average 1 / (1 - p).
        #expect(abs(m.meanBurst - 1 / 0.9) < 0.03, "\(m)")
    }

    @Test(arguments: [UInt64(1), 0x5EED, 0xDEAD_BEEF])
    func gilbertElliottMatchesLossAndBurstLength(seed: UInt64) {
        var model = GilbertElliottLoss(averageLoss: 0.1, meanBurstLength: 3, seed: seed)
        #expect(abs(model.averageLoss - 0.1) < 1e-12)
        let m = Self.measure(&model, count: 100_000)
        #expect(abs(m.loss - 0.1) < 0.01, "\(m)")
        #expect(abs(m.meanBurst - 3) < 0.2, "\(m)")
    }

    @Test func gilbertElliottOtherShapes() {
        var rare = GilbertElliottLoss(averageLoss: 0.02, meanBurstLength: 1.5, seed: 9)
        let r = Self.measure(&rare, count: 100_000)
        #expect(abs(r.loss - 0.02) < 0.004 && abs(r.meanBurst - 1.5) < 0.1, "\(r)")
        var heavy = GilbertElliottLoss(averageLoss: 0.3, meanBurstLength: 8, seed: 9)
        let h = Self.measure(&heavy, count: 100_000)
        #expect(abs(h.loss - 0.3) < 0.03 && abs(h.meanBurst - 8) < 0.6, "\(h)")
    }

    @Test func sameSeedSameSequenceOtherSeedOther() {
        let a = Self.sequence(GilbertElliottLoss(averageLoss: 0.1, meanBurstLength: 3, seed: 7), 5000)
        let b = Self.sequence(GilbertElliottLoss(averageLoss: 0.1, meanBurstLength: 3, seed: 7), 5000)
        let c = Self.sequence(GilbertElliottLoss(averageLoss: 0.1, meanBurstLength: 3, seed: 8), 5000)
        #expect(a == b && a != c)
        #expect(Self.sequence(BernoulliLoss(lossRate: 0.2, seed: 7), 5000) == Self.sequence(BernoulliLoss(lossRate: 0.2, seed: 7), 5000))
    }

    @Test func edgeParameters() {
        #expect(!Self.sequence(BernoulliLoss(lossRate: 0, seed: 1), 1000).contains(true))
        #expect(!Self.sequence(BernoulliLoss(lossRate: 1, seed: 1), 1000).contains(false))
        #expect(!Self.sequence(BernoulliLoss(lossRate: .nan, seed: 1), 100).contains(true))
        #expect(!Self.sequence(GilbertElliottLoss(averageLoss: 0, meanBurstLength: 3, seed: 1), 1000).contains(true))
        // 90 % with bursts of 2 is impossible (bursts would touch): capped at 2/3.
        let capped = GilbertElliottLoss(averageLoss: 0.9, meanBurstLength: 2, seed: 1)
        #expect(abs(capped.averageLoss - 2.0 / 3.0) < 1e-12 && abs(capped.goodToBad - 1) < 1e-12)
        // A burst length below 1 means single losses.
        #expect(GilbertElliottLoss(averageLoss: 0.1, meanBurstLength: 0.2, seed: 1).badToGood == 1)
    }
}
