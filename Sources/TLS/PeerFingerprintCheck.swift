internal import COpenSSL

/// RFC 5763 §5 inside the handshake: the peer's end-entity certificate must hash to the signalled
/// fingerprint. Run from OpenSSL's verify callback, so a mismatch aborts the handshake with a
/// bad_certificate alert before any key is derived; the chain itself is not verified (self-signed).
final class PeerFingerprintCheck {
    let algorithm: FingerprintAlgorithm
    let expected: String
    /// Set when the peer's certificate did not match.
    var mismatch: (expected: String, actual: String)?

    init(algorithm: FingerprintAlgorithm, expected: String) {
        self.algorithm = algorithm
        self.expected = expected
    }

    /// The fingerprint of `certificate` in "AB:CD:..." form, or `nil` if it cannot be hashed.
    func fingerprint(of certificate: OpaquePointer) -> String? {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(certificate, algorithm.evp, &digest, &length) == 1 else { return nil }
        return OpenSSLText.colonHex(digest.prefix(Int(length)))
    }

    /// Attaches `check` to `ssl` (unretained: the owner keeps it alive as long as the SSL).
    static func attach(_ check: PeerFingerprintCheck, to ssl: OpaquePointer) {
        SSL_set_ex_data(ssl, appDataIndex, Unmanaged.passUnretained(check).toOpaque())
    }

    fileprivate static let appDataIndex: Int32 = 0 // the slot SSL_set_app_data uses

    /// The verify callback for SSL_CTX_set_verify.
    static let verifyCallback: @convention(c) (Int32, OpaquePointer?) -> Int32 = { _, store in
        guard let store,
            let sslPointer = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()),
            let checkPointer = SSL_get_ex_data(OpaquePointer(sslPointer), PeerFingerprintCheck.appDataIndex)
        else {
            return 0
        }
        // Only the peer's own certificate matters; anything above it is not trusted or checked.
        guard X509_STORE_CTX_get_error_depth(store) == 0 else { return 1 }
        let check = Unmanaged<PeerFingerprintCheck>.fromOpaque(checkPointer).takeUnretainedValue()
        guard let certificate = X509_STORE_CTX_get_current_cert(store),
            let actual = check.fingerprint(of: certificate)
        else {
            return 0
        }
        guard actual == check.expected else {
            check.mismatch = (check.expected, actual)
            X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED) // sent as bad_certificate
            return 0
        }
        return 1
    }
}
