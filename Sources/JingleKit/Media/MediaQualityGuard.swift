/// Judges whether a call's received audio was intelligible enough to call the call a success:
/// packets that arrived but could not be played (concealed by PLC, RFC 6716 §4.4) above a
/// threshold mean the user heard nothing useful, whatever the signalling said.
public struct MediaQualityGuard: Sendable, Hashable {
    /// Largest share (0...1) of played frames that may be concealed.
    public var maximumConcealment: Double
    /// Fewer played frames than this (one second of 20 ms frames) are too few to judge.
    public var minimumFrames: Int

    public static let defaultMaximumConcealment = 0.20

    public init(maximumConcealment: Double = Self.defaultMaximumConcealment, minimumFrames: Int = 50) {
        self.maximumConcealment = min(max(maximumConcealment, 0), 1)
        self.minimumFrames = max(1, minimumFrames)
    }

    /// Why the received audio fails the guard, or nil when it passes (or there is too little to
    /// judge, or no packet arrived at all, which callers report as no audio).
    public func failure(_ s: CallMediaStatistics) -> String? {
        let played = s.decodedFrames + s.concealedFrames + s.fecRecoveredFrames
        guard s.packetsReceived > 0, played >= minimumFrames, s.concealmentRate > maximumConcealment else { return nil }
        return "received \(s.packetsReceived) packets but \(Self.percent(s.concealmentRate)) of \(played) frames were concealed"
            + " (decoded \(Self.percent(s.decodedRate)), FEC \(Self.percent(s.fecRecoveryRate)); the limit is \(Self.percent(maximumConcealment)))"
    }

    static func percent(_ share: Double) -> String {
        let tenths = Int((share * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10) %"
    }
}
