import CryptoPrimitives

/// A STUN message: header fields plus typed attributes in wire order (RFC 8489 §5-6, §14).
///
/// Encoding places MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT last, computed
/// over the other attributes (§14.5-14.7). Decoding keeps the bytes received so that integrity
/// and fingerprint can be verified over exactly what arrived.
public struct STUNMessage: Hashable, Sendable {
    public var type: STUNMessageType
    public var transactionID: TransactionID
    /// Attributes in order. On decode this includes integrity and fingerprint attributes, but
    /// not attributes after MESSAGE-INTEGRITY that §14.5 says to ignore.
    public var attributes: [STUNAttribute]
    /// The message as received, with offsets of its integrity attributes; nil for built messages.
    public private(set) var received: ReceivedMessage?

    public init(type: STUNMessageType, transactionID: TransactionID = .random(), attributes: [STUNAttribute] = []) {
        self.type = type
        self.transactionID = transactionID
        self.attributes = attributes
        self.received = nil
    }

    public init(_ method: STUNMethod, _ messageClass: STUNClass, transactionID: TransactionID = .random(), attributes: [STUNAttribute] = [])
    {
        self.init(type: STUNMessageType(method: method, messageClass: messageClass), transactionID: transactionID, attributes: attributes)
    }

    /// The bytes of a decoded message and where its integrity-related attributes start.
    public struct ReceivedMessage: Hashable, Sendable {
        public let bytes: [UInt8]
        /// Offsets of the attribute headers of MESSAGE-INTEGRITY, -SHA256 and FINGERPRINT.
        public let integrityOffset: Int?
        public let integritySHA256Offset: Int?
        public let fingerprintOffset: Int?
    }
}

// MARK: - Attribute accessors

extension STUNMessage {
    /// The first attribute of the given type.
    public func attribute(_ type: STUNAttributeType) -> STUNAttribute? {
        attributes.first { $0.type == type }
    }

    public func has(_ type: STUNAttributeType) -> Bool { attributes.contains { $0.type == type } }

    public var username: String? { for case .username(let v) in attributes { return v }; return nil }
    public var userhash: [UInt8]? { for case .userhash(let v) in attributes { return v }; return nil }
    public var realm: String? { for case .realm(let v) in attributes { return v }; return nil }
    public var nonce: String? { for case .nonce(let v) in attributes { return v }; return nil }
    public var errorCode: STUNErrorCode? { for case .errorCode(let v) in attributes { return v }; return nil }
    public var lifetime: UInt32? { for case .lifetime(let v) in attributes { return v }; return nil }
    public var software: String? { for case .software(let v) in attributes { return v }; return nil }
    public var xorMappedAddress: TransportAddress? { for case .xorMappedAddress(let v) in attributes { return v }; return nil }
    public var xorRelayedAddresses: [TransportAddress] {
        attributes.compactMap { if case .xorRelayedAddress(let v) = $0 { v } else { nil } }
    }
    public var xorPeerAddresses: [TransportAddress] { attributes.compactMap { if case .xorPeerAddress(let v) = $0 { v } else { nil } } }
    public var data: [UInt8]? { for case .data(let v) in attributes { return v }; return nil }
    public var channelNumber: UInt16? { for case .channelNumber(let v) in attributes { return v }; return nil }
    public var connectionID: UInt32? { for case .connectionID(let v) in attributes { return v }; return nil }
    public var requestedTransport: UInt8? { for case .requestedTransport(let v) in attributes { return v }; return nil }
    public var passwordAlgorithms: [PasswordAlgorithm]? { for case .passwordAlgorithms(let v) in attributes { return v }; return nil }
    public var passwordAlgorithm: PasswordAlgorithm? { for case .passwordAlgorithm(let v) in attributes { return v }; return nil }
    public var reservationToken: [UInt8]? { for case .reservationToken(let v) in attributes { return v }; return nil }
    public var evenPort: Bool? { for case .evenPort(let v) in attributes { return v }; return nil }
    public var requestedAddressFamily: AddressFamily? { for case .requestedAddressFamily(let v) in attributes { return v }; return nil }
    public var additionalAddressFamily: AddressFamily? { for case .additionalAddressFamily(let v) in attributes { return v }; return nil }
    public var unknownComprehensionRequired: [UInt16] {
        attributes.compactMap { if case .unknown(let t, _) = $0, t < 0x8000 { t } else { nil } }
    }
}

// MARK: - Decoding

extension STUNMessage {
    /// Decodes one STUN message that fills `bytes` exactly (a UDP datagram or a framed stream
    /// message). Throws a typed error for anything malformed.
    public static func decode(_ bytes: [UInt8]) throws(STUNParseError) -> STUNMessage {
        let result: Result<STUNMessage, STUNParseError> = bytes.withUnsafeBytes { raw in
            do throws(STUNParseError) { return .success(try decode(raw, keeping: bytes)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Decodes from raw memory (copied into the message's `received` bytes).
    public static func decode(_ raw: UnsafeRawBufferPointer) throws(STUNParseError) -> STUNMessage {
        try decode(raw, keeping: Array(raw))
    }

    static func decode(_ raw: UnsafeRawBufferPointer, keeping bytes: [UInt8]) throws(STUNParseError) -> STUNMessage {
        var r = ByteReader(raw)
        try r.need(STUNHeader.size)
        let typeField = try r.u16()
        guard let type = STUNMessageType(rawValue: typeField) else { throw .notSTUN }
        let length = Int(try r.u16())
        let cookie = try r.u32()
        guard cookie == STUNHeader.magicCookie else { throw .badMagicCookie(cookie) }
        guard length % 4 == 0, length + STUNHeader.size == raw.count else {
            throw .badLength(declared: length, actual: raw.count - STUNHeader.size)
        }
        let idHigh = try r.u32()
        let idLow = try r.u64()
        let id = TransactionID(high: idHigh, low: idLow)
        var attributes: [STUNAttribute] = []
        var integrityOffset: Int?
        var sha256Offset: Int?
        var fingerprintOffset: Int?
        while r.remaining > 0 {
            let start = r.offset
            let attrType = try r.u16()
            let attrLength = Int(try r.u16())
            guard attrLength <= r.remaining else { throw .attributeOverrun(type: attrType, length: attrLength) }
            let value = UnsafeRawBufferPointer(rebasing: raw[r.offset..<r.offset + attrLength])
            let padded = (attrLength + 3) & ~3
            guard padded <= r.remaining else { throw .attributeOverrun(type: attrType, length: attrLength) }
            r.offset += padded
            if fingerprintOffset != nil { throw .attributeAfterFingerprint(type: attrType) }
            let t = STUNAttributeType(rawValue: attrType)
            if t == .fingerprint {
                fingerprintOffset = start
            } else if t == .messageIntegritySHA256 {
                // §14.6: after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT counts.
                if sha256Offset != nil { continue }
                sha256Offset = start
            } else if t == .messageIntegrity {
                if integrityOffset != nil || sha256Offset != nil { continue }
                integrityOffset = start
            } else if integrityOffset != nil || sha256Offset != nil {
                // §14.5: attributes after MESSAGE-INTEGRITY other than the two above are ignored.
                continue
            }
            attributes.append(try STUNAttribute.decode(type: attrType, value: value, transactionID: id))
        }
        var message = STUNMessage(type: type, transactionID: id, attributes: attributes)
        message.received = ReceivedMessage(
            bytes: bytes, integrityOffset: integrityOffset,
            integritySHA256Offset: sha256Offset, fingerprintOffset: fingerprintOffset)
        return message
    }
}

// MARK: - Encoding

/// Which integrity attributes to add when encoding (RFC 8489 §14.5-14.6).
public enum IntegrityAlgorithms: Hashable, Sendable {
    case sha1
    case sha256
    case both
}

extension STUNMessage {
    /// Encodes the message. With a `key`, appends MESSAGE-INTEGRITY and/or
    /// MESSAGE-INTEGRITY-SHA256; with `fingerprint`, appends FINGERPRINT last. Integrity and
    /// fingerprint attributes already in `attributes` are skipped.
    public func encode(key: [UInt8]? = nil, integrity: IntegrityAlgorithms = .sha1, fingerprint: Bool = false) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(128)
        out.appendU16(type.rawValue)
        out.appendU16(0)
        out.appendU32(STUNHeader.magicCookie)
        out.appendU32(transactionID.high)
        out.appendU64(transactionID.low)
        for attribute in attributes {
            switch attribute.type {
            case .messageIntegrity, .messageIntegritySHA256, .fingerprint: continue
            default: attribute.encode(into: &out, transactionID: transactionID)
            }
        }
        if let key {
            if integrity != .sha256 {
                out.setU16(UInt16(truncatingIfNeeded: out.count - STUNHeader.size + 24), at: 2)
                let mac = Digest.hmacSHA1(key: key, data: out)
                STUNAttribute.messageIntegrity(mac).encode(into: &out, transactionID: transactionID)
            }
            if integrity != .sha1 {
                out.setU16(UInt16(truncatingIfNeeded: out.count - STUNHeader.size + 36), at: 2)
                let mac = Digest.hmacSHA256(key: key, data: out)
                STUNAttribute.messageIntegritySHA256(mac).encode(into: &out, transactionID: transactionID)
            }
        }
        if fingerprint {
            out.setU16(UInt16(truncatingIfNeeded: out.count - STUNHeader.size + 8), at: 2)
            STUNAttribute.fingerprint(Fingerprint.compute(out)).encode(into: &out, transactionID: transactionID)
        }
        out.setU16(UInt16(truncatingIfNeeded: out.count - STUNHeader.size), at: 2)
        return out
    }
}
