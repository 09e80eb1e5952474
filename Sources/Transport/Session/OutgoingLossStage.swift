/// TEST ONLY: decides which outgoing RTP packets to drop, with a SplitMix64 generator so a given
/// seed always drops the same packets.
struct OutgoingLossStage: Sendable {
    let fraction: Double
    private var state: UInt64

    init(fraction: Double, seed: UInt64) {
        self.fraction = min(max(fraction, 0), 1)
        self.state = seed
    }

    mutating func shouldDrop() -> Bool {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53) < fraction
    }
}
