import CryptoPrimitives

/// The FINGERPRINT attribute: CRC-32 of the message up to it, XOR 0x5354554E (RFC 8489 §14.7).
public enum Fingerprint {
    static let xorValue: UInt32 = 0x5354_554E

    /// The fingerprint value for the bytes before the FINGERPRINT attribute (header length
    /// already covering it).
    public static func compute<C: Collection<UInt8>>(_ bytes: C) -> UInt32 {
        CRC32.checksum(bytes) ^ xorValue
    }
}

extension STUNMessage {
    /// nil without FINGERPRINT; otherwise whether it matches the bytes received.
    public var fingerprintMatches: Bool? {
        guard let received, let offset = received.fingerprintOffset,
            case .fingerprint(let value)? = attribute(.fingerprint)
        else { return nil }
        return Fingerprint.compute(received.bytes[0..<offset]) == value
    }
}
