/// One reception report block (RFC 3550 §6.4.1), carried in sender and receiver reports.
public struct RTCPReportBlock: Equatable, Sendable {
    public var ssrc: UInt32
    /// Fraction of packets lost since the previous report, as a fixed-point number over 256.
    public var fractionLost: UInt8
    /// Cumulative packets lost; a signed 24-bit value on the wire (duplicates can make it negative).
    public var cumulativeLost: Int32
    public var extendedHighestSequence: UInt32
    /// Interarrival jitter in timestamp units.
    public var jitter: UInt32
    /// The middle 32 bits of the NTP timestamp of the last sender report received (0 if none).
    public var lastSenderReport: UInt32
    /// Delay since that sender report, in units of 1/65536 s.
    public var delaySinceLastSenderReport: UInt32

    public init(
        ssrc: UInt32, fractionLost: UInt8, cumulativeLost: Int32, extendedHighestSequence: UInt32,
        jitter: UInt32, lastSenderReport: UInt32, delaySinceLastSenderReport: UInt32
    ) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequence = extendedHighestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }

    static let size = 24

    init(reading r: inout ByteReader) throws(MediaWireError) {
        ssrc = try r.u32("report block")
        fractionLost = try r.u8("report block")
        let raw = try r.u24("report block")
        cumulativeLost = Int32(bitPattern: raw << 8) >> 8
        extendedHighestSequence = try r.u32("report block")
        jitter = try r.u32("report block")
        lastSenderReport = try r.u32("report block")
        delaySinceLastSenderReport = try r.u32("report block")
    }

    func write(to out: inout [UInt8]) {
        out.appendBigEndian(ssrc)
        out.append(fractionLost)
        let clamped = min(max(cumulativeLost, -0x80_0000), 0x7F_FFFF)
        out.appendBigEndian24(UInt32(bitPattern: clamped) & 0xFF_FFFF)
        out.appendBigEndian(extendedHighestSequence)
        out.appendBigEndian(jitter)
        out.appendBigEndian(lastSenderReport)
        out.appendBigEndian(delaySinceLastSenderReport)
    }
}

/// RTCP sender report (RFC 3550 §6.4.1).
public struct RTCPSenderReport: Equatable, Sendable {
    public var ssrc: UInt32
    public var ntpTimestamp: NTPTimestamp
    public var rtpTimestamp: UInt32
    public var packetCount: UInt32
    public var octetCount: UInt32
    public var reportBlocks: [RTCPReportBlock]
    /// Profile-specific extension octets after the report blocks, kept verbatim.
    public var profileExtension: [UInt8]

    public init(
        ssrc: UInt32, ntpTimestamp: NTPTimestamp, rtpTimestamp: UInt32, packetCount: UInt32,
        octetCount: UInt32, reportBlocks: [RTCPReportBlock] = [], profileExtension: [UInt8] = []
    ) {
        self.ssrc = ssrc
        self.ntpTimestamp = ntpTimestamp
        self.rtpTimestamp = rtpTimestamp
        self.packetCount = packetCount
        self.octetCount = octetCount
        self.reportBlocks = reportBlocks
        self.profileExtension = profileExtension
    }
}

/// RTCP receiver report (RFC 3550 §6.4.2).
public struct RTCPReceiverReport: Equatable, Sendable {
    public var ssrc: UInt32
    public var reportBlocks: [RTCPReportBlock]
    public var profileExtension: [UInt8]

    public init(ssrc: UInt32, reportBlocks: [RTCPReportBlock] = [], profileExtension: [UInt8] = []) {
        self.ssrc = ssrc
        self.reportBlocks = reportBlocks
        self.profileExtension = profileExtension
    }
}

/// RTCP source description (RFC 3550 §6.5): chunks of items per SSRC/CSRC.
public struct RTCPSourceDescription: Equatable, Sendable {
    /// One SDES item; `type` 1 is CNAME, 2 NAME, ... 8 PRIV (RFC 3550 §6.5.1-6.5.8).
    public struct Item: Equatable, Sendable {
        public var type: UInt8
        public var value: [UInt8]
        public init(type: UInt8, value: [UInt8]) { self.type = type; self.value = value }
        public static func cname(_ s: String) -> Item { Item(type: 1, value: Array(s.utf8)) }
    }
    public struct Chunk: Equatable, Sendable {
        public var source: UInt32
        public var items: [Item]
        public init(source: UInt32, items: [Item]) { self.source = source; self.items = items }
    }
    public var chunks: [Chunk]
    public init(chunks: [Chunk]) { self.chunks = chunks }
}

/// RTCP BYE (RFC 3550 §6.6).
public struct RTCPBye: Equatable, Sendable {
    public var sources: [UInt32]
    public var reason: String?
    public init(sources: [UInt32], reason: String? = nil) { self.sources = sources; self.reason = reason }
}

/// One RTCP packet (RFC 3550 §6.4-6.6); types this library does not interpret are kept verbatim.
public enum RTCPPacket: Equatable, Sendable {
    case senderReport(RTCPSenderReport)
    case receiverReport(RTCPReceiverReport)
    case sourceDescription(RTCPSourceDescription)
    case bye(RTCPBye)
    /// Any other packet type (APP, feedback, XR ...): the 5-bit count field and the body after the
    /// 4-byte common header.
    case other(packetType: UInt8, count: UInt8, body: [UInt8])

    public static let senderReportType: UInt8 = 200
    public static let receiverReportType: UInt8 = 201
    public static let sourceDescriptionType: UInt8 = 202
    public static let byeType: UInt8 = 203
}
