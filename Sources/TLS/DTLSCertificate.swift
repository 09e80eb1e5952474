internal import COpenSSL

/// A per-call DTLS identity (RFC 5763 §5): an ECDSA P-256 key and self-signed certificate whose
/// fingerprint (RFC 8122 §5) is signalled in Jingle (XEP-0320) or SDP.
///
/// `@unchecked Sendable`: the key and certificate are created once and never mutated afterwards;
/// OpenSSL only reads them (and takes its own reference-counted references) when a connection uses them.
public final class DTLSCertificate: @unchecked Sendable {
    let identity: X509Identity

    private init(identity: X509Identity) {
        self.identity = identity
    }

    /// Generates a fresh key and certificate, valid 30 days.
    public static func generate(commonName: String = "JingleKit") throws(DTLSError) -> DTLSCertificate {
        switch X509Identity.generate(commonName: commonName, subjectAlternativeNames: [], validityDays: 30) {
        case .success(let identity): return DTLSCertificate(identity: identity)
        case .failure(let error): throw .configuration(reason: error.description)
        }
    }

    /// The certificate fingerprint as "AB:CD:..." uppercase hex.
    public func fingerprint(_ algorithm: FingerprintAlgorithm) -> String {
        identity.fingerprint(algorithm.evp)
    }

    /// The certificate, PEM.
    public var certificatePEM: String { identity.certificatePEM }
}

extension FingerprintAlgorithm {
    var evp: OpaquePointer? {
        switch self {
        case .sha1: EVP_sha1()
        case .sha256: EVP_sha256()
        case .sha384: EVP_sha384()
        case .sha512: EVP_sha512()
        }
    }
}
