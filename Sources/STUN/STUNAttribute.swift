/// One typed STUN attribute (RFC 8489 §14, RFC 8656 §18, RFC 8445 §16.1). Attributes this
/// package does not know are kept as `.unknown` with their raw value.
public enum STUNAttribute: Hashable, Sendable {
    case mappedAddress(TransportAddress)
    case xorMappedAddress(TransportAddress)
    case xorPeerAddress(TransportAddress)
    case xorRelayedAddress(TransportAddress)
    case alternateServer(TransportAddress)
    case username(String)
    case userhash([UInt8])
    case messageIntegrity([UInt8])
    case messageIntegritySHA256([UInt8])
    case fingerprint(UInt32)
    case errorCode(STUNErrorCode)
    case realm(String)
    case nonce(String)
    case passwordAlgorithms([PasswordAlgorithm])
    case passwordAlgorithm(PasswordAlgorithm)
    case unknownAttributes([UInt16])
    case software(String)
    case lifetime(UInt32)
    case requestedTransport(UInt8)
    case data([UInt8])
    case channelNumber(UInt16)
    /// RFC 6062 §6.2.1: names a peer TCP connection of a TCP allocation.
    case connectionID(UInt32)
    case evenPort(reserveNext: Bool)
    case reservationToken([UInt8])
    case dontFragment
    case requestedAddressFamily(AddressFamily)
    case additionalAddressFamily(AddressFamily)
    case addressErrorCode(family: AddressFamily, error: STUNErrorCode)
    case priority(UInt32)
    case useCandidate
    case iceControlled(UInt64)
    case iceControlling(UInt64)
    case unknown(type: UInt16, value: [UInt8])

    /// The attribute's type code.
    public var type: STUNAttributeType {
        switch self {
        case .mappedAddress: .mappedAddress
        case .xorMappedAddress: .xorMappedAddress
        case .xorPeerAddress: .xorPeerAddress
        case .xorRelayedAddress: .xorRelayedAddress
        case .alternateServer: .alternateServer
        case .username: .username
        case .userhash: .userhash
        case .messageIntegrity: .messageIntegrity
        case .messageIntegritySHA256: .messageIntegritySHA256
        case .fingerprint: .fingerprint
        case .errorCode: .errorCode
        case .realm: .realm
        case .nonce: .nonce
        case .passwordAlgorithms: .passwordAlgorithms
        case .passwordAlgorithm: .passwordAlgorithm
        case .unknownAttributes: .unknownAttributes
        case .software: .software
        case .lifetime: .lifetime
        case .requestedTransport: .requestedTransport
        case .data: .data
        case .channelNumber: .channelNumber
        case .connectionID: .connectionID
        case .evenPort: .evenPort
        case .reservationToken: .reservationToken
        case .dontFragment: .dontFragment
        case .requestedAddressFamily: .requestedAddressFamily
        case .additionalAddressFamily: .additionalAddressFamily
        case .addressErrorCode: .addressErrorCode
        case .priority: .priority
        case .useCandidate: .useCandidate
        case .iceControlled: .iceControlled
        case .iceControlling: .iceControlling
        case .unknown(let type, _): STUNAttributeType(rawValue: type)
        }
    }
}

// MARK: - Decoding

/// Maximum lengths RFC 8489 §14 sets for text attributes (in bytes, generous for UTF-8).
enum TextLimits {
    static let username = 513
    static let text = 763 * 4
}

extension STUNAttribute {
    /// Decodes one attribute value. `transactionID` is needed for XOR'd IPv6 addresses.
    static func decode(type: UInt16, value: UnsafeRawBufferPointer, transactionID: TransactionID) throws(STUNParseError) -> STUNAttribute {
        let t = STUNAttributeType(rawValue: type)
        func bad(_ reason: String) -> STUNParseError { .malformedAttribute(type: type, reason: reason) }
        func exact(_ n: Int) throws(STUNParseError) {
            guard value.count == n else { throw bad("length \(value.count), expected \(n)") }
        }
        func text(limit: Int) throws(STUNParseError) -> String {
            guard value.count <= limit else { throw bad("longer than \(limit) bytes") }
            guard let s = String(validating: value, as: UTF8.self) else { throw bad("not UTF-8") }
            return s
        }
        var r = ByteReader(value)
        switch t {
        case .mappedAddress: return .mappedAddress(try decodeAddress(value, xor: nil, type: type))
        case .alternateServer: return .alternateServer(try decodeAddress(value, xor: nil, type: type))
        case .xorMappedAddress: return .xorMappedAddress(try decodeAddress(value, xor: transactionID, type: type))
        case .xorPeerAddress: return .xorPeerAddress(try decodeAddress(value, xor: transactionID, type: type))
        case .xorRelayedAddress: return .xorRelayedAddress(try decodeAddress(value, xor: transactionID, type: type))
        case .username: return .username(try text(limit: TextLimits.username))
        case .userhash: try exact(32); return .userhash(Array(value))
        case .messageIntegrity: try exact(20); return .messageIntegrity(Array(value))
        case .messageIntegritySHA256:
            guard value.count >= 16, value.count <= 32, value.count % 4 == 0 else { throw bad("length \(value.count)") }
            return .messageIntegritySHA256(Array(value))
        case .fingerprint: try exact(4); return .fingerprint(try r.u32())
        case .errorCode:
            guard value.count >= 4 else { throw bad("shorter than 4 bytes") }
            _ = try r.u16()
            let cls = Int(try r.u8() & 0x07)
            let number = Int(try r.u8())
            guard (3...6).contains(cls), number < 100 else { throw bad("code \(cls * 100 + number)") }
            let reasonBytes = UnsafeRawBufferPointer(rebasing: value[4...])
            guard reasonBytes.count <= TextLimits.text, let reason = String(validating: reasonBytes, as: UTF8.self) else {
                throw bad("reason")
            }
            return .errorCode(STUNErrorCode(code: cls * 100 + number, reason: reason))
        case .realm: return .realm(try text(limit: TextLimits.text))
        case .nonce: return .nonce(try text(limit: TextLimits.text))
        case .software: return .software(try text(limit: TextLimits.text))
        case .passwordAlgorithms:
            var list: [PasswordAlgorithm] = []
            while r.remaining > 0 {
                let number = try r.u16()
                let length = Int(try r.u16())
                let params = try r.take(length)
                let pad = (4 - length % 4) % 4
                try r.need(min(pad, r.remaining))
                r.offset += min(pad, r.remaining)
                list.append(PasswordAlgorithm(number: number, parameters: params))
            }
            return .passwordAlgorithms(list)
        case .passwordAlgorithm:
            let number = try r.u16()
            let length = Int(try r.u16())
            let params = try r.take(length)
            return .passwordAlgorithm(PasswordAlgorithm(number: number, parameters: params))
        case .unknownAttributes:
            guard value.count % 2 == 0 else { throw bad("odd length") }
            var list: [UInt16] = []
            while r.remaining > 0 { list.append(try r.u16()) }
            return .unknownAttributes(list)
        case .lifetime: try exact(4); return .lifetime(try r.u32())
        case .requestedTransport: try exact(4); return .requestedTransport(try r.u8())
        case .data: return .data(Array(value))
        case .channelNumber: try exact(4); return .channelNumber(try r.u16())
        case .connectionID: try exact(4); return .connectionID(try r.u32())
        case .evenPort: try exact(1); return .evenPort(reserveNext: try r.u8() & 0x80 != 0)
        case .reservationToken: try exact(8); return .reservationToken(Array(value))
        case .dontFragment: try exact(0); return .dontFragment
        case .requestedAddressFamily, .additionalAddressFamily, .legacyAdditionalAddressFamily:
            try exact(4)
            guard let family = AddressFamily(rawValue: try r.u8()) else { throw bad("unknown family") }
            return t == .requestedAddressFamily ? .requestedAddressFamily(family) : .additionalAddressFamily(family)
        case .addressErrorCode:
            guard value.count >= 4 else { throw bad("shorter than 4 bytes") }
            guard let family = AddressFamily(rawValue: try r.u8()) else { throw bad("unknown family") }
            _ = try r.u8()
            let cls = Int(try r.u8() & 0x07)
            let number = Int(try r.u8())
            guard (3...6).contains(cls), number < 100 else { throw bad("code") }
            let reasonBytes = UnsafeRawBufferPointer(rebasing: value[4...])
            guard let reason = String(validating: reasonBytes, as: UTF8.self) else { throw bad("reason") }
            return .addressErrorCode(family: family, error: STUNErrorCode(code: cls * 100 + number, reason: reason))
        case .priority: try exact(4); return .priority(try r.u32())
        case .useCandidate: try exact(0); return .useCandidate
        case .iceControlled: try exact(8); return .iceControlled(try r.u64())
        case .iceControlling: try exact(8); return .iceControlling(try r.u64())
        default: return .unknown(type: type, value: Array(value))
        }
    }

    static func decodeAddress(_ value: UnsafeRawBufferPointer, xor: TransactionID?, type: UInt16) throws(STUNParseError) -> TransportAddress
    {
        var r = ByteReader(value)
        _ = try r.u8()
        let familyByte = try r.u8()
        var port = try r.u16()
        if xor != nil { port ^= UInt16(STUNHeader.magicCookie >> 16) }
        switch familyByte {
        case AddressFamily.ipv4.rawValue:
            guard value.count == 8 else { throw .malformedAttribute(type: type, reason: "IPv4 address length \(value.count)") }
            var a = try r.u32()
            if xor != nil { a ^= STUNHeader.magicCookie }
            return TransportAddress(ip: .v4(a), port: port)
        case AddressFamily.ipv6.rawValue:
            guard value.count == 20 else { throw .malformedAttribute(type: type, reason: "IPv6 address length \(value.count)") }
            var hi = try r.u64()
            var lo = try r.u64()
            if let id = xor {
                hi ^= UInt64(STUNHeader.magicCookie) << 32 | UInt64(id.high)
                lo ^= id.low
            }
            return TransportAddress(ip: .v6(hi, lo), port: port)
        default:
            throw .malformedAttribute(type: type, reason: "address family \(familyByte)")
        }
    }
}

// MARK: - Encoding

extension STUNAttribute {
    /// Appends type, length, value and padding to `out`.
    func encode(into out: inout [UInt8], transactionID: TransactionID) {
        out.appendU16(type.rawValue)
        let lengthOffset = out.count
        out.appendU16(0)
        let start = out.count
        switch self {
        case .mappedAddress(let a), .alternateServer(let a):
            STUNAttribute.encodeAddress(a, xor: nil, into: &out)
        case .xorMappedAddress(let a), .xorPeerAddress(let a), .xorRelayedAddress(let a):
            STUNAttribute.encodeAddress(a, xor: transactionID, into: &out)
        case .username(let s), .realm(let s), .nonce(let s), .software(let s):
            out.append(contentsOf: s.utf8)
        case .userhash(let b), .messageIntegrity(let b), .messageIntegritySHA256(let b), .data(let b), .reservationToken(let b):
            out.append(contentsOf: b)
        case .fingerprint(let v), .lifetime(let v), .priority(let v), .connectionID(let v):
            out.appendU32(v)
        case .errorCode(let e):
            out.appendU16(0)
            out.append(UInt8(e.code / 100 & 0x07))
            out.append(UInt8(e.code % 100))
            out.append(contentsOf: e.reason.utf8)
        case .passwordAlgorithms(let list):
            for a in list {
                out.appendU16(a.number)
                out.appendU16(UInt16(a.parameters.count))
                out.append(contentsOf: a.parameters)
                out.padTo4()
            }
        case .passwordAlgorithm(let a):
            out.appendU16(a.number)
            out.appendU16(UInt16(a.parameters.count))
            out.append(contentsOf: a.parameters)
        case .unknownAttributes(let list):
            for t in list { out.appendU16(t) }
        case .requestedTransport(let p):
            out.append(p); out.append(0); out.append(0); out.append(0)
        case .channelNumber(let n):
            out.appendU16(n); out.appendU16(0)
        case .evenPort(let reserve):
            out.append(reserve ? 0x80 : 0)
        case .dontFragment, .useCandidate:
            break
        case .requestedAddressFamily(let f), .additionalAddressFamily(let f):
            out.append(f.rawValue); out.append(0); out.append(0); out.append(0)
        case .addressErrorCode(let f, let e):
            out.append(f.rawValue)
            out.append(0)
            out.append(UInt8(e.code / 100 & 0x07))
            out.append(UInt8(e.code % 100))
            out.append(contentsOf: e.reason.utf8)
        case .iceControlled(let v), .iceControlling(let v):
            out.appendU64(v)
        case .unknown(_, let value):
            out.append(contentsOf: value)
        }
        out.setU16(UInt16(truncatingIfNeeded: out.count - start), at: lengthOffset)
        out.padTo4()
    }

    static func encodeAddress(_ a: TransportAddress, xor: TransactionID?, into out: inout [UInt8]) {
        out.append(0)
        out.append(a.ip.family.rawValue)
        out.appendU16(xor == nil ? a.port : a.port ^ UInt16(STUNHeader.magicCookie >> 16))
        switch a.ip {
        case .v4(let v):
            out.appendU32(xor == nil ? v : v ^ STUNHeader.magicCookie)
        case .v6(var hi, var lo):
            if let id = xor {
                hi ^= UInt64(STUNHeader.magicCookie) << 32 | UInt64(id.high)
                lo ^= id.low
            }
            out.appendU64(hi)
            out.appendU64(lo)
        }
    }
}
