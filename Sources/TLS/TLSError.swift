/// Why a TLS connection (RFC 8446 §6 alerts, RFC 5280/6125 verification) could not go on.
public enum TLSError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The peer's certificate did not verify, e.g. "self-signed certificate", "hostname mismatch".
    case certificateVerificationFailed(reason: String)
    /// The handshake failed for another reason (alert from the peer, no shared cipher, malformed message).
    case handshakeFailed(reason: String)
    /// A configuration file (CA, certificate, key) could not be used; the reason names the file.
    case configuration(reason: String)
    /// The peer broke the protocol after the handshake.
    case protocolError(reason: String)
    /// The connection is closed (close_notify sent or received).
    case closed

    public var description: String {
        switch self {
        case .certificateVerificationFailed(let reason): "TLS certificate verification failed: \(reason)"
        case .handshakeFailed(let reason): "TLS handshake failed: \(reason)"
        case .configuration(let reason): "TLS configuration error: \(reason)"
        case .protocolError(let reason): "TLS protocol error: \(reason)"
        case .closed: "TLS connection closed"
        }
    }
}

/// What the finished handshake agreed (RFC 8446 §4, RFC 5246 §7.4); reported as a NIO user-inbound
/// event by `NIOTLSHandler` and returned by `TLSConnection`.
public struct TLSHandshakeCompleted: Sendable, Hashable {
    /// "TLSv1.3" or "TLSv1.2".
    public let protocolVersion: String
    /// OpenSSL's name of the negotiated cipher suite, e.g. "TLS_AES_256_GCM_SHA384".
    public let cipherSuite: String
    /// The peer certificate's subject (RFC 2253 form), `nil` when the peer sent none (a server's client).
    public let peerCertificateSubject: String?

    public init(protocolVersion: String, cipherSuite: String, peerCertificateSubject: String?) {
        self.protocolVersion = protocolVersion
        self.cipherSuite = cipherSuite
        self.peerCertificateSubject = peerCertificateSubject
    }
}
