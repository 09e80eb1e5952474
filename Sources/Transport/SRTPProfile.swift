/// The SRTP protection profiles this library offers (RFC 5764 §4.1.2 for
/// SRTP_AES128_CM_HMAC_SHA1_80, RFC 7714 §14.2 for SRTP_AEAD_AES_128_GCM).
public enum SRTPProfile: Sendable, Hashable, CaseIterable {
    /// AEAD_AES_128_GCM: 128-bit key, 96-bit salt, 16-octet tag (RFC 7714).
    case aeadAES128GCM
    /// AES_CM_128_HMAC_SHA1_80: 128-bit key, 112-bit salt, 80-bit tag (RFC 3711).
    case aes128CMHMACSHA1_80

    public var keyLength: Int { 16 }
    public var saltLength: Int {
        switch self {
        case .aeadAES128GCM: 12
        case .aes128CMHMACSHA1_80: 14
        }
    }

    /// The DTLS-SRTP protection profile identifier (RFC 5764 §4.1.2, RFC 7714 §14.2).
    public var dtlsProtectionProfileID: UInt16 {
        switch self {
        case .aeadAES128GCM: 0x0007
        case .aes128CMHMACSHA1_80: 0x0001
        }
    }

    public init?(dtlsProtectionProfileID id: UInt16) {
        switch id {
        case 0x0007: self = .aeadAES128GCM
        case 0x0001: self = .aes128CMHMACSHA1_80
        default: return nil
        }
    }
}

/// Why SRTP protection or unprotection failed (libsrtp2 status codes mapped to RFC 3711 §3.3 terms).
public enum SRTPError: Error, Equatable, Sendable {
    case invalidKeyLength(expected: Int, actual: Int)
    case invalidSaltLength(expected: Int, actual: Int)
    /// Shorter than an RTP (12) or RTCP (8) header plus what the profile needs.
    case packetTooShort(length: Int)
    /// Index already received (RFC 3711 §3.3.2 replay list).
    case replayed
    /// Index older than the replay window.
    case replayTooOld
    /// Authentication tag did not verify (tampered or wrong key).
    case authenticationFailed
    /// libsrtp could not parse the packet.
    case malformedPacket
    case libraryFailure(code: Int32)
}
