/// Bounds-checked big-endian reads over a byte buffer; every read throws `truncated` instead of
/// trapping.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    func need(_ count: Int) throws(STUNParseError) {
        guard count >= 0, remaining >= count else {
            throw .truncated(needed: offset + count, available: bytes.count)
        }
    }

    mutating func u8() throws(STUNParseError) -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(STUNParseError) -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32() throws(STUNParseError) -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16
            | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    mutating func u64() throws(STUNParseError) -> UInt64 {
        let hi = try u32()
        let lo = try u32()
        return UInt64(hi) << 32 | UInt64(lo)
    }

    mutating func take(_ count: Int) throws(STUNParseError) -> [UInt8] {
        try need(count)
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
}

/// Big-endian appends to a byte array.
extension Array where Element == UInt8 {
    @inline(__always) mutating func appendU16(_ v: UInt16) {
        append(UInt8(v >> 8))
        append(UInt8(v & 0xFF))
    }

    @inline(__always) mutating func appendU32(_ v: UInt32) {
        append(UInt8(v >> 24))
        append(UInt8(v >> 16 & 0xFF))
        append(UInt8(v >> 8 & 0xFF))
        append(UInt8(v & 0xFF))
    }

    @inline(__always) mutating func appendU64(_ v: UInt64) {
        appendU32(UInt32(v >> 32))
        appendU32(UInt32(v & 0xFFFF_FFFF))
    }

    @inline(__always) mutating func setU16(_ v: UInt16, at offset: Int) {
        self[offset] = UInt8(v >> 8)
        self[offset + 1] = UInt8(v & 0xFF)
    }

    /// Appends zero bytes up to the next multiple of 4 (STUN attribute padding, RFC 8489 §14).
    @inline(__always) mutating func padTo4() {
        while count % 4 != 0 { append(0) }
    }
}
