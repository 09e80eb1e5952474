/// ChannelData framing (RFC 8656 §12.4): a 4-byte header (channel number, length) and the
/// application data. Over UDP the padding is optional; over TCP/TLS each message is padded to a
/// multiple of 4 bytes, which the length field does not count.
public enum ChannelData {
    /// Header size in bytes.
    public static let headerSize = 4
    /// Valid channel numbers (RFC 8656 §12).
    public static let channelRange: ClosedRange<UInt16> = 0x4000...0x4FFF
    /// Channel numbers RFC 5766 allowed; still sent by older clients, so framing accepts them
    /// and the allocation engine decides which it binds.
    public static let legacyChannelRange: ClosedRange<UInt16> = 0x4000...0x7FFF

    /// True if the first byte says ChannelData (top two bits 01, RFC 7983 §7).
    @inline(__always)
    public static func isChannelData(_ firstByte: UInt8) -> Bool { firstByte & 0xC0 == 0x40 }

    /// Parses a ChannelData datagram without copying: returns the channel number and the byte
    /// range of the application data within `bytes`. Trailing padding is allowed.
    @inline(__always)
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(STUNParseError) -> (channel: UInt16, payload: Range<Int>) {
        guard bytes.count >= headerSize else { throw .truncated(needed: headerSize, available: bytes.count) }
        let channel = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        guard legacyChannelRange.contains(channel) else { throw .badChannelNumber(channel) }
        let length = Int(bytes[2]) << 8 | Int(bytes[3])
        guard headerSize + length <= bytes.count else {
            throw .truncated(needed: headerSize + length, available: bytes.count)
        }
        return (channel, headerSize..<headerSize + length)
    }

    /// Writes the 4-byte header for `length` bytes of data on `channel` into `out[0..<4]`.
    @inline(__always)
    public static func writeHeader(channel: UInt16, length: Int, into out: UnsafeMutableRawBufferPointer) {
        out[0] = UInt8(channel >> 8)
        out[1] = UInt8(channel & 0xFF)
        out[2] = UInt8(length >> 8 & 0xFF)
        out[3] = UInt8(length & 0xFF)
    }

    /// A complete ChannelData message; `padded` adds stream padding to a multiple of 4.
    public static func encode<C: Collection<UInt8>>(channel: UInt16, data: C, padded: Bool = false) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(headerSize + data.count + 3)
        out.appendU16(channel)
        out.appendU16(UInt16(truncatingIfNeeded: data.count))
        out.append(contentsOf: data)
        if padded { out.padTo4() }
        return out
    }
}

/// Splits a TCP/TLS byte stream into STUN messages and ChannelData messages (RFC 8656 §12.4,
/// RFC 8489 §6.2.2): a STUN message's size comes from its header length; a ChannelData
/// message's from its length rounded up to 4.
public struct STUNStreamFramer: Sendable {
    /// One frame cut from the stream.
    public enum Frame: Hashable, Sendable {
        case stun([UInt8])
        /// Channel number and data, padding removed.
        case channelData(channel: UInt16, data: [UInt8])
    }

    public let maximumFrameSize: Int
    var buffer: [UInt8] = []
    var start = 0

    public init(maximumFrameSize: Int = 65_536 + 4) {
        self.maximumFrameSize = maximumFrameSize
    }

    /// Adds received bytes.
    public mutating func append<C: Collection<UInt8>>(_ bytes: C) {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Removes and returns every byte not yet cut into frames (a stream leaving framing, such
    /// as an RFC 6062 data connection after its ConnectionBind).
    public mutating func takeRemainder() -> [UInt8] {
        let rest = Array(buffer[start...])
        buffer.removeAll()
        start = 0
        return rest
    }

    /// Whether a framed STUN message is a ConnectionBind request (RFC 6062 §6.1, type 0x000B).
    public static func isConnectionBindRequest(_ frame: [UInt8]) -> Bool {
        frame.count >= 2 && frame[0] == 0x00 && frame[1] == 0x0B
    }

    /// The next complete frame, nil if more bytes are needed. Throws on bytes that are neither
    /// STUN nor ChannelData; the stream cannot be resynchronised after that.
    public mutating func next() throws(STUNParseError) -> Frame? {
        let available = buffer.count - start
        guard available >= 4 else { return nil }
        let first = buffer[start]
        let length = Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
        switch first & 0xC0 {
        case 0x00:
            let total = STUNHeader.size + length
            guard total <= maximumFrameSize else { throw .frameTooLong(total) }
            guard available >= total else { return nil }
            let frame = Array(buffer[start..<start + total])
            start += total
            return .stun(frame)
        case 0x40:
            let channel = UInt16(first) << 8 | UInt16(buffer[start + 1])
            guard ChannelData.legacyChannelRange.contains(channel) else { throw .badChannelNumber(channel) }
            let total = ChannelData.headerSize + ((length + 3) & ~3)
            guard total <= maximumFrameSize else { throw .frameTooLong(total) }
            guard available >= total else { return nil }
            let data = Array(buffer[start + 4..<start + 4 + length])
            start += total
            return .channelData(channel: channel, data: data)
        default:
            throw .unknownFraming(first)
        }
    }
}
