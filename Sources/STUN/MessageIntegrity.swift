import CryptoPrimitives
import Foundation

/// The outcome of checking a received message's integrity (RFC 8489 §14.5-14.6).
public enum IntegrityCheck: Hashable, Sendable {
    /// Verified with MESSAGE-INTEGRITY-SHA256 (`.sha256`) or MESSAGE-INTEGRITY (`.sha1`).
    case valid(IntegrityAlgorithms)
    /// No integrity attribute present.
    case missing
    /// An integrity attribute did not match the key.
    case invalid
}

extension Digest {
    static func hmacSHA1(key: [UInt8], data: ArraySlice<UInt8>) -> [UInt8] { hmac(.sha1, key: key, data: data) }
    static func hmacSHA1(key: [UInt8], data: [UInt8]) -> [UInt8] { hmac(.sha1, key: key, data: data) }
    static func hmacSHA256(key: [UInt8], data: ArraySlice<UInt8>) -> [UInt8] { hmac(.sha256, key: key, data: data) }
    static func hmacSHA256(key: [UInt8], data: [UInt8]) -> [UInt8] { hmac(.sha256, key: key, data: data) }
}

extension STUNMessage {
    /// Verifies MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY, over the bytes as
    /// received, with the header length adjusted as §14.5-14.6 describe.
    public func verifyIntegrity(key: [UInt8]) -> IntegrityCheck {
        guard let received else { return .missing }
        if let offset = received.integritySHA256Offset, case .messageIntegritySHA256(let mac)? = attribute(.messageIntegritySHA256) {
            var prefix = Array(received.bytes[0..<offset])
            prefix.setU16(UInt16(truncatingIfNeeded: offset - STUNHeader.size + 4 + mac.count), at: 2)
            let expected = Digest.hmacSHA256(key: key, data: prefix).prefix(mac.count)
            return Digest.constantTimeEqual(expected, mac) ? .valid(.sha256) : .invalid
        }
        if let offset = received.integrityOffset, case .messageIntegrity(let mac)? = attribute(.messageIntegrity) {
            var prefix = Array(received.bytes[0..<offset])
            prefix.setU16(UInt16(truncatingIfNeeded: offset - STUNHeader.size + 24), at: 2)
            let expected = Digest.hmacSHA1(key: key, data: prefix)
            return Digest.constantTimeEqual(expected, mac) ? .valid(.sha1) : .invalid
        }
        return .missing
    }

    /// Which integrity attribute the message carries, strongest first.
    public var integrityAlgorithm: IntegrityAlgorithms? {
        if has(.messageIntegritySHA256) { return .sha256 }
        if has(.messageIntegrity) { return .sha1 }
        return nil
    }
}

/// How a credential string is prepared before it is hashed into a key.
public enum CredentialPreparation: Hashable, Sendable {
    /// Bytes as given.
    case none
    /// RFC 8265 OpaqueString, as RFC 8489 §9.2.2 requires (width-preserving, NFC).
    case opaqueString
    /// RFC 4013 SASLprep, as RFC 5389 and the RFC 5769 vectors used (NFKC).
    case saslPrep

    /// Prepares `text`: maps non-ASCII spaces to U+0020, drops characters RFC 3454 B.1 maps to
    /// nothing (SASLprep only), and normalises. Prohibited-character checks are not applied.
    public func prepare(_ text: String) -> String {
        switch self {
        case .none:
            return text
        case .opaqueString, .saslPrep:
            var scalars = String.UnicodeScalarView()
            for scalar in text.unicodeScalars {
                let v = scalar.value
                if self == .saslPrep && CredentialPreparation.mappedToNothing(v) { continue }
                if v != 0x20 && scalar.properties.generalCategory == .spaceSeparator {
                    scalars.append(" ")
                } else {
                    scalars.append(scalar)
                }
            }
            let mapped = String(scalars)
            return self == .saslPrep ? mapped.precomposedStringWithCompatibilityMapping : mapped.precomposedStringWithCanonicalMapping
        }
    }

    static func mappedToNothing(_ v: UInt32) -> Bool {
        switch v {
        case 0x00AD, 0x034F, 0x1806, 0x180B...0x180D, 0x200B...0x200D, 0x2060, 0xFE00...0xFE0F, 0xFEFF: true
        default: false
        }
    }
}

/// Key derivation for STUN credentials (RFC 8489 §9.1.1, §9.2.2, §9.2.4, §18.5.1).
public enum STUNKey {
    /// Short-term key: the prepared password itself (§9.1.1).
    public static func shortTerm(password: String, preparation: CredentialPreparation = .opaqueString) -> [UInt8] {
        Array(preparation.prepare(password).utf8)
    }

    /// Long-term key: MD5 or SHA-256 of `username ":" realm ":" password` (§9.2.2, §18.5.1).
    public static func longTerm(
        username: String, realm: String, password: String,
        algorithm: PasswordAlgorithm = .md5,
        preparation: CredentialPreparation = .opaqueString
    ) -> [UInt8] {
        let input = Array((preparation.prepare(username) + ":" + preparation.prepare(realm) + ":" + preparation.prepare(password)).utf8)
        return algorithm == .sha256 ? Digest.hash(.sha256, input) : Digest.hash(.md5, input)
    }

    /// USERHASH value: SHA-256 of `username ":" realm` (§14.4).
    public static func userhash(username: String, realm: String) -> [UInt8] {
        Digest.hash(.sha256, Array((username + ":" + realm).utf8))
    }
}
