import STUN

/// Binding requests in the classic STUN format of RFC 3489: no magic cookie, a 128-bit
/// transaction id. Some clients still send them (libnice's server-reflexive discovery does);
/// RFC 8489 §12 (backwards compatibility) has a server answer them with MAPPED-ADDRESS only.
/// RFC 3489 sent Binding requests over UDP only, so only UDP clients get this answer; over TCP
/// and TLS a cookie-less message is malformed as before.
enum ClassicBinding {
    /// The transaction id of a well-formed classic Binding request, or nil for anything else.
    static func transactionID(of bytes: [UInt8]) -> ArraySlice<UInt8>? {
        guard bytes.count >= 20, bytes.count <= 548, bytes[0] == 0x00, bytes[1] == 0x01 else { return nil }
        let length = Int(bytes[2]) << 8 | Int(bytes[3])
        guard length % 4 == 0, 20 + length == bytes.count else { return nil }
        guard !bytes[4..<8].elementsEqual([0x21, 0x12, 0xA4, 0x42]) else { return nil } // RFC 8489 cookie: not classic
        return bytes[4..<20]
    }

    /// Binding success response (0x0101) with MAPPED-ADDRESS (RFC 3489 §11.2.1) of `mapped`.
    static func response(transactionID: ArraySlice<UInt8>, mapped: TransportAddress) -> [UInt8] {
        let address = mapped.ip.bytes
        let attributeLength = 4 + address.count
        var out: [UInt8] = [0x01, 0x01, 0x00, UInt8(4 + attributeLength)]
        out += transactionID
        out += [0x00, 0x01, 0x00, UInt8(attributeLength)] // MAPPED-ADDRESS
        out += [0x00, mapped.ip.family == .ipv4 ? 0x01 : 0x02, UInt8(mapped.port >> 8), UInt8(mapped.port & 0xFF)]
        out += address
        return out
    }
}
