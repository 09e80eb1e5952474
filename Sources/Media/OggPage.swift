/// One Ogg page (RFC 3533 §6): capture pattern, flags, granule position, serial number,
/// sequence number, CRC and the segment (lacing) table with its data.
public struct OggPage: Equatable, Sendable {
    public var continued: Bool
    public var beginningOfStream: Bool
    public var endOfStream: Bool
    public var granulePosition: Int64
    public var serial: UInt32
    public var sequence: UInt32
    public var segments: [UInt8]
    public var body: [UInt8]

    /// Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, initial value 0, no final XOR
    /// (RFC 3533 §6), computed with the CRC field set to zero.
    static let crcTable: [UInt32] = (0..<256).map { i -> UInt32 in
        var r = UInt32(i) << 24
        for _ in 0..<8 { r = r & 0x8000_0000 != 0 ? (r << 1) ^ 0x04C1_1DB7 : r << 1 }
        return r
    }

    static func crc(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0
        for b in bytes { crc = (crc << 8) ^ crcTable[Int(((crc >> 24) ^ UInt32(b)) & 0xFF)] }
        return crc
    }

    public func serialized() -> [UInt8] {
        var out: [UInt8] = Array("OggS".utf8)
        out.append(0)
        out.append((continued ? 1 : 0) | (beginningOfStream ? 2 : 0) | (endOfStream ? 4 : 0))
        let g = UInt64(bitPattern: granulePosition)
        for i in 0..<8 { out.append(UInt8((g >> (8 * UInt64(i))) & 0xFF)) }
        for v in [serial, sequence, 0] { for i in 0..<4 { out.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
        out.append(UInt8(segments.count))
        out += segments
        out += body
        let c = Self.crc(out)
        for i in 0..<4 { out[22 + i] = UInt8((c >> (8 * UInt32(i))) & 0xFF) }
        return out
    }

    /// Parses the page at `offset`; returns it and the offset after it.
    public static func parse(_ bytes: [UInt8], at offset: Int) throws(OggError) -> (OggPage, Int) {
        guard bytes.count - offset >= 27 else { throw .truncatedPage(offset: offset) }
        guard bytes[offset..<offset + 4].elementsEqual("OggS".utf8) else { throw .badCapturePattern(offset: offset) }
        guard bytes[offset + 4] == 0 else { throw .unsupportedVersion(bytes[offset + 4]) }
        func le(_ at: Int, _ n: Int) -> UInt64 {
            var v: UInt64 = 0
            for i in 0..<n { v |= UInt64(bytes[offset + at + i]) << (8 * UInt64(i)) }
            return v
        }
        let flags = bytes[offset + 5]
        let count = Int(bytes[offset + 26])
        guard bytes.count - offset >= 27 + count else { throw .truncatedPage(offset: offset) }
        let segments = Array(bytes[(offset + 27)..<(offset + 27 + count)])
        let bodyLength = segments.reduce(0) { $0 + Int($1) }
        let end = offset + 27 + count + bodyLength
        guard end <= bytes.count else { throw .truncatedPage(offset: offset) }
        var copy = Array(bytes[offset..<end])
        for i in 22..<26 { copy[i] = 0 }
        let sequence = UInt32(le(18, 4))
        guard crc(copy) == UInt32(le(22, 4)) else { throw .crcMismatch(pageSequence: sequence) }
        let page = OggPage(
            continued: flags & 1 != 0, beginningOfStream: flags & 2 != 0, endOfStream: flags & 4 != 0,
            granulePosition: Int64(bitPattern: le(6, 8)), serial: UInt32(le(14, 4)), sequence: sequence,
            segments: segments, body: Array(bytes[(offset + 27 + count)..<end]))
        return (page, end)
    }
}

/// Why an Ogg Opus file was refused (RFC 3533, RFC 7845).
public enum OggError: Error, Equatable, Sendable {
    case badCapturePattern(offset: Int)
    case unsupportedVersion(UInt8)
    case truncatedPage(offset: Int)
    case crcMismatch(pageSequence: UInt32)
    case missingOpusHead
    case invalidOpusHead(String)
    case missingOpusTags
    case unexpectedStream(serial: UInt32)
}
