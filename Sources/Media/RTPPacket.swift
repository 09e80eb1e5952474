/// An RTP header extension (RFC 3550 §5.3.1): a 16-bit profile-defined value and a body whose
/// length is a whole number of 32-bit words.
public struct RTPHeaderExtension: Equatable, Sendable {
    public var profile: UInt16
    /// Body bytes; serialisation pads them with zeros to a multiple of 4.
    public var data: [UInt8]

    public init(profile: UInt16, data: [UInt8]) {
        self.profile = profile
        self.data = data
    }
}

/// An RTP data packet (RFC 3550 §5.1): fixed header, CSRC list, optional header extension,
/// payload and optional padding.
public struct RTPPacket: Equatable, Sendable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcs: [UInt32]
    public var headerExtension: RTPHeaderExtension?
    public var payload: [UInt8]
    /// Padding octets after the payload, including the final count octet; 0 means no padding.
    public var paddingLength: UInt8

    public init(
        marker: Bool = false, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32,
        ssrc: UInt32, csrcs: [UInt32] = [], headerExtension: RTPHeaderExtension? = nil,
        payload: [UInt8], paddingLength: UInt8 = 0
    ) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcs = csrcs
        self.headerExtension = headerExtension
        self.payload = payload
        self.paddingLength = paddingLength
    }

    /// Parses one RTP packet; every length is checked against the bytes present.
    public init(parsing bytes: [UInt8]) throws(MediaWireError) {
        var r = ByteReader(bytes)
        let b0 = try r.u8("RTP fixed header")
        try r.need(11, "RTP fixed header")
        let version = b0 >> 6
        guard version == 2 else { throw .unsupportedVersion(version) }
        let hasPadding = b0 & 0x20 != 0
        let hasExtension = b0 & 0x10 != 0
        let csrcCount = Int(b0 & 0x0F)
        let b1 = try r.u8("RTP fixed header")
        marker = b1 & 0x80 != 0
        payloadType = b1 & 0x7F
        sequenceNumber = try r.u16("RTP sequence number")
        timestamp = try r.u32("RTP timestamp")
        ssrc = try r.u32("RTP SSRC")
        var list: [UInt32] = []
        try r.need(csrcCount * 4, "RTP CSRC list")
        for _ in 0..<csrcCount { list.append(try r.u32("RTP CSRC list")) }
        csrcs = list
        if hasExtension {
            let profile = try r.u16("RTP header extension")
            let words = Int(try r.u16("RTP header extension"))
            headerExtension = RTPHeaderExtension(profile: profile, data: try r.take(words * 4, "RTP header extension body"))
        } else {
            headerExtension = nil
        }
        var payloadEnd = bytes.count
        if hasPadding {
            let count = Int(bytes[bytes.count - 1])
            guard count > 0, count <= bytes.count - r.offset else {
                throw .invalidPadding(count: count, available: bytes.count - r.offset)
            }
            payloadEnd -= count
            paddingLength = UInt8(count)
        } else {
            paddingLength = 0
        }
        payload = Array(bytes[r.offset..<payloadEnd])
    }

    /// The wire form. CSRC lists longer than 15 entries are cut to 15 (the field is 4 bits).
    public func serialized() -> [UInt8] {
        let cc = min(csrcs.count, 15)
        var out: [UInt8] = []
        out.reserveCapacity(12 + cc * 4 + payload.count + Int(paddingLength) + (headerExtension.map { $0.data.count + 8 } ?? 0))
        var b0: UInt8 = 0x80 | UInt8(cc)
        if paddingLength > 0 { b0 |= 0x20 }
        if headerExtension != nil { b0 |= 0x10 }
        out.append(b0)
        out.append((marker ? 0x80 : 0) | (payloadType & 0x7F))
        out.appendBigEndian(sequenceNumber)
        out.appendBigEndian(timestamp)
        out.appendBigEndian(ssrc)
        for c in csrcs.prefix(cc) { out.appendBigEndian(c) }
        if let ext = headerExtension {
            let words = (ext.data.count + 3) / 4
            out.appendBigEndian(ext.profile)
            out.appendBigEndian(UInt16(truncatingIfNeeded: words))
            out.append(contentsOf: ext.data)
            out.append(contentsOf: repeatElement(0, count: words * 4 - ext.data.count))
        }
        out.append(contentsOf: payload)
        if paddingLength > 0 {
            out.append(contentsOf: repeatElement(0, count: Int(paddingLength) - 1))
            out.append(paddingLength)
        }
        return out
    }
}
