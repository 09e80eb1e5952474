/// Hash functions of the fingerprint attribute (RFC 8122 §5, XEP-0320 `hash`).
public enum FingerprintAlgorithm: String, Sendable, Hashable, CaseIterable {
    case sha1 = "sha-1"
    case sha256 = "sha-256"
    case sha384 = "sha-384"
    case sha512 = "sha-512"

    /// Parses the RFC 8122 hash name, case-insensitively ("sha-256", "SHA-256").
    public init?(name: String) {
        self.init(rawValue: name.lowercased())
    }
}

/// The SRTP protection profiles negotiated by the use_srtp extension (RFC 5764 §4.1.2, RFC 7714 §14.2).
public enum SRTPProtectionProfile: Sendable, Hashable, CaseIterable {
    /// SRTP_AEAD_AES_128_GCM (RFC 7714), profile 0x0007.
    case aeadAES128GCM
    /// SRTP_AES128_CM_HMAC_SHA1_80 (RFC 5764), profile 0x0001.
    case aes128CMHMACSHA1_80

    /// The two-byte profile identifier on the wire.
    public var identifier: UInt16 {
        switch self {
        case .aeadAES128GCM: 0x0007
        case .aes128CMHMACSHA1_80: 0x0001
        }
    }

    /// Master key length in bytes.
    public var keyLength: Int { 16 }

    /// Master salt length in bytes: 12 for AEAD (RFC 7714 §12), 14 for AES-CM (RFC 3711 §8.2).
    public var saltLength: Int {
        switch self {
        case .aeadAES128GCM: 12
        case .aes128CMHMACSHA1_80: 14
        }
    }

    /// OpenSSL's name for `SSL_CTX_set_tlsext_use_srtp`.
    var openSSLName: String {
        switch self {
        case .aeadAES128GCM: "SRTP_AEAD_AES_128_GCM"
        case .aes128CMHMACSHA1_80: "SRTP_AES128_CM_SHA1_80"
        }
    }

    init?(identifier: UInt) {
        switch identifier {
        case 0x0007: self = .aeadAES128GCM
        case 0x0001: self = .aes128CMHMACSHA1_80
        default: return nil
        }
    }
}

/// SRTP master keys and salts exported from the DTLS handshake (RFC 5764 §4.2), already assigned:
/// "local" protects what this endpoint sends, "remote" what it receives (the client writes with
/// the client key).
public struct SRTPKeyingMaterial: Sendable, Hashable {
    public let profile: SRTPProtectionProfile
    public let localKey: [UInt8]
    public let localSalt: [UInt8]
    public let remoteKey: [UInt8]
    public let remoteSalt: [UInt8]

    public init(profile: SRTPProtectionProfile, localKey: [UInt8], localSalt: [UInt8], remoteKey: [UInt8], remoteSalt: [UInt8]) {
        self.profile = profile
        self.localKey = localKey
        self.localSalt = localSalt
        self.remoteKey = remoteKey
        self.remoteSalt = remoteSalt
    }
}

/// What one received datagram produced.
public struct DTLSOutput: Sendable, Hashable {
    /// Datagrams to send to the peer, each one UDP payload.
    public var datagrams: [[UInt8]] = []
    /// Application data records received (RFC 6347 §4.1), one entry per record.
    public var applicationData: [[UInt8]] = []
    /// Set by the datagram that completed the handshake and passed the fingerprint check.
    public var handshakeCompleted: SRTPKeyingMaterial?
    /// The peer sent close_notify.
    public var peerClosed = false

    public init() {}
}

/// Why a DTLS-SRTP association (RFC 6347, RFC 5764, RFC 5763 §5) failed.
public enum DTLSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The certificate, key or profile list could not be used.
    case configuration(reason: String)
    /// The handshake failed (alert, no common SRTP profile, too many retransmissions).
    case handshakeFailed(reason: String)
    /// The peer's certificate does not hash to the signalled fingerprint (RFC 5763 §5).
    case fingerprintMismatch(expected: String, actual: String)
    /// Something that is not DTLS or breaks the protocol after the handshake.
    case protocolError(reason: String)
    /// The association is closed or failed earlier.
    case closed

    public var description: String {
        switch self {
        case .configuration(let reason): "DTLS configuration error: \(reason)"
        case .handshakeFailed(let reason): "DTLS handshake failed: \(reason)"
        case .fingerprintMismatch(let expected, let actual): "DTLS fingerprint mismatch: expected \(expected), got \(actual)"
        case .protocolError(let reason): "DTLS protocol error: \(reason)"
        case .closed: "DTLS association closed"
        }
    }
}

extension SRTPKeyingMaterial: CustomStringConvertible, CustomDebugStringConvertible {
    /// Names the profile only: keys and salts are secrets and stay out of logs.
    public var description: String { "SRTPKeyingMaterial(\(profile), keys redacted)" }
    public var debugDescription: String { description }
}

extension DTLSConnection {
    /// Which side of the DTLS handshake (RFC 6347) this endpoint plays, from the signalled
    /// `setup` attribute (RFC 4145 §4, RFC 5763 §5; XEP-0320 `setup`): `active` is the client,
    /// `passive` the server.
    public enum Role: Sendable, Hashable {
        case client
        case server

        /// The role for a resolved `setup` value: "active" -> client, "passive" -> server.
        /// "actpass" and anything else return `nil`: the offer/answer must resolve it first.
        public init?(setup: String) {
            switch setup {
            case "active": self = .client
            case "passive": self = .server
            default: return nil
            }
        }
    }
}
