/// An adaptive jitter buffer engine in the spirit of WebRTC NetEq (sans-IO). Packets are inserted
/// with their arrival time; each `pull(at:)` says what to do for the next frame: decode it (with
/// a time-stretch hint), recover it from the next packet's in-band FEC (RFC 6716 §2.1.7), conceal
/// it, or keep buffering. The target delay is the 95th percentile of the packets' relative
/// transit delay (arrival minus media time, over a sliding history) plus one frame.
/// Fixed frame duration (one Opus frame per RTP packet, RFC 7587 §4.2).
public struct AdaptiveJitterBuffer: Sendable {
    public struct Configuration: Sendable {
        public var clockRate: Int
        public var samplesPerFrame: Int
        public var minimumDelay: Duration
        public var maximumDelay: Duration
        public var maximumPackets: Int
        /// Number of recent packets whose transit delay drives the target.
        public var historyLength: Int
        public var percentile: Double

        public init(clockRate: Int = 48_000, samplesPerFrame: Int = 960,
                    minimumDelay: Duration = .milliseconds(20), maximumDelay: Duration = .milliseconds(400),
                    maximumPackets: Int = 100, historyLength: Int = 200, percentile: Double = 0.95) {
            self.clockRate = max(1, clockRate)
            self.samplesPerFrame = max(1, samplesPerFrame)
            self.minimumDelay = minimumDelay
            self.maximumDelay = maximumDelay
            self.maximumPackets = max(2, maximumPackets)
            self.historyLength = max(2, historyLength)
            self.percentile = min(max(percentile, 0), 1)
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
        /// Buffer above target: shorten the frame by about one pitch period.
        case accelerate
        /// Buffer below target: lengthen the frame by about one pitch period.
        case preemptiveExpand
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
        public var concealedFrames = 0
        public var fecRecoveredFrames = 0
        public var latePackets = 0
        public var duplicatePackets = 0
        public var overflowDrops = 0
        public var acceleratedFrames = 0
        public var expandedFrames = 0
        public var resynchronisations = 0
        /// Media buffered from the next frame to play to the end of the newest packet.
        public var currentDelay: Duration = .zero
        public var targetDelay: Duration = .zero
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
    private var targetSamples: Int64

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

    private mutating func recordTransit(ts: Int64, now: ContinuousClock.Instant) {
        let base = origin ?? now
        origin = base
        let transit = Self.samples(now - base, rate: configuration.clockRate) - ts
        if transits.count < configuration.historyLength {
            transits.append(transit)
        } else {
            transits[transitIndex] = transit
            transitIndex = (transitIndex + 1) % configuration.historyLength
        }
        let sorted = transits.sorted()
        let index = min(sorted.count - 1, Int((Double(sorted.count - 1) * configuration.percentile).rounded(.up)))
        let jitter = sorted[index] - sorted[0]
        let minimum = Self.samples(configuration.minimumDelay, rate: configuration.clockRate)
        let maximum = Self.samples(configuration.maximumDelay, rate: configuration.clockRate)
        targetSamples = min(max(jitter + frame, minimum), maximum)
        statistics.targetDelay = duration(samples: targetSamples)
    }

    /// Buffered media in samples from the playout point (or the oldest packet before start).
    private var levelSamples: Int64 {
        guard let newest = packets.keys.max() else { return 0 }
        let start = playout ?? packets.keys.min() ?? newest
        return max(0, newest + frame - start)
    }

    private mutating func updateLevel() {
        statistics.currentDelay = duration(samples: levelSamples)
    }

    /// Decides what to play for the next frame at `now`.
    public mutating func pull(at now: ContinuousClock.Instant) -> Decision {
        defer { updateLevel() }
        guard var p = playout else {
            guard let first = firstArrival, let oldest = packets.keys.min() else { return .buffering }
            let waited = Self.samples(now - first, rate: configuration.clockRate)
            guard levelSamples >= targetSamples || waited >= targetSamples else { return .buffering }
            playout = oldest
            return pull(at: now)
        }
        // After a long outage (or a timestamp jump) skip forward instead of concealing for ever.
        if packets[p] == nil, let oldest = packets.keys.min(),
           oldest - p > Self.samples(configuration.maximumDelay, rate: configuration.clockRate) {
            p = oldest
            statistics.resynchronisations += 1
        }
        let ts = UInt32(truncatingIfNeeded: p)
        if let payload = packets.removeValue(forKey: p) {
            let level = levelSamples + frame  // including the frame just taken
            playout = p + frame
            statistics.decodedFrames += 1
            var stretch = TimeStretch.none
            if level > targetSamples + 2 * frame && level >= 3 * frame {
                stretch = .accelerate
                statistics.acceleratedFrames += 1
            } else if level < targetSamples {
                stretch = .preemptiveExpand
                statistics.expandedFrames += 1
            }
            return .decode(payload: payload, timestamp: ts, stretch: stretch)
        }
        // Nothing buffered at all: the frame is late, not lost (NetEq's expand). Conceal without
        // moving the playout point, so the delay grows and the packet can still be played.
        if packets.isEmpty {
            playout = p
            statistics.concealedFrames += 1
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
