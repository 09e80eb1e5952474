/// What one step of a `TLSConnection` produced: bytes for the network, bytes for the application,
/// and the events of RFC 8446 §4 (handshake done) and §6.1 (close_notify received).
public struct TLSOutput: Sendable, Hashable {
    /// TLS records to send to the peer, in order.
    public var ciphertext: [UInt8] = []
    /// Application data decrypted from the peer, in order.
    public var plaintext: [UInt8] = []
    /// Set by the step that completed the handshake.
    public var handshakeCompleted: TLSHandshakeCompleted?
    /// The peer sent close_notify: no more data will come.
    public var peerClosed = false

    public init() {}
}
