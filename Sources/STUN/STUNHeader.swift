/// The fixed 20-byte STUN header (RFC 8489 §5) and cheap checks on it for demultiplexing.
public enum STUNHeader {
    /// The magic cookie 0x2112A442 (RFC 8489 §5).
    public static let magicCookie: UInt32 = 0x2112_A442
    /// Header size in bytes.
    public static let size = 20

    /// True if `bytes` starts like a STUN message: top bits 00, the magic cookie, and a length
    /// that is a multiple of 4 and fits (RFC 8489 §5, RFC 7983 §7 demultiplexing).
    public static func looksLikeSTUN(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= size, bytes[0] & 0xC0 == 0 else { return false }
        let cookie = UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7])
        let length = Int(bytes[2]) << 8 | Int(bytes[3])
        return cookie == magicCookie && length % 4 == 0 && length + size <= bytes.count
    }

    /// The message type of a datagram that `looksLikeSTUN`, without decoding attributes.
    public static func messageType(_ bytes: UnsafeRawBufferPointer) -> STUNMessageType? {
        guard bytes.count >= 2 else { return nil }
        return STUNMessageType(rawValue: UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
    }
}
