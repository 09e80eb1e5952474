/// Turns received RTP packets that may carry RFC 2198 redundancy into the plain Opus packets an
/// `AdaptiveJitterBuffer` takes (sans-IO engine: no clock needed).
///
/// Feed every RTP packet of the audio stream, in arrival order; each call returns the packets to
/// insert into the jitter buffer, oldest first:
/// - a packet whose payload type is not the RED one comes back unchanged (a peer that negotiated
///   RED still sends plain Opus at times: libwebrtc does for frames of 1024 bytes or more);
/// - a RED packet gives its primary frame, always, as a packet with the primary's payload type
///   and the RED packet's sequence number, timestamp, marker and header extension;
/// - each redundant block of the Opus payload type gives a packet only when its timestamp has not
///   been seen yet as a primary or an earlier recovery (and it does not come from before the
///   first packet received), so repeats are not played or counted twice. Blocks of other payload
///   types are skipped.
///
/// Sequence number of a recovered frame (the jitter buffer tells loss from silence by sequence
/// numbers, so the frame takes the number of the packet that was lost): the primary's sequence
/// number minus the distance, where the distance is the block's timestamp offset divided by the
/// block's own duration (read from its Opus TOC byte), when the frames are evenly spaced and the
/// offset is a whole number of frames; otherwise the block's position counted back from the
/// primary (the last redundant block is 1, the one before it 2), which is how libwebrtc fills
/// the packet: its redundancy is the frames it sent just before.
///
/// A frame that was only reordered, not lost, may be recovered before its own packet arrives;
/// that packet is then still returned (primaries always are) and the jitter buffer counts it as
/// a duplicate.
public struct RedundancyRecovery: Sendable {
    public struct Configuration: Sendable, Equatable {
        /// The negotiated `red` payload type (libwebrtc: 63).
        public var redPayloadType: UInt8
        /// The Opus payload type the redundancy repeats (the RED fmtp's `111/111`).
        public var opusPayloadType: UInt8
        /// Timestamps remembered to recognise repeats. A redundant frame is at most 2^14 samples
        /// older than its primary (17 frames of 20 ms), so a few hundred is plenty.
        public var memory: Int

        public init(redPayloadType: UInt8 = 63, opusPayloadType: UInt8 = 111, memory: Int = 256) {
            self.redPayloadType = redPayloadType & 0x7F
            self.opusPayloadType = opusPayloadType & 0x7F
            self.memory = max(8, memory)
        }
    }

    public struct Statistics: Sendable, Equatable {
        /// RED packets that parsed.
        public var redPackets = 0
        /// Packets passed through unchanged (not RED).
        public var plainPackets = 0
        /// RED packets that did not parse: dropped.
        public var malformedPackets = 0
        /// Frames returned from redundant blocks: frames recovered by RED.
        public var recoveredFrames = 0
        /// Redundant blocks whose frame had already been received or recovered.
        public var repeatedFrames = 0
        /// Redundant blocks skipped for another reason: not Opus, or from before the first packet.
        public var skippedBlocks = 0

        public init() {}
    }

    /// One packet for the jitter buffer.
    public struct Output: Sendable, Equatable {
        public var packet: RTPPacket
        /// Restored from a later packet's redundancy.
        public var isRecovered: Bool
    }

    public let configuration: Configuration
    public private(set) var statistics = Statistics()
    /// The most earlier frames (redundant Opus blocks) a RED packet carried among the last
    /// `distanceWindow` received: how far back a packet can restore, for the jitter buffer's
    /// target (`AdaptiveJitterBuffer.setRedundancyDistance`). 0 before any RED packet.
    public private(set) var receivedDistance = 0
    /// RED packets over which `receivedDistance` is the maximum (one second of 20 ms packets).
    public static let distanceWindow = 50
    private var recentDistances: [UInt8] = []
    private var recentNext = 0
    private var ssrc: UInt32?
    private var firstSequence: UInt16?
    private var seen: Set<UInt32> = []
    private var seenOrder: [UInt32] = []
    private var seenNext = 0

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// The packets to insert into the jitter buffer for one received packet, oldest first; empty
    /// when a RED packet is malformed.
    public mutating func process(_ packet: RTPPacket) -> [Output] {
        if let known = ssrc, known != packet.ssrc { forget() }
        ssrc = packet.ssrc
        if firstSequence == nil { firstSequence = packet.sequenceNumber }
        guard packet.payloadType == configuration.redPayloadType else {
            statistics.plainPackets += 1
            if packet.payloadType == configuration.opusPayloadType { remember(packet.timestamp) }
            return [Output(packet: packet, isRecovered: false)]
        }
        let red: RedundantAudioPayload
        do { red = try RedundantAudioPayload(parsing: packet.payload) } catch {
            statistics.malformedPackets += 1
            return []
        }
        statistics.redPackets += 1
        let opus = configuration.opusPayloadType
        noteDistance(red.redundant.lazy.filter { $0.payloadType == opus && $0.timestampOffset > 0 }.count)
        var out: [Output] = []
        let count = red.redundant.count
        for (index, block) in red.redundant.enumerated() {
            let ts = packet.timestamp &- UInt32(block.timestampOffset)
            guard block.payloadType == configuration.opusPayloadType else {
                statistics.skippedBlocks += 1
                continue
            }
            // Offset 0 repeats the primary itself.
            guard block.timestampOffset > 0, !seen.contains(ts) else {
                statistics.repeatedFrames += 1
                continue
            }
            let distance = Self.distance(offset: UInt32(block.timestampOffset), block: block.data, position: count - index)
            let seq = packet.sequenceNumber &- UInt16(truncatingIfNeeded: distance)
            if let first = firstSequence, Int16(bitPattern: seq &- first) < 0 {
                statistics.skippedBlocks += 1
                continue
            }
            remember(ts)
            statistics.recoveredFrames += 1
            out.append(
                Output(
                    packet: RTPPacket(
                        payloadType: block.payloadType, sequenceNumber: seq, timestamp: ts,
                        ssrc: packet.ssrc, csrcs: packet.csrcs, payload: block.data),
                    isRecovered: true))
        }
        if red.primaryPayloadType == configuration.opusPayloadType { remember(packet.timestamp) }
        out.append(
            Output(
                packet: RTPPacket(
                    marker: packet.marker, payloadType: red.primaryPayloadType,
                    sequenceNumber: packet.sequenceNumber, timestamp: packet.timestamp,
                    ssrc: packet.ssrc, csrcs: packet.csrcs, headerExtension: packet.headerExtension,
                    payload: red.primary),
                isRecovered: false))
        return out
    }

    /// How many packets before its primary a redundant block was sent: the offset in whole frames
    /// of the block's own duration, or else its position counted back from the primary.
    static func distance(offset: UInt32, block: [UInt8], position: Int) -> Int {
        // Opus durations are in 48 kHz samples, the RTP clock of Opus (RFC 7587 §4.1).
        if let info = try? OpusPacketInfo(parsing: block), info.totalSamples > 0, offset % UInt32(info.totalSamples) == 0 {
            return Int(offset / UInt32(info.totalSamples))
        }
        return position
    }

    private mutating func noteDistance(_ blocks: Int) {
        let value = UInt8(min(blocks, Int(UInt8.max)))
        if recentDistances.count < Self.distanceWindow {
            recentDistances.append(value)
        } else {
            recentDistances[recentNext] = value
            recentNext = (recentNext + 1) % Self.distanceWindow
        }
        receivedDistance = Int(recentDistances.max() ?? 0)
    }

    /// Forgets the stream (a new SSRC); the statistics are kept.
    public mutating func forget() {
        ssrc = nil
        firstSequence = nil
        seen.removeAll()
        seenOrder.removeAll()
        seenNext = 0
    }

    private mutating func remember(_ ts: UInt32) {
        guard seen.insert(ts).inserted else { return }
        if seenOrder.count < configuration.memory {
            seenOrder.append(ts)
        } else {
            seen.remove(seenOrder[seenNext])
            seenOrder[seenNext] = ts
            seenNext = (seenNext + 1) % configuration.memory
        }
    }
}
