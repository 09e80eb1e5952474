/// What a TLS client (RFC 8446, RFC 5246) needs: the name to send in SNI (RFC 6066 §3) and to verify
/// the server's certificate against (RFC 6125), and optionally the CAs to trust instead of the system store.
///
/// Verification is always on: `trustedCAFile` replaces the trust store (for self-signed test servers),
/// it never disables verification.
public struct TLSClientConfiguration: Sendable, Hashable {
    /// The server's DNS name (or IP address literal) sent as SNI and verified against the certificate.
    public var serverName: String
    /// A PEM file of CA certificates to trust *instead of* the system store; `nil` uses the system store.
    public var trustedCAFile: String?

    public init(serverName: String, trustedCAFile: String? = nil) {
        self.serverName = serverName
        self.trustedCAFile = trustedCAFile
    }
}

/// What a TLS server (RFC 8446, RFC 5246) needs: its certificate chain and private key, both PEM files.
public struct TLSServerConfiguration: Sendable, Hashable {
    /// PEM file: the server certificate first, then any intermediates.
    public var certificateChainFile: String
    /// PEM file holding the private key of the first certificate.
    public var privateKeyFile: String

    public init(certificateChainFile: String, privateKeyFile: String) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
    }
}
