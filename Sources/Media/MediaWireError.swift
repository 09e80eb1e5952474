/// Why an RTP, RTCP or payload-format byte string was refused (RFC 3550 §5.1, §6.4-6.6;
/// RFC 4733 §2.3; RFC 7587 §4.2). Each case names the field or structure that was wrong.
public enum MediaWireError: Error, Equatable, Sendable {
    /// Fewer bytes than the structure named by `what` needs.
    case truncated(what: String, needed: Int, available: Int)
    /// The version field was not 2.
    case unsupportedVersion(UInt8)
    /// The padding count is zero or larger than the bytes that could hold it.
    case invalidPadding(count: Int, available: Int)
    /// A length field disagrees with the bytes present.
    case invalidLength(what: String, value: Int)
    /// A value is outside the range the field allows.
    case valueOutOfRange(what: String, value: Int)
    /// An RTCP packet type that a compound packet may not start with, or a malformed compound.
    case invalidCompound(String)
}

/// Big-endian reading over a byte array, throwing `MediaWireError.truncated` instead of trapping.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int
    let end: Int

    init(_ bytes: [UInt8], offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
    }

    var remaining: Int { end - offset }

    mutating func need(_ n: Int, _ what: String) throws(MediaWireError) {
        if n < 0 || remaining < n { throw .truncated(what: what, needed: n, available: max(0, remaining)) }
    }

    mutating func u8(_ what: String) throws(MediaWireError) -> UInt8 {
        try need(1, what)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16(_ what: String) throws(MediaWireError) -> UInt16 {
        try need(2, what)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u24(_ what: String) throws(MediaWireError) -> UInt32 {
        try need(3, what)
        defer { offset += 3 }
        return UInt32(bytes[offset]) << 16 | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2])
    }

    mutating func u32(_ what: String) throws(MediaWireError) -> UInt32 {
        try need(4, what)
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    mutating func take(_ n: Int, _ what: String) throws(MediaWireError) -> [UInt8] {
        try need(n, what)
        defer { offset += n }
        return Array(bytes[offset..<(offset + n)])
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ v: UInt16) {
        append(UInt8(v >> 8)); append(UInt8(v & 0xFF))
    }
    mutating func appendBigEndian(_ v: UInt32) {
        append(UInt8(v >> 24)); append(UInt8((v >> 16) & 0xFF))
        append(UInt8((v >> 8) & 0xFF)); append(UInt8(v & 0xFF))
    }
    mutating func appendBigEndian24(_ v: UInt32) {
        append(UInt8((v >> 16) & 0xFF)); append(UInt8((v >> 8) & 0xFF)); append(UInt8(v & 0xFF))
    }
}
