/// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014): a
/// tiny seeded generator, so a simulation or a test that drops packets drops the same ones on
/// every run. `SystemRandomNumberGenerator` cannot be seeded. Not for anything secret.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in 0..<1 with 53 random bits.
    public mutating func nextUnit() -> Double {
        Double(next() >> 11) / Double(UInt64(1) << 53)
    }
}

/// Decides, packet by packet, whether a simulated network loses it. Seeded: the same seed gives
/// the same sequence.
public protocol PacketLossModel: Sendable {
    /// Whether the next packet is lost.
    mutating func nextPacketLost() -> Bool
}

/// Independent loss: each packet is lost with probability `lossRate`.
public struct BernoulliLoss: PacketLossModel {
    public let lossRate: Double
    private var random: SplitMix64

    public init(lossRate: Double, seed: UInt64) {
        self.lossRate = lossRate.isFinite ? min(max(lossRate, 0), 1) : 0
        random = SplitMix64(seed: seed)
    }

    public mutating func nextPacketLost() -> Bool { random.nextUnit() < lossRate }
}

/// Bursty loss from a two-state Markov chain (Gilbert-Elliott): in the good state a packet is
/// lost with probability `lossInGood`, in the bad state with `lossInBad`; after each packet the
/// chain moves good -> bad with probability `goodToBad` and bad -> good with `badToGood`.
///
/// `init(averageLoss:meanBurstLength:seed:)` gives the common two-parameter form (Gilbert's:
/// nothing lost in the good state, everything in the bad one), where a burst is a stay in the bad
/// state: mean burst length B = 1 / badToGood, and average loss L = goodToBad / (goodToBad +
/// badToGood), so goodToBad = L / ((1 - L) B). For example 10 % average loss with bursts of 3
/// packets on average: badToGood = 1/3, goodToBad = 1/27.
public struct GilbertElliottLoss: PacketLossModel {
    public let goodToBad: Double
    public let badToGood: Double
    public let lossInGood: Double
    public let lossInBad: Double
    public private(set) var isBad = false
    private var random: SplitMix64

    public init(
        goodToBad: Double, badToGood: Double, lossInGood: Double = 0, lossInBad: Double = 1,
        seed: UInt64, startBad: Bool = false
    ) {
        func unit(_ v: Double) -> Double { v.isFinite ? min(max(v, 0), 1) : 0 }
        self.goodToBad = unit(goodToBad)
        self.badToGood = unit(badToGood)
        self.lossInGood = unit(lossInGood)
        self.lossInBad = unit(lossInBad)
        isBad = startBad
        random = SplitMix64(seed: seed)
    }

    /// Average loss `averageLoss` (0..<1) in bursts of `meanBurstLength` (at least 1) packets on
    /// average. An average too high for the burst length (above B / (B + 1), where bursts would
    /// have to touch) is lowered to that bound.
    public init(averageLoss: Double, meanBurstLength: Double, seed: UInt64) {
        let burst = meanBurstLength.isFinite ? max(meanBurstLength, 1) : 1
        let loss = averageLoss.isFinite ? min(max(averageLoss, 0), burst / (burst + 1)) : 0
        let badToGood = 1 / burst
        let goodToBad = loss >= 1 ? 1 : loss / ((1 - loss) * burst)
        self.init(goodToBad: goodToBad, badToGood: badToGood, seed: seed)
    }

    /// The long-run share of packets lost.
    public var averageLoss: Double {
        let total = goodToBad + badToGood
        guard total > 0 else { return isBad ? lossInBad : lossInGood }
        return (badToGood * lossInGood + goodToBad * lossInBad) / total
    }

    public mutating func nextPacketLost() -> Bool {
        let lost = random.nextUnit() < (isBad ? lossInBad : lossInGood)
        let move = random.nextUnit()
        isBad = isBad ? move >= badToGood : move < goodToBad
        return lost
    }
}
