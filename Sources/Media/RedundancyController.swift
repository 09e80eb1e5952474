/// Chooses how much RFC 2198 redundancy to send, and the Opus bit rate beside it, from the loss
/// the peer reports in RTCP (RFC 3550 §6.4.1 fraction lost). Sans-IO: feed it each report's loss,
/// apply the level it returns.
///
/// Reports are smoothed first (`ExpectedLossEstimator`: quick to rise, slow to fall), since one
/// second of 50 packets at 5 % random loss often shows 10 %. Levels climb at once when the
/// smoothed loss reaches their threshold and come down one at a time only after `holdReports`
/// reports in a row below half of it, so a path that flickers does not flip the stream back and
/// forth. On a clean path redundancy is off and the stream is plain
/// Opus at the full rate; each level names its Opus rate, so a deployment can trade repeats for
/// rate inside its own budget (`Level.payloadKilobitsPerSecond`).
public struct RedundancyController: Sendable, Equatable {
    public struct Level: Sendable, Equatable {
        /// Earlier frames each packet repeats (0: plain Opus, no RED).
        public var distance: Int
        public var opusBitrate: Int
        /// Loss (percent, smoothed) from which this level is chosen.
        public var fromLossPercent: Double

        public init(distance: Int, opusBitrate: Int, fromLossPercent: Double) {
            self.distance = distance
            self.opusBitrate = opusBitrate
            self.fromLossPercent = fromLossPercent
        }

        /// About what the RTP payloads carry per second: each frame sent 1 + `distance` times.
        public var payloadKilobitsPerSecond: Int { opusBitrate * (1 + distance) / 1000 }
    }

    /// The product's levels, all at the clean Opus rate (the budget, in payload at the default
    /// 48 kbit/s: 48 kbit/s clean, 96 from 1 % loss, 192 from 8 %): plain Opus below 1 % loss;
    /// then each packet also repeats the frame before it; from 8 % the three frames before it,
    /// which restores the last three frames of a burst (and the in-band FEC of the oldest, the
    /// fourth). Measured through the network emulator (BENCHMARKS.md): at 10 % loss in bursts of
    /// three, one repeat scores PESQ 2.9 and three 3.4; spending the budget on repeats at a lower
    /// Opus rate lost (two repeats at 32 kbit/s: 3.34 against 3.80 at 10 % random loss), since
    /// wideband PESQ falls faster with the Opus rate than loss takes from the repeats.
    public static func defaultLevels(cleanBitrate: Int = 48_000) -> [Level] {
        [
            Level(distance: 0, opusBitrate: cleanBitrate, fromLossPercent: 0),
            Level(distance: 1, opusBitrate: cleanBitrate, fromLossPercent: 1),
            Level(distance: 3, opusBitrate: cleanBitrate, fromLossPercent: 8),
        ]
    }

    public let levels: [Level]
    public let holdReports: Int
    public private(set) var index = 0
    private var reportsBelow = 0
    /// The reported loss, smoothed; its `smoothedPercent` is what the levels are chosen by.
    public private(set) var loss: ExpectedLossEstimator

    /// `levels` in rising order of `fromLossPercent`, the first from 0. `lossSmoothing` starts
    /// from no loss (weights 1 and 1 take each report as it is).
    public init(
        levels: [Level] = RedundancyController.defaultLevels(), holdReports: Int = 5,
        lossSmoothing: ExpectedLossEstimator = ExpectedLossEstimator(initialPercent: 0)
    ) {
        self.levels = levels.isEmpty ? RedundancyController.defaultLevels() : levels.sorted { $0.fromLossPercent < $1.fromLossPercent }
        self.holdReports = max(1, holdReports)
        loss = lossSmoothing
    }

    public var current: Level { levels[index] }

    /// Takes the loss of one peer report, in percent; returns the new level when it changes.
    public mutating func update(lossPercent reported: Double) -> Level? {
        guard reported.isFinite else { return nil }
        _ = loss.report(percentLost: reported)
        let lossPercent = loss.smoothedPercent
        let wanted = levels.lastIndex { lossPercent >= $0.fromLossPercent } ?? 0
        if wanted > index {
            index = wanted
            reportsBelow = 0
            return current
        }
        guard index > 0, lossPercent < current.fromLossPercent / 2 else {
            reportsBelow = 0
            return nil
        }
        reportsBelow += 1
        guard reportsBelow >= holdReports else { return nil }
        reportsBelow = 0
        index -= 1
        return current
    }
}
