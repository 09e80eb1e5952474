import EngineTime

/// An adaptive jitter buffer engine modelled on WebRTC NetEq's decision logic (sans-IO). Packets
/// are inserted with their arrival time; each `pull(at:pendingSamples:)` says what to do for the
/// next stretch of media: decode a packet (perhaps shortened by accelerate), recover a missing
/// frame from the next packet's in-band FEC (RFC 6716 §2.1.7), conceal it, play silence through a
/// gap the sender left on purpose, or keep buffering.
///
/// Playout follows the RTP timestamps (RFC 3550 §5.1), not a frame count: the playout point is a
/// media time, and the packet that plays next is the earliest one buffered, whatever its
/// timestamp step. Each packet's duration is read from its Opus TOC byte (RFC 7587 §4.2, RFC 6716
/// §3.1: 10, 20, 40 or 60 ms, several frames per packet). So a first step of 648 samples
/// (GStreamer's `rtpopuspay`: 960 minus the encoder's look-ahead), any timestamp origin,
/// wrap-around, 40 and 60 ms packets and ptime changes all play without loss.
///
/// - Sequence numbers tell loss from silence: a timestamp gap with no sequence number missing
///   (DTX, RFC 7587 §3.1.3, or a pause) or before a marker bit (a new talkspurt, RFC 3551 §4.1) is
///   silence, played as such and not counted as concealment; a gap with packets missing is loss.
/// - A new SSRC (the sender restarted) starts the buffer afresh; a timestamp that jumps back or
///   forward by more than `maximumDelay` re-anchors the playout point (`resynchronisations`).
/// - Target delay: the `percentile` (95th) of the packets' relative arrival delay (arrival minus
///   media time, relative to the fastest packet of a sliding history) rounded up to whole frames,
///   plus one frame, plus the RFC 2198 redundancy distance the stream carries (`redundancyDistance`:
///   a frame lost in a burst is restored from a packet up to that many frames later, and its
///   oldest restored frame's in-band FEC covers one more), within `minimumDelay...maximumDelay`.
///   It rises at once when a packet needs
///   more, and falls by one frame only after `targetDecreaseHold` packets in a row asked for less
///   (hysteresis), so a single quiet stretch does not shrink it.
/// - Buffer level: media from the playout point to the end of the newest packet, plus the decoded
///   samples the caller still holds; smoothed with `levelSmoothing` per pull (NetEq's buffer
///   level filter), and corrected at once by what time stretching removed.
/// - Accelerate only when the smoothed level and the current level both exceed the high limit
///   (one frame above the larger of the target and NetEq's low limit, max(3/4 target,
///   target - 85 ms)), and at most once every `stretchInterval` pulls. The caller may decline
///   (players here cut only quiet frames, where it is inaudible). At four times the high limit
///   (a stall's backlog) every frame is shortened, loud or not (`fastAccelerate`). Above
///   `maximumDelay` (a sender clock running fast with stretching off) the oldest packet is
///   dropped, so the delay stays bounded in every mode (`discardedPackets`).
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

        public init(
            clockRate: Int = 48_000, samplesPerFrame: Int = 960,
            minimumDelay: Duration = .milliseconds(20), maximumDelay: Duration = .milliseconds(400),
            maximumPackets: Int = 100, historyLength: Int = 200, percentile: Double = 0.95,
            targetDecreaseHold: Int? = nil, levelSmoothing: Double = 0.95, stretchInterval: Int = 5
        ) {
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
        /// The sender sent nothing for the frame at `timestamp` and lost nothing (DTX or a pause):
        /// play one frame of silence (or the decoder's comfort noise). Not concealment.
        case silence(timestamp: UInt32)
    }

    public struct Statistics: Equatable, Sendable {
        public var insertedPackets = 0
        /// Media decoded from packets, in frames of `samplesPerFrame` (a 60 ms packet is three).
        public var decodedFrames = 0
        /// Every concealed frame, whether lost or played out while the buffer was empty.
        public var concealedFrames = 0
        public var fecRecoveredFrames = 0
        /// Frames of silence played through timestamp gaps the sender left without losing a
        /// packet (DTX, pauses, talkspurt starts). Neither decoded nor concealed.
        public var silenceFrames = 0
        public var latePackets = 0
        public var duplicatePackets = 0
        public var overflowDrops = 0
        /// Packets dropped unplayed because the delay exceeded `maximumDelay`.
        public var discardedPackets = 0
        /// Frames shortened by accelerate.
        public var acceleratedFrames = 0
        /// Frames concealed while waiting for a late packet, the buffer being empty or below
        /// target (NetEq's expand): each lengthens the delay by a frame. In `concealedFrames`.
        public var expandedFrames = 0
        /// Times the playout point was re-anchored: a new SSRC, or a timestamp jump.
        public var resynchronisations = 0
        /// Media buffered from the next frame to play to the end of the newest packet.
        public var currentDelay: Duration = .zero
        public var targetDelay: Duration = .zero
        /// The smoothed buffer level the accelerate decision uses (including caller-held samples).
        public var filteredLevel: Duration = .zero

        /// Frames that carried the sender's audio or a repair of it (silence gaps left out).
        public var playedFrames: Int { decodedFrames + concealedFrames + fecRecoveredFrames }
        /// Share of `playedFrames` that was concealed (0...1); 0 before anything played.
        public var concealedRatio: Double {
            playedFrames == 0 ? 0 : Double(concealedFrames) / Double(playedFrames)
        }
    }

    public let configuration: Configuration
    public private(set) var statistics = Statistics()

    /// One buffered packet: its payload, its duration in samples and its extended sequence number.
    private struct Entry: Sendable {
        var payload: [UInt8]
        var samples: Int64
        var sequence: Int64
        var marker: Bool
    }

    private var packets: [Int64: Entry] = [:]
    /// Packets waiting to be played.
    public var bufferedPacketCount: Int { packets.count }
    private var ssrc: UInt32?
    private var lastTimestamp: UInt32?
    private var lastExtended: Int64 = 0
    private var lastSequence: UInt16?
    private var lastExtendedSequence: Int64 = 0
    /// Extended sequence number of the last packet played (decoded or recovered).
    private var playedSequence: Int64?
    /// The playout point: media time (extended timestamp) of the next sample to play.
    private var playout: Int64?
    private var origin: EngineInstant?
    private var firstArrival: EngineInstant?
    private var transits: [Int64] = []
    private var transitIndex = 0
    /// `transits` kept in ascending order as packets arrive (one binary search and one shift per
    /// packet instead of sorting the whole history every time).
    private var sortedTransits: [Int64] = []
    private var targetSamples: Int64
    /// Earlier frames each packet of the stream repeats (RFC 2198): frames added to the target.
    public private(set) var redundancyDistance = 0
    private var packetsBelowTarget = 0
    private var filteredLevel: Double = 0
    private var stretchCountdown = 0
    /// Decoded samples not yet a whole frame in `statistics.decodedFrames`.
    private var decodedRemainder: Int64 = 0
    /// Frames expanded since the last packet played: reclassified as silence if the packet that
    /// ends the wait shows nothing was lost.
    private var expansionsSincePlayed = 0
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
    private var maximumSamples: Int64 { Self.samples(configuration.maximumDelay, rate: configuration.clockRate) }
    /// Timestamps this close to the playout point count as on time (Opus's shortest frame, 2.5 ms).
    private var tolerance: Int64 { Int64(configuration.clockRate / 400) }

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

    private mutating func extendSequence(_ seq: UInt16) -> Int64 {
        guard let last = lastSequence else {
            lastSequence = seq
            lastExtendedSequence = Int64(seq) + (1 << 16)
            return lastExtendedSequence
        }
        let value = lastExtendedSequence + Int64(Int16(bitPattern: seq &- last))
        if value > lastExtendedSequence {
            lastExtendedSequence = value
            lastSequence = seq
        }
        return value
    }

    /// The packet's duration from its Opus TOC byte; one frame when it cannot be read.
    private func packetSamples(_ payload: [UInt8]) -> Int64 {
        guard let info = try? OpusPacketInfo(parsing: payload) else { return frame }
        return Int64(info.totalSamples) * Int64(configuration.clockRate) / Int64(OpusPacketInfo.rtpClockRate)
    }

    /// Forgets the stream (a new SSRC, or timestamps that jumped): the next packet starts afresh,
    /// keeping the statistics and the target delay.
    private mutating func restart() {
        packets.removeAll()
        lastTimestamp = nil
        lastSequence = nil
        playedSequence = nil
        playout = nil
        origin = nil
        firstArrival = nil
        transits.removeAll()
        sortedTransits.removeAll()
        transitIndex = 0
        noAudioUntil = nil
        lastLateAt = nil
        expansionsSincePlayed = 0
        statistics.resynchronisations += 1
    }

    /// Inserts one RTP packet (its payload, timestamp, sequence number and SSRC) that arrived at `now`.
    @discardableResult
    public mutating func insert(_ packet: RTPPacket, at now: EngineInstant) -> InsertResult {
        if let known = ssrc, known != packet.ssrc { restart() }
        ssrc = packet.ssrc
        var ts = extend(packet.timestamp)
        var seq = extendSequence(packet.sequenceNumber)
        let samples = packetSamples(packet.payload)
        // Far behind the playout point yet newer than everything played: the sender's clock
        // jumped back (a restart under the same SSRC). Start again from this packet.
        if let p = playout, p - ts > 2 * maximumSamples, let played = playedSequence, seq > played {
            restart()
            ts = extend(packet.timestamp)
            seq = extendSequence(packet.sequenceNumber)
        }
        recordTransit(ts: ts, now: now)
        if firstArrival == nil { firstArrival = now }
        if let p = playout, ts + samples <= p {
            statistics.latePackets += 1
            lastLateAt = p
            return .late
        }
        if packets[ts] != nil || (playedSequence.map { seq <= $0 } ?? false) {
            statistics.duplicatePackets += 1
            return .duplicate
        }
        statistics.insertedPackets += 1
        packets[ts] = Entry(payload: packet.payload, samples: samples, sequence: seq, marker: packet.marker)
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

    private mutating func recordTransit(ts: Int64, now: EngineInstant) {
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
        let frames = (jitter + frame - 1) / frame + 1 + Int64(redundancyDistance)
        let minimum = Self.samples(configuration.minimumDelay, rate: configuration.clockRate)
        let wanted = min(max(frames * frame, minimum), maximumSamples)
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

    /// The earliest buffered packet.
    private var earliest: (timestamp: Int64, entry: Entry)? {
        guard let ts = packets.keys.min(), let entry = packets[ts] else { return nil }
        return (ts, entry)
    }

    /// Buffered media in samples from `start` to the end of the newest packet.
    private func samplesAhead(of start: Int64) -> Int64 {
        guard let newest = packets.keys.max(), let entry = packets[newest] else { return 0 }
        return max(0, newest + entry.samples - start)
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

    /// Tells the buffer how many earlier frames the stream's packets repeat (RFC 2198, as
    /// `RedundancyRecovery.receivedDistance` reads it): the target grows by as many frames, so
    /// that after a burst of lost packets the first one to arrive still restores them before
    /// they are due, and the in-band FEC of the oldest restored frame covers the one before it.
    /// The next packet inserted raises the target at once; when the distance falls, the target
    /// comes down with the usual hysteresis.
    public mutating func setRedundancyDistance(_ frames: Int) {
        redundancyDistance = min(max(frames, 0), 16)
    }

    /// Media time from `timestamp` for `duration` units carries no audio: an RFC 4733 telephone
    /// event replaced it (its packets share the stream's clock). Frames there are played as
    /// silence and passed over, not waited for, so a DTMF digit neither adds to the delay nor
    /// counts as concealment.
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

    /// Decides what to play next at `now`. `pendingSamples`: decoded samples the caller holds and
    /// has not played yet; they count in the buffer level.
    public mutating func pull(at now: EngineInstant, pendingSamples: Int = 0) -> Decision {
        defer { updateLevel() }
        guard var p = playout else {
            guard let first = firstArrival, let oldest = packets.keys.min() else { return .buffering }
            let waited = Self.samples(now - first, rate: configuration.clockRate)
            guard levelSamples >= targetSamples || waited >= targetSamples else { return .buffering }
            playout = oldest
            filteredLevel = Double(samplesAhead(of: oldest))
            return pull(at: now, pendingSamples: pendingSamples)
        }
        // Packets wholly behind the playout point (a late overlap) are of no use any more.
        while let (ts, entry) = earliest, ts + entry.samples <= p {
            packets[ts] = nil
            statistics.latePackets += 1
        }
        // Above the maximum delay (a sender clock running fast while stretching is off, or a
        // backlog stretching could not cut): drop the oldest packet so the delay stays bounded.
        while samplesAhead(of: p) > maximumSamples + frame, let (ts, entry) = earliest, packets.count > 1 {
            packets[ts] = nil
            p = max(p, ts + entry.samples)
            statistics.discardedPackets += 1
        }
        // Nothing lost before the earliest packet (consecutive sequence numbers, or a
        // talkspurt's marker): the gap to it is silence the sender chose (DTX, RFC 7587 §3.1.3),
        // and the expansions while waiting for it were silence too.
        let replaced = noAudioUntil.map { p < $0 } ?? false
        let lostNothing =
            !replaced
            && earliest.map { next in
                next.timestamp > p + tolerance
                    && (next.entry.marker || (playedSequence.map { next.entry.sequence == $0 + 1 } ?? false))
            } ?? false
        if lostNothing {
            statistics.concealedFrames -= expansionsSincePlayed
            statistics.expandedFrames -= expansionsSincePlayed
            statistics.silenceFrames += expansionsSincePlayed
            expansionsSincePlayed = 0
        }
        // A timestamp jump forward further than the maximum delay: re-anchor there instead of
        // concealing (or playing silence) all the way.
        if let (ts, _) = earliest, ts - p > maximumSamples {
            p = ts
            statistics.resynchronisations += 1
            transits.removeAll()
            sortedTransits.removeAll()
            transitIndex = 0
            origin = nil
        }
        playout = p
        var level = samplesAhead(of: p) + Int64(max(0, pendingSamples))
        let w = configuration.levelSmoothing
        filteredLevel = w * filteredLevel + (1 - w) * Double(level)
        if stretchCountdown > 0 { stretchCountdown -= 1 }
        var ts = UInt32(truncatingIfNeeded: p)

        if let (next, entry) = earliest, next <= p + tolerance {
            return play(next, entry, level: level)
        }
        // Media time a telephone event took (RFC 4733): the sender sent no audio for it, so it
        // is played as silence and passed over, neither waited for nor counted as concealment.
        if replaced {
            playout = p + frame
            statistics.silenceFrames += 1
            return .silence(timestamp: ts)
        }
        guard let (next, entry) = earliest else {
            // Nothing buffered: the packet due is late (or the sender went quiet). Conceal
            // without moving the playout point (NetEq's expand), so it can still be played.
            statistics.concealedFrames += 1
            statistics.expandedFrames += 1
            expansionsSincePlayed += 1
            return .conceal(timestamp: ts)
        }
        // A silence gap: start the talkspurt once the buffer holds the target delay, playing
        // the rest of the gap as silence until then.
        if lostNothing {
            let ahead = samplesAhead(of: next) + Int64(max(0, pendingSamples))
            if ahead >= targetSamples {
                playout = next
                return play(next, entry, level: level)
            }
            let start = max(p, next - (targetSamples - ahead))
            if next - start <= tolerance {
                playout = next
                return play(next, entry, level: level)
            }
            playout = min(next, start + frame)
            statistics.silenceFrames += 1
            return .silence(timestamp: UInt32(truncatingIfNeeded: start))
        }
        // Frames were concealed while waiting for the one due, and the packet now first in line
        // shows (by its sequence number) that packets before it were lost, not late: those
        // concealed frames stood in for the lost ones (NetEq's expand then merge), so the
        // playout point moves on by as many, instead of keeping the delay they added and
        // taking it back later by accelerating.
        if expansionsSincePlayed > 0, let played = playedSequence, entry.sequence > played + 1 {
            // The last lost frame is left to the next packet's in-band FEC.
            let lostFrames = Int((next - p) / frame) - 1
            let covered = min(expansionsSincePlayed, lostFrames, Int(entry.sequence - played - 2))
            if covered > 0 {
                p += Int64(covered) * frame
                playout = p
                ts = UInt32(truncatingIfNeeded: p)
                level = samplesAhead(of: p) + Int64(max(0, pendingSamples))
                expansionsSincePlayed -= covered
                if abs(next - p) <= tolerance { return play(next, entry, level: level) }
            }
        }
        // The frame due is missing. With less than the low limit buffered it is taken as late
        // rather than lost (NetEq's expand): conceal without moving the playout point, so the
        // delay grows a frame and the packet can still be played. At or above the low limit
        // (3/4 of the target) it is lost: recover it from the next packet's FEC or conceal it,
        // and move on. Between the low limit and the target it is waited for only if packets
        // were late in the last 100 frames: lateness, not loss, is what more delay cures.
        let fecAvailable = abs(next - p - frame) <= tolerance
        let recentlyLate = lastLateAt.map { p - $0 < 100 * frame } ?? false
        if level < lowLimit || (recentlyLate && level < targetSamples) {
            statistics.concealedFrames += 1
            statistics.expandedFrames += 1
            expansionsSincePlayed += 1
            return .conceal(timestamp: ts)
        }
        if fecAvailable {
            playout = next
            statistics.fecRecoveredFrames += 1
            return .decodeFEC(nextPayload: entry.payload, timestamp: ts)
        }
        playout = p + frame
        statistics.concealedFrames += 1
        return .conceal(timestamp: ts)
    }

    /// Decodes `entry` (at `ts`) and moves the playout point to its end.
    private mutating func play(_ ts: Int64, _ entry: Entry, level: Int64) -> Decision {
        packets[ts] = nil
        playout = ts + entry.samples
        playedSequence = entry.sequence
        expansionsSincePlayed = 0
        decodedRemainder += entry.samples
        statistics.decodedFrames += Int(decodedRemainder / frame)
        decodedRemainder %= frame
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
        return .decode(payload: entry.payload, timestamp: UInt32(truncatingIfNeeded: ts), stretch: stretch)
    }
}
