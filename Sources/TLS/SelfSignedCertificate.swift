internal import COpenSSL
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A freshly generated ECDSA P-256 key and self-signed X.509 certificate (RFC 5280) with a CN and
/// subjectAltNames, kept in memory as PEM; its SHA-256 fingerprint is in the RFC 8122 §5 /
/// XEP-0320 form ("AB:CD:..."). For test servers and per-call DTLS identities.
public struct SelfSignedCertificate: Sendable, Hashable {
    public let commonName: String
    public let subjectAlternativeNames: [String]
    /// The certificate, PEM ("-----BEGIN CERTIFICATE-----").
    public let certificatePEM: String
    /// The unencrypted PKCS#8 private key, PEM ("-----BEGIN PRIVATE KEY-----").
    public let privateKeyPEM: String
    /// SHA-256 of the DER certificate, uppercase hex pairs joined by ":".
    public let sha256Fingerprint: String

    /// Generates a new key pair and certificate. `subjectAlternativeNames` may mix DNS names and
    /// IP literals ("localhost", "127.0.0.1", "::1").
    public static func generate(
        commonName: String, subjectAlternativeNames: [String] = [],
        validityDays: Int = 30
    ) throws(TLSError) -> SelfSignedCertificate {
        let identity = try X509Identity.generate(
            commonName: commonName, subjectAlternativeNames: subjectAlternativeNames,
            validityDays: validityDays
        ).get()
        return SelfSignedCertificate(
            commonName: commonName, subjectAlternativeNames: subjectAlternativeNames,
            certificatePEM: identity.certificatePEM, privateKeyPEM: identity.privateKeyPEM,
            sha256Fingerprint: identity.fingerprint(EVP_sha256()))
    }

    /// Writes the certificate and key as PEM files (the key with mode 0600), ready for
    /// `TLSServerConfiguration` and `TLSClientConfiguration.trustedCAFile`.
    public func write(certificateFile: String, privateKeyFile: String) throws(TLSError) {
        try Self.store(certificateFile, certificatePEM, mode: 0o644)
        try Self.store(privateKeyFile, privateKeyPEM, mode: 0o600)
    }

    private static func store(_ path: String, _ text: String, mode: mode_t) throws(TLSError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else {
            throw .configuration(reason: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        defer { _ = closeFile(fd) }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { writeFile(fd, $0.baseAddress! + offset, bytes.count - offset) }
            guard written > 0 else {
                throw .configuration(reason: "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }
}

private func closeFile(_ fd: Int32) -> Int32 { close(fd) }
private func writeFile(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int { write(fd, bytes, count) }
