/// An adaptive jitter buffer engine modelled on WebRTC NetEq's decision logic (sans-IO). Packets
/// are inserted with their arrival time; each `pull(at:pendingSamples:)` says what to do for the
/// next frame: decode it (perhaps shortened by accelerate), recover it from the next packet's
/// in-band FEC (RFC 6716 §2.1.7), conceal it, or keep buffering. One Opus frame per RTP packet
/// (RFC 7587 §4.2), fixed frame duration.
///
/// - Target delay: the `percentile` (95th) of the packets' relative arrival delay (arrival minus
///   media time, relative to the fastest packet of a sliding history) rounded up to whole frames,
///   plus one frame, within `minimumDelay...maximumDelay`. It rises at once when a packet needs
///   more, and falls by one frame only after `targetDecreaseHold` packets in a row asked for less
///   (hysteresis), so a single quiet stretch does not shrink it.
/// - Buffer level: media from the frame to play to the end of the newest packet, plus the decoded
///   samples the caller still holds; smoothed with `levelSmoothing` per pull (NetEq's buffer
///   level filter), and corrected at once by what time stretching removed.
/// - Accelerate only when the smoothed level and the current level both exceed the high limit
///   (one frame above the larger of the target and NetEq's low limit, max(3/4 target,
///   target - 85 ms)), and at most once every `stretchInterval` pulls. The caller may decline
///   (players here cut only quiet frames, where it is inaudible). At four times the high limit
///   (a stall's backlog) every frame is shortened, loud or not (`fastAccelerate`).
/// - Expand only on a real underrun: when the frame due is missing and nothing else is buffered
///   (or less than NetEq's low limit), it is concealed without moving the playout point, so a late
///   packet is still played and the delay grows by one frame. There is no preemptive expand
///   (stretching audio that is there); at or above the low limit a missing frame counts as lost.
public struct AdaptiveJitterBuffer: Sendable {
    public struct Configuration: Sendable {
        public var clockRate: Int
        public var samplesPerFrame: Int
        public var minimumDelay: Duration
        public var maximumDelay: Duration
        public var maximumPackets: Int
        /// Number of recent packets whose arrival delay drives the target.
        public var historyLength: Int
        public var percentile: Double
        /// Packets in a row that must ask for a lower target before it drops one frame.
        public var targetDecreaseHold: Int
        /// Weight of the previous value in the buffer-level filter, per pull (0...1).
        public var levelSmoothing: Double
        /// Pulls after an accelerate before the next one may happen.
        public var stretchInterval: Int

        public init(clockRate: Int = 48_000, samplesPerFrame: Int = 960,
                    minimumDelay: Duration = .milliseconds(20), maximumDelay: Duration = .milliseconds(400),
                    maximumPackets: Int = 100, historyLength: Int = 200, percentile: Double = 0.95,
                    targetDecreaseHold: Int? = nil, levelSmoothing: Double = 0.95, stretchInterval: Int = 5) {
            self.clockRate = max(1, clockRate)
            self.samplesPerFrame = max(1, samplesPerFrame)
            self.minimumDelay = minimumDelay
            self.maximumDelay = maximumDelay
            self.maximumPackets = max(2, maximumPackets)
            self.historyLength = max(2, historyLength)
            self.percentile = min(max(percentile, 0), 1)
            self.targetDecreaseHold = max(1, targetDecreaseHold ?? self.historyLength / 4)
            self.levelSmoothing = levelSmoothing.isFinite ? min(max(levelSmoothing, 0), 1) : 0.95
            self.stretchInterval = max(1, stretchInterval)
        }
    }

    public enum InsertResult: Equatable, Sendable {
        case buffered
        /// Its frame was already played out (or concealed).
        case late
        case duplicate
        /// Buffered, but the buffer was full and its oldest packet was dropped.
        case overflowed
    }

    /// How the decoded frame should be stretched to steer the buffer towards its target.
    public enum TimeStretch: Equatable, Sendable {
        case none
        /// Buffer above target for a while: shorten the frame by about one pitch period, then
        /// report what was removed with `didAccelerate(removedSamples:)`.
        case accelerate
        /// Buffer at four times the high limit or more (after a stall delivered a backlog):
        /// shorten this frame even if it is loud, and expect to be asked again next frame
        /// (NetEq's fast accelerate). Report what was removed as for `accelerate`.
        case fastAccelerate
    }

    public enum Decision: Equatable, Sendable {
        /// Not started (or nothing to play yet): play silence.
        case buffering
        case decode(payload: [UInt8], timestamp: UInt32, stretch: TimeStretch)
        /// The frame at `timestamp` is missing but the next packet is here: decode its FEC copy.
        case decodeFEC(nextPayload: [UInt8], timestamp: UInt32)
        /// The frame at `timestamp` is missing: run packet-loss concealment.
        case conceal(timestamp: UInt32)
    }

    public struct Statistics: Equatable, Sendable {
        public var insertedPackets = 0
        public var decodedFrames = 0
        /// Every concealed frame, whether lost or played out while the buffer was empty.
        public var concealedFrames = 0
        public var fecRecoveredFrames = 0
        public var latePackets = 0
        public var duplicatePackets = 0
        public var overflowDrops = 0
        /// Frames shortened by accelerate.
        public var acceleratedFrames = 0
        /// Frames concealed while waiting for a late packet, the buffer being empty or below
        /// target (NetEq's expand): each lengthens the delay by a frame. In `concealedFrames`.
        public var expandedFrames = 0
        public var resynchronisations = 0
        /// Media buffered from the next frame to play to the end of the newest packet.
        public var currentDelay: Duration = .zero
        public var targetDelay: Duration = .zero
        /// The smoothed buffer level the accelerate decision uses (including caller-held samples).
        public var filteredLevel: Duration = .zero
    }

    public let configuration: Configuration
    public private(set) var statistics = Statistics()

    private var packets: [Int64: [UInt8]] = [:]
    private var lastTimestamp: UInt32?
    private var lastExtended: Int64 = 0
    private var playout: Int64?
    private var origin: ContinuousClock.Instant?
    private var firstArrival: ContinuousClock.Instant?
    private var transits: [Int64] = []
    private var transitIndex = 0
    /// `transits` kept in ascending order as packets arrive (one binary search and one shift per
    /// packet instead of sorting the whole history every time).
    private var sortedTransits: [Int64] = []
    private var targetSamples: Int64
    private var packetsBelowTarget = 0
    private var filteredLevel: Double = 0
    private var stretchCountdown = 0
    /// End (extended timestamp) of media time that carries no audio packets.
    private var noAudioUntil: Int64?
    /// The playout point when a packet last arrived after its frame was played.
    private var lastLateAt: Int64?

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        targetSamples = Self.samples(configuration.minimumDelay, rate: configuration.clockRate)
        statistics.targetDelay = configuration.minimumDelay
    }

    static func samples(_ d: Duration, rate: Int) -> Int64 { RTPReceiverStatistics.units(d, clockRate: rate) }

    private func duration(samples: Int64) -> Duration {
        .nanoseconds(samples * 1_000_000_000 / Int64(configuration.clockRate))
    }

    private var frame: Int64 { Int64(configuration.samplesPerFrame) }

    private mutating func extend(_ ts: UInt32) -> Int64 {
        guard let last = lastTimestamp else {
            lastTimestamp = ts
            lastExtended = Int64(ts)
            return lastExtended
        }
        let value = lastExtended + Int64(Int32(bitPattern: ts &- last))
        if value > lastExtended {
            lastExtended = value
            lastTimestamp = ts
        }
        return value
    }

    /// Inserts one RTP packet (its payload and timestamp) that arrived at `now`.
    @discardableResult
    public mutating func insert(_ packet: RTPPacket, at now: ContinuousClock.Instant) -> InsertResult {
        let ts = extend(packet.timestamp)
        recordTransit(ts: ts, now: now)
        if firstArrival == nil { firstArrival = now }
        if let p = playout, ts < p {
            statistics.latePackets += 1
            lastLateAt = p
            return .late
        }
        if packets[ts] != nil {
            statistics.duplicatePackets += 1
            return .duplicate
        }
        statistics.insertedPackets += 1
        packets[ts] = packet.payload
        var result = InsertResult.buffered
        if packets.count > configuration.maximumPackets, let oldest = packets.keys.min() {
            packets[oldest] = nil
            statistics.overflowDrops += 1
            result = .overflowed
        }
        updateLevel()
        return result
    }

    /// The first index in ascending `values` whose element is not below `value`.
    private static func lowerBound(of value: Int64, in values: [Int64]) -> Int {
        var low = 0, high = values.count
        while low < high {
            let mid = (low + high) / 2
            if values[mid] < value { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private mutating func recordTransit(ts: Int64, now: ContinuousClock.Instant) {
        let base = origin ?? now
        origin = base
        let transit = Self.samples(now - base, rate: configuration.clockRate) - ts
        if transits.count < configuration.historyLength {
            transits.append(transit)
        } else {
            let replaced = transits[transitIndex]
            sortedTransits.remove(at: Self.lowerBound(of: replaced, in: sortedTransits))
            transits[transitIndex] = transit
            transitIndex = (transitIndex + 1) % configuration.historyLength
        }
        sortedTransits.insert(transit, at: Self.lowerBound(of: transit, in: sortedTransits))
        let sorted = sortedTransits
        let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * configuration.percentile).rounded(.up)))
        let jitter = sorted[index] - sorted[0]
        let frames = (jitter + frame - 1) / frame + 1
        let minimum = Self.samples(configuration.minimumDelay, rate: configuration.clockRate)
        let maximum = Self.samples(configuration.maximumDelay, rate: configuration.clockRate)
        let wanted = min(max(frames * frame, minimum), maximum)
        if wanted > targetSamples {
            targetSamples = wanted
            packetsBelowTarget = 0
        } else if wanted < targetSamples {
            packetsBelowTarget += 1
            if packetsBelowTarget >= configuration.targetDecreaseHold {
                targetSamples = max(wanted, targetSamples - frame)
                packetsBelowTarget = 0
            }
        } else {
            packetsBelowTarget = 0
        }
        statistics.targetDelay = duration(samples: targetSamples)
    }

    /// Buffered media in samples from `start` to the end of the newest packet.
    private func samplesAhead(of start: Int64) -> Int64 {
        guard let newest = packets.keys.max() else { return 0 }
        return max(0, newest + frame - start)
    }

    /// Buffered media from the playout point (or the oldest packet before start).
    private var levelSamples: Int64 {
        guard let start = playout ?? packets.keys.min() else { return 0 }
        return samplesAhead(of: start)
    }

    private mutating func updateLevel() {
        statistics.currentDelay = duration(samples: levelSamples)
        statistics.filteredLevel = duration(samples: Int64(filteredLevel.rounded()))
    }

    /// NetEq's low limit: below it a missing frame is waited for rather than counted lost.
    private var lowLimit: Int64 {
        max(targetSamples * 3 / 4, targetSamples - Self.samples(.milliseconds(85), rate: configuration.clockRate))
    }

    /// NetEq's high limit, one frame higher: accelerate only above it, so an excess of a single
    /// frame (one underrun) is left alone.
    private var highLimit: Int64 {
        max(targetSamples, lowLimit) + frame
    }

    /// Media time from `timestamp` for `duration` units carries no audio: an RFC 4733 telephone
    /// event replaced it (its packets share the stream's clock). Frames there are concealed and
    /// passed over, not waited for, so a DTMF digit does not add to the delay.
    public mutating func noteNoAudio(from timestamp: UInt32, duration: Int) {
        let start = extend(timestamp)
        let end = start + Int64(max(0, duration))
        noAudioUntil = max(noAudioUntil ?? end, end)
    }

    /// Reports how many samples the caller removed when it carried out an accelerate, so the
    /// filtered level follows at once (NetEq corrects its filter the same way). Zero means the
    /// caller declined (the frame was not a good place to cut): it is not counted, and the next
    /// pull may ask again.
    public mutating func didAccelerate(removedSamples: Int) {
        if removedSamples <= 0 {
            statistics.acceleratedFrames = max(0, statistics.acceleratedFrames - 1)
            stretchCountdown = 0
        } else {
            filteredLevel = max(0, filteredLevel - Double(removedSamples))
        }
        updateLevel()
    }

    /// Decides what to play for the next frame at `now`. `pendingSamples`: decoded samples the
    /// caller holds and has not played yet; they count in the buffer level.
    public mutating func pull(at now: ContinuousClock.Instant, pendingSamples: Int = 0) -> Decision {
        defer { updateLevel() }
        guard var p = playout else {
            guard let first = firstArrival, let oldest = packets.keys.min() else { return .buffering }
            let waited = Self.samples(now - first, rate: configuration.clockRate)
            guard levelSamples >= targetSamples || waited >= targetSamples else { return .buffering }
            playout = oldest
            filteredLevel = Double(samplesAhead(of: oldest))
            return pull(at: now, pendingSamples: pendingSamples)
        }
        // After a long outage (or a timestamp jump) skip forward instead of concealing for ever.
        if packets[p] == nil, let oldest = packets.keys.min(),
           oldest - p > Self.samples(configuration.maximumDelay, rate: configuration.clockRate) {
            p = oldest
            statistics.resynchronisations += 1
        }
        let level = samplesAhead(of: p) + Int64(max(0, pendingSamples))
        let w = configuration.levelSmoothing
        filteredLevel = w * filteredLevel + (1 - w) * Double(level)
        if stretchCountdown > 0 { stretchCountdown -= 1 }
        let ts = UInt32(truncatingIfNeeded: p)
        if let payload = packets.removeValue(forKey: p) {
            playout = p + frame
            statistics.decodedFrames += 1
            var stretch = TimeStretch.none
            let high = highLimit
            if level >= 4 * high && filteredLevel >= Double(4 * high) {
                stretch = .fastAccelerate
                statistics.acceleratedFrames += 1
            } else if stretchCountdown == 0 && level > high && filteredLevel >= Double(high) {
                stretch = .accelerate
                stretchCountdown = configuration.stretchInterval
                statistics.acceleratedFrames += 1
            }
            return .decode(payload: payload, timestamp: ts, stretch: stretch)
        }
        // The frame due is missing. With nothing buffered, or less than the low limit, it is taken
        // as late rather than lost (NetEq's expand): conceal without moving the playout point,
        // so the delay grows a frame and the packet can still be played. At or above the low
        // limit (3/4 of the target) it is lost: recover it from the next packet's FEC or conceal it, and
        // move on. Between the low limit and the target it is waited for only if packets were
        // late in the last 100 frames: lateness, not loss, is what more delay cures.
        let replaced = noAudioUntil.map { p < $0 } ?? false
        let recentlyLate = lastLateAt.map { p - $0 < 100 * frame } ?? false
        if !replaced && (packets.isEmpty || level < lowLimit || (recentlyLate && level < targetSamples)) {
            playout = p
            statistics.concealedFrames += 1
            statistics.expandedFrames += 1
            return .conceal(timestamp: ts)
        }
        playout = p + frame
        if let next = packets[p + frame] {
            statistics.fecRecoveredFrames += 1
            return .decodeFEC(nextPayload: next, timestamp: ts)
        }
        statistics.concealedFrames += 1
        return .conceal(timestamp: ts)
    }
}
