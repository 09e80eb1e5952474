/// Turns the "fraction lost" of the RTCP report blocks about our stream (RFC 3550 §6.4.1, an
/// 8-bit fixed-point fraction of 256) into the expected packet-loss percentage told to the Opus
/// encoder for in-band FEC (RFC 6716 §2.1.7, `OPUS_SET_PACKET_LOSS_PERC`). Sans-IO.
///
/// The estimate rises quickly (a large share of the step towards a higher report) and decays
/// slowly (a small share towards a lower one): one clean report interval after a lossy one is
/// usually luck, and FEC that arrives a few seconds late protects nothing. It is clamped to
/// `0...100`, and `report(fractionLost:)` returns a new whole percentage only when the value the
/// encoder should hold changes, so the owner touches the encoder rarely.
public struct ExpectedLossEstimator: Sendable, Equatable {
    /// Share of the step taken when a report is above the estimate (0...1).
    public let riseWeight: Double
    /// Share of the step taken when a report is below the estimate (0...1).
    public let decayWeight: Double
    /// The smoothed loss in percent (0...100).
    public private(set) var smoothedPercent: Double
    /// The whole percentage last handed out (what the encoder holds).
    public private(set) var percent: Int
    /// Reports absorbed so far.
    public private(set) var reports = 0

    /// - Parameter initialPercent: what the encoder starts with before any report (clamped 0...100).
    public init(initialPercent: Int = 0, riseWeight: Double = 0.6, decayWeight: Double = 0.1) {
        let start = min(max(initialPercent, 0), 100)
        smoothedPercent = Double(start)
        percent = start
        self.riseWeight = min(max(riseWeight, 0), 1)
        self.decayWeight = min(max(decayWeight, 0), 1)
    }

    /// Absorbs one report block's fraction lost (0...255, meaning n/256). Returns the new whole
    /// percentage for the encoder when it differs from the one it holds, else nil.
    public mutating func report(fractionLost: UInt8) -> Int? {
        report(percentLost: Double(fractionLost) * 100 / 256)
    }

    /// Same as `report(fractionLost:)` with the loss already in percent (clamped 0...100).
    public mutating func report(percentLost: Double) -> Int? {
        let sample = percentLost.isFinite ? min(max(percentLost, 0), 100) : 0
        let weight = sample > smoothedPercent ? riseWeight : decayWeight
        smoothedPercent = min(max(smoothedPercent + weight * (sample - smoothedPercent), 0), 100)
        reports += 1
        let next = Int(smoothedPercent.rounded())
        guard next != percent else { return nil }
        percent = next
        return next
    }
}
