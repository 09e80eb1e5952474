import XMPPCore

/// What a negotiated connection agreed: where it went, TLS, SASL, the bound JID and the features
/// the server announced after authentication (RFC 6120 §4.3.2).
public struct ConnectionInfo: Sendable, Hashable {
    /// The host and port the TCP connection went to.
    public var host: String
    public var port: Int
    /// "TLSv1.3" or "TLSv1.2"; nil on a plaintext test connection.
    public var tlsVersion: String?
    public var cipherSuite: String?
    /// The server certificate's subject.
    public var peerCertificateSubject: String?
    public var saslMechanism: SASLMechanismName
    public var boundJID: JID
    /// The `<stream:features/>` of the authenticated stream.
    public var features: StreamFeatures
    public var streamID: String?
    /// XEP-0198: this connection resumed the previous session (nothing was lost, presence and
    /// server-side state carry on) rather than binding a new one.
    public var resumed = false
    /// XEP-0198 stream management was enabled (or resumed) on this connection.
    public var streamManagement = false

    public init(
        host: String, port: Int, tlsVersion: String?, cipherSuite: String?, peerCertificateSubject: String?,
        saslMechanism: SASLMechanismName, boundJID: JID, features: StreamFeatures, streamID: String?
    ) {
        self.host = host
        self.port = port
        self.tlsVersion = tlsVersion
        self.cipherSuite = cipherSuite
        self.peerCertificateSubject = peerCertificateSubject
        self.saslMechanism = saslMechanism
        self.boundJID = boundJID
        self.features = features
        self.streamID = streamID
    }
}

/// Changes in the connection, for applications that show or log them.
public enum ConnectionEvent: Sendable, Hashable {
    case connected(ConnectionInfo)
    /// The connection ended; nil error after `disconnect()`.
    case disconnected(XMPPError?)
    /// A reconnect attempt will start after `delay`.
    case reconnecting(attempt: Int, delay: Duration)
}
