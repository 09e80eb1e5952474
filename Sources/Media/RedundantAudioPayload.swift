/// The payload of an RTP packet carrying redundant audio (RFC 2198 §3, "red" in SDP), as libwebrtc
/// writes it for Opus (`a=rtpmap:63 red/48000/2`, `a=fmtp:63 111/111`).
///
/// Layout: one 4-octet header per redundant block, then a 1-octet header for the primary, then the
/// block data in the same order (redundant blocks first, primary last):
///
/// ```
///  redundant header (F=1)                          primary header (F=0)
///  |1| block PT (7) | timestamp offset (14) | block length (10) |   |0| block PT (7) |
/// ```
///
/// The timestamp offset is the primary's RTP timestamp minus the block's (so it is never
/// negative and below 2^14 = 16384 samples, 341 ms at 48 kHz); the primary's length is whatever
/// is left of the payload. libwebrtc puts the oldest redundant block first and repeats earlier
/// frames of the same Opus payload type, so with 20 ms frames the offsets are 960 and 1920.
///
/// Pure wire type: values that the fields cannot hold cannot be built (`Block.init` and `init`
/// throw), so `serialized()` always writes what it was given.
public struct RedundantAudioPayload: Equatable, Sendable {
    /// The largest timestamp offset the 14-bit field holds.
    public static let maximumTimestampOffset: UInt32 = (1 << 14) - 1
    /// The largest redundant block the 10-bit length field holds.
    public static let maximumBlockLength = (1 << 10) - 1
    /// Redundant blocks accepted in one packet. RFC 2198 sets no limit; libwebrtc sends at most a
    /// few (1 by default, up to 9 by field trial), and 8 keeps a hostile header list short.
    public static let maximumRedundantBlocks = 8

    /// One earlier frame repeated in the packet.
    public struct Block: Equatable, Sendable {
        public let payloadType: UInt8
        /// The primary's RTP timestamp minus this block's, 0...16383.
        public let timestampOffset: UInt16
        public let data: [UInt8]

        public init(payloadType: UInt8, timestampOffset: UInt32, data: [UInt8]) throws(MediaWireError) {
            guard payloadType <= 127 else { throw .valueOutOfRange(what: "RED block payload type", value: Int(payloadType)) }
            guard timestampOffset <= RedundantAudioPayload.maximumTimestampOffset else {
                throw .valueOutOfRange(what: "RED timestamp offset", value: Int(timestampOffset))
            }
            guard data.count <= RedundantAudioPayload.maximumBlockLength else {
                throw .valueOutOfRange(what: "RED block length", value: data.count)
            }
            self.init(checked: payloadType, UInt16(timestampOffset), data)
        }

        /// For values already known to fit the fields.
        init(checked payloadType: UInt8, _ timestampOffset: UInt16, _ data: [UInt8]) {
            self.payloadType = payloadType
            self.timestampOffset = timestampOffset
            self.data = data
        }
    }

    /// One frame of the packet with its own RTP timestamp, for a jitter buffer.
    public struct Frame: Equatable, Sendable {
        public var payloadType: UInt8
        public var timestamp: UInt32
        public var payload: [UInt8]
        public var isRedundant: Bool
        /// For a redundant frame, the primary's timestamp minus this one's; 0 for the primary.
        public var timestampOffset: UInt32
    }

    /// Earlier frames, in wire order (libwebrtc: oldest first).
    public let redundant: [Block]
    public let primaryPayloadType: UInt8
    public let primary: [UInt8]

    public init(primaryPayloadType: UInt8, primary: [UInt8], redundant: [Block] = []) throws(MediaWireError) {
        guard primaryPayloadType <= 127 else {
            throw .valueOutOfRange(what: "RED primary payload type", value: Int(primaryPayloadType))
        }
        guard redundant.count <= Self.maximumRedundantBlocks else {
            throw .valueOutOfRange(what: "RED redundant block count", value: redundant.count)
        }
        self.init(checked: primaryPayloadType, primary, redundant)
    }

    /// For values already known to fit the fields.
    init(checked primaryPayloadType: UInt8, _ primary: [UInt8], _ redundant: [Block]) {
        self.primaryPayloadType = primaryPayloadType
        self.primary = primary
        self.redundant = redundant
    }

    /// Parses a RED payload. Every header must be complete, every block length must fit in the
    /// bytes that follow the headers, and at most `maximumRedundantBlocks` headers may have F=1.
    /// Zero-length blocks (and an empty primary) are allowed, as RFC 2198 does not forbid them.
    public init(parsing payload: [UInt8]) throws(MediaWireError) {
        var r = ByteReader(payload)
        var headers: [(payloadType: UInt8, offset: UInt32, length: Int)] = []
        var primaryType: UInt8
        while true {
            let first = try r.u8("RED block header")
            guard first & 0x80 != 0 else {
                primaryType = first & 0x7F
                break
            }
            guard headers.count < Self.maximumRedundantBlocks else {
                throw .valueOutOfRange(what: "RED redundant block count", value: headers.count + 1)
            }
            let rest = try r.u24("RED block header")
            headers.append((first & 0x7F, rest >> 10, Int(rest & 0x3FF)))
        }
        var blocks: [Block] = []
        blocks.reserveCapacity(headers.count)
        for h in headers {
            let data = try r.take(h.length, "RED redundant block")
            blocks.append(Block(checked: h.payloadType, UInt16(h.offset), data))
        }
        redundant = blocks
        primaryPayloadType = primaryType
        primary = try r.take(r.remaining, "RED primary block")
    }

    /// The wire form: the headers, then the redundant blocks in order, then the primary.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(1 + primary.count + redundant.reduce(0) { $0 + 4 + $1.data.count })
        for b in redundant {
            out.append(0x80 | b.payloadType)
            out.appendBigEndian24(UInt32(b.timestampOffset) << 10 | UInt32(b.data.count))
        }
        out.append(primaryPayloadType)
        for b in redundant { out.append(contentsOf: b.data) }
        out.append(contentsOf: primary)
        return out
    }

    /// The size `serialized()` returns.
    public var serializedCount: Int { 1 + primary.count + redundant.reduce(0) { $0 + 4 + $1.data.count } }

    /// The frames of a packet whose RTP timestamp is `timestamp`, redundant ones first (in wire
    /// order) and the primary last. A block's timestamp is `timestamp - offset` modulo 2^32: RTP
    /// timestamps wrap (RFC 3550 §5.1), so an offset larger than the packet's timestamp is not
    /// an error, just a frame from before the wrap.
    public func frames(timestamp: UInt32) -> [Frame] {
        redundant.map {
            Frame(
                payloadType: $0.payloadType, timestamp: timestamp &- UInt32($0.timestampOffset), payload: $0.data,
                isRedundant: true, timestampOffset: UInt32($0.timestampOffset))
        } + [Frame(payloadType: primaryPayloadType, timestamp: timestamp, payload: primary, isRedundant: false, timestampOffset: 0)]
    }
}

/// Builds RED payloads the way libwebrtc's redundant Opus encoder does (sans-IO): each packet is
/// the new frame (the primary) plus up to `distance` frames sent just before it, newest
/// redundancy kept first when space is short.
///
/// Rules, in the order they are applied to the remembered frames, newest to oldest:
/// - at most `distance` (0...`maximumDistance`) redundant blocks;
/// - a frame whose timestamp is 2^14 samples or more before the primary's (after a DTX pause)
///   cannot be written, and neither can any older one: stop there;
/// - the whole payload (headers, blocks, primary) must stay within `maximumPayloadBytes`: the
///   first frame that would not fit, and every older one, is left out;
/// - the primary is always sent, even when it alone is over the budget.
/// Frames that cannot be redundancy later (empty, or over 1023 bytes) are not remembered; the
/// frames before them still are.
public struct RedundantAudioEncoder: Sendable {
    /// The most earlier frames a packet repeats.
    public static let maximumDistance = 3

    private struct Remembered: Sendable {
        var payloadType: UInt8
        var timestamp: UInt32
        var data: [UInt8]
    }

    /// Earlier frames each packet repeats, 0...`maximumDistance` (0: the primary alone, in RED form).
    public var distance: Int {
        didSet { distance = min(max(distance, 0), Self.maximumDistance) }
    }
    /// Budget for the RED payload (the RTP payload), in bytes: the packet size allowed minus the
    /// RTP, SRTP and header-extension overhead, as the caller knows it. The default is libwebrtc's
    /// 1200-byte packet less 50 bytes for the RTP header, an SRTP tag and header extensions.
    public var maximumPayloadBytes: Int
    /// Newest last; at most `maximumDistance` frames.
    private var history: [Remembered] = []

    public init(distance: Int = 1, maximumPayloadBytes: Int = 1_150) {
        self.distance = min(max(distance, 0), Self.maximumDistance)
        self.maximumPayloadBytes = maximumPayloadBytes
    }

    /// The RED payload for a new frame, and remembers the frame for the packets that follow.
    public mutating func encode(payloadType: UInt8, timestamp: UInt32, payload: [UInt8]) -> RedundantAudioPayload {
        let pt = payloadType & 0x7F
        var used = 1 + payload.count
        var chosen: [RedundantAudioPayload.Block] = []
        for frame in history.reversed() {
            guard chosen.count < distance else { break }
            let offset = timestamp &- frame.timestamp
            guard offset <= RedundantAudioPayload.maximumTimestampOffset else { break }
            guard used + 4 + frame.data.count <= maximumPayloadBytes else { break }
            used += 4 + frame.data.count
            // Fits: the payload type was masked, the offset and the length checked.
            chosen.append(RedundantAudioPayload.Block(checked: frame.payloadType, UInt16(offset), frame.data))
        }
        if !payload.isEmpty, payload.count <= RedundantAudioPayload.maximumBlockLength {
            history.append(Remembered(payloadType: pt, timestamp: timestamp, data: payload))
            if history.count > Self.maximumDistance { history.removeFirst(history.count - Self.maximumDistance) }
        }
        // Fits: the payload type was masked, and at most `maximumDistance` blocks are chosen.
        return RedundantAudioPayload(checked: pt, payload, chosen.reversed())
    }

    /// Forgets the remembered frames (a new stream, or the encoder was reset).
    public mutating func reset() { history.removeAll() }
}
