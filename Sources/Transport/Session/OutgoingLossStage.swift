import Media

/// TEST ONLY: decides which outgoing RTP packets to drop, with a seeded loss model (Media's
/// `BernoulliLoss`, or `GilbertElliottLoss` for bursts) so a given seed always drops the same
/// packets.
struct OutgoingLossStage: Sendable {
    let fraction: Double
    private var model: any PacketLossModel

    /// `meanBurst`: nil for independent losses, else the mean length of a burst, in packets.
    init(fraction: Double, seed: UInt64, meanBurst: Double? = nil) {
        let share = min(max(fraction, 0), 1)
        self.fraction = share
        if let meanBurst {
            model = GilbertElliottLoss(averageLoss: share, meanBurstLength: meanBurst, seed: seed)
        } else {
            model = BernoulliLoss(lossRate: share, seed: seed)
        }
    }

    mutating func shouldDrop() -> Bool { model.nextPacketLost() }
}
