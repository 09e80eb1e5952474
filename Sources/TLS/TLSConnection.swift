internal import COpenSSL

/// A sans-IO TLS connection (RFC 8446 TLS 1.3, RFC 5246 TLS 1.2) over OpenSSL 3 and two memory BIOs:
/// feed it ciphertext from the network, hand it plaintext to encrypt, send what it returns.
/// It never touches a socket or a clock.
///
/// Policy: TLS 1.2 minimum, compression and renegotiation off. A client always verifies the server's
/// certificate chain (SSL_VERIFY_PEER) and its name (RFC 6125, via SSL_set1_host / the IP SAN);
/// `TLSClientConfiguration.trustedCAFile` only replaces the trust store.
///
/// Not thread-safe: use one connection from one thread (or one NIO event loop) at a time.
public final class TLSConnection {
    /// Which side of the handshake this is (RFC 8446 §2).
    public enum Role: Sendable, Hashable { case client, server }

    /// Where the connection is in its life.
    public enum State: Sendable, Hashable {
        case handshaking
        case established
        /// close_notify sent or received.
        case closed
        /// A fatal error happened; see the thrown `TLSError`.
        case failed
    }

    public let role: Role
    public private(set) var state: State = .handshaking
    /// What the handshake agreed, once `state` reached `.established`.
    public private(set) var handshakeCompleted: TLSHandshakeCompleted?

    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private let networkIn: OpaquePointer // ciphertext from the peer, read by OpenSSL
    private let networkOut: OpaquePointer // ciphertext OpenSSL wrote for the peer
    private let verifiedName: String?
    /// We sent close_notify and still wait for the peer's (RFC 8446 §6.1).
    private var awaitingPeerClose = false
    private var sentCloseNotify = false
    private var receivedCloseNotify = false

    /// A client connection verifying `configuration.serverName`.
    public static func client(_ configuration: TLSClientConfiguration) throws(TLSError) -> TLSConnection {
        try TLSConnection(role: .client, client: configuration, server: nil)
    }

    /// A server connection presenting `configuration`'s certificate chain.
    public static func server(_ configuration: TLSServerConfiguration) throws(TLSError) -> TLSConnection {
        try TLSConnection(role: .server, client: nil, server: configuration)
    }

    /// A server connection on a context loaded once (no file is read per connection).
    public static func server(_ context: TLSServerContext) throws(TLSError) -> TLSConnection {
        SSL_CTX_up_ref(context.context)
        return try TLSConnection(role: .server, configuredContext: context.context, verifiedName: nil)
    }

    /// A configured server `SSL_CTX` for `configuration` (the caller owns one reference).
    static func makeServerContext(_ configuration: TLSServerConfiguration) throws(TLSError) -> OpaquePointer {
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(TLS_server_method()) else {
            throw .configuration(reason: "cannot create SSL_CTX: \(OpenSSLErrorQueue.drain(fallback: "out of memory"))")
        }
        do throws(TLSError) {
            try Self.configure(context: context, client: nil, server: configuration)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        return context
    }

    private convenience init(role: Role, client: TLSClientConfiguration?, server: TLSServerConfiguration?) throws(TLSError) {
        OpenSSLErrorQueue.clear()
        guard let context = SSL_CTX_new(role == .client ? TLS_client_method() : TLS_server_method()) else {
            throw .configuration(reason: "cannot create SSL_CTX: \(OpenSSLErrorQueue.drain(fallback: "out of memory"))")
        }
        do throws(TLSError) {
            try Self.configure(context: context, client: client, server: server)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        try self.init(role: role, configuredContext: context, verifiedName: client?.serverName)
    }

    /// Takes over one reference to `context`, already configured.
    private init(role: Role, configuredContext context: OpaquePointer, verifiedName: String?) throws(TLSError) {
        self.role = role
        self.verifiedName = verifiedName
        guard let ssl = SSL_new(context) else {
            SSL_CTX_free(context)
            throw .configuration(reason: "cannot create SSL: \(OpenSSLErrorQueue.drain(fallback: "out of memory"))")
        }
        guard let networkIn = BIO_new(BIO_s_mem()), let networkOut = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            SSL_CTX_free(context)
            throw .configuration(reason: "cannot create memory BIOs")
        }
        // An empty input BIO means "wait for more", not end of stream.
        _ = jk_BIO_set_mem_eof_return(networkIn, -1)
        _ = jk_BIO_set_mem_eof_return(networkOut, -1)
        SSL_set_bio(ssl, networkIn, networkOut) // the SSL owns both BIOs from here on
        self.context = context
        self.ssl = ssl
        self.networkIn = networkIn
        self.networkOut = networkOut

        if role == .client, let verifiedName {
            try applyServerName(verifiedName)
            SSL_set_connect_state(ssl)
        } else {
            SSL_set_accept_state(ssl)
        }
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    private static func configure(
        context: OpaquePointer, client: TLSClientConfiguration?,
        server: TLSServerConfiguration?
    ) throws(TLSError) {
        guard jk_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw .configuration(reason: "cannot require TLS 1.2: \(OpenSSLErrorQueue.drain(fallback: "unknown"))")
        }
        _ = jk_SSL_CTX_set_options(context, jk_SSL_OP_NO_COMPRESSION() | jk_SSL_OP_NO_RENEGOTIATION())
        if let client {
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            if let file = client.trustedCAFile {
                guard SSL_CTX_load_verify_locations(context, file, nil) == 1 else {
                    let why = OpenSSLErrorQueue.drain(fallback: "no certificates found")
                    throw .configuration(reason: "cannot read CA file \(file): \(why)")
                }
            } else {
                guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                    throw .configuration(reason: "cannot load the system trust store: \(OpenSSLErrorQueue.drain(fallback: "unknown"))")
                }
            }
        }
        if let server {
            guard SSL_CTX_use_certificate_chain_file(context, server.certificateChainFile) == 1 else {
                let why = OpenSSLErrorQueue.drain(fallback: "no certificate found")
                throw .configuration(reason: "cannot read certificate chain file \(server.certificateChainFile): \(why)")
            }
            guard SSL_CTX_use_PrivateKey_file(context, server.privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
                let why = OpenSSLErrorQueue.drain(fallback: "no key found")
                throw .configuration(reason: "cannot read private key file \(server.privateKeyFile): \(why)")
            }
            guard SSL_CTX_check_private_key(context) == 1 else {
                throw .configuration(
                    reason: "private key \(server.privateKeyFile) does not match certificate \(server.certificateChainFile)")
            }
            // No session resumption: do not send TLS 1.3 tickets.
            _ = jk_SSL_CTX_set_num_tickets(context, 0)
        }
    }

    private func applyServerName(_ name: String) throws(TLSError) {
        guard !name.isEmpty else { throw .configuration(reason: "empty server name") }
        if IPAddressText.isIPLiteral(name) {
            // RFC 6066 §3: SNI never carries an address literal; verify the IP SAN instead.
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1 else {
                throw .configuration(reason: "invalid IP address \(name)")
            }
        } else {
            guard jk_SSL_set_tlsext_host_name(ssl, name) == 1, SSL_set1_host(ssl, name) == 1 else {
                throw .configuration(reason: "invalid server name \(name): \(OpenSSLErrorQueue.drain(fallback: "rejected"))")
            }
            // RFC 6125 §6.4.3: a wildcard only as the whole left-most label.
            SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        }
    }

    // MARK: - Driving the connection

    /// Starts the handshake: a client returns its ClientHello; a server returns nothing (it waits).
    public func startHandshake() throws(TLSError) -> TLSOutput {
        var output = TLSOutput()
        if role == .client, state == .handshaking {
            try advance(&output)
        }
        return output
    }

    /// Feeds ciphertext from the peer; returns what to send back, decrypted data and events.
    /// On a thrown error, `takePendingCiphertext()` still holds the alert to send to the peer.
    public func receive<Bytes: Collection<UInt8>>(ciphertext: Bytes) throws(TLSError) -> TLSOutput {
        switch state {
        case .closed where awaitingPeerClose: break
        case .failed, .closed: throw .closed
        case .handshaking, .established: break
        }
        OpenSSLErrorQueue.clear()
        let written: Int32? =
            ciphertext.withContiguousStorageIfAvailable { buffer in
                buffer.isEmpty ? 0 : BIO_write(networkIn, buffer.baseAddress, Int32(buffer.count))
            }
            ?? Array(ciphertext).withUnsafeBufferPointer { buffer in
                buffer.isEmpty ? 0 : BIO_write(networkIn, buffer.baseAddress, Int32(buffer.count))
            }
        guard let written, written == Int32(ciphertext.count) else {
            state = .failed
            throw .protocolError(reason: "cannot buffer \(ciphertext.count) bytes of ciphertext")
        }
        var output = TLSOutput()
        if state == .closed {
            awaitPeerClose(&output)
        } else {
            try advance(&output)
        }
        return output
    }

    /// After our close_notify: discard data still in flight and report the peer's close_notify.
    private func awaitPeerClose(_ output: inout TLSOutput) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while awaitingPeerClose {
            let result = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if result > 0 { continue }
            let code = SSL_get_error(ssl, result)
            if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { break }
            awaitingPeerClose = false
            output.peerClosed = code == SSL_ERROR_ZERO_RETURN
            receivedCloseNotify = output.peerClosed
        }
        OpenSSLErrorQueue.clear()
    }

    /// Encrypts application data. Only after the handshake completed (`state == .established`).
    public func write<Bytes: Collection<UInt8>>(plaintext: Bytes) throws(TLSError) -> [UInt8] {
        switch state {
        case .established: break
        case .handshaking: throw .protocolError(reason: "application data written before the handshake completed")
        case .closed, .failed: throw .closed
        }
        OpenSSLErrorQueue.clear()
        let bytes = Array(plaintext)
        var offset = 0
        while offset < bytes.count {
            let chunk = min(bytes.count - offset, Int(Int32.max))
            let result = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + offset, Int32(chunk)) }
            guard result > 0 else {
                state = .failed
                throw .protocolError(reason: OpenSSLErrorQueue.drain(fallback: "SSL_write failed"))
            }
            offset += Int(result)
        }
        return OpenSSLText.drain(memoryBIO: networkOut)
    }

    /// Sends close_notify (RFC 8446 §6.1) and returns it; later writes throw `TLSError.closed`.
    /// `receive` still accepts the peer's close_notify afterwards (reported as `peerClosed`).
    public func close() -> [UInt8] {
        let answeringPeer = state == .closed && receivedCloseNotify && !sentCloseNotify
        guard state == .established || state == .handshaking || answeringPeer else { return takePendingCiphertext() }
        OpenSSLErrorQueue.clear()
        if state == .established || answeringPeer {
            _ = SSL_shutdown(ssl)
            sentCloseNotify = true
            awaitingPeerClose = !receivedCloseNotify
        }
        state = .closed
        OpenSSLErrorQueue.clear()
        return takePendingCiphertext()
    }

    /// Keying material exported from the session (RFC 5705 / RFC 8446 §7.5), e.g. for the
    /// "EXPORTER-Channel-Binding" label of tls-exporter channel binding (RFC 9266). Established only.
    public func exportKeyingMaterial(label: String, context: [UInt8]? = nil, length: Int) throws(TLSError) -> [UInt8] {
        guard state == .established else { throw .protocolError(reason: "keying material exported before the handshake completed") }
        guard length > 0, length <= 1 << 16 else { throw .protocolError(reason: "invalid exporter length \(length)") }
        OpenSSLErrorQueue.clear()
        var out = [UInt8](repeating: 0, count: length)
        let useContext: Int32 = context == nil ? 0 : 1 // RFC 5705 §4: no context differs from an empty one
        let ok = (context ?? []).withUnsafeBufferPointer { contextBuffer in
            SSL_export_keying_material(
                ssl, &out, length, label, label.utf8.count,
                contextBuffer.baseAddress, contextBuffer.count, useContext)
        }
        guard ok == 1 else { throw .protocolError(reason: OpenSSLErrorQueue.drain(fallback: "export failed")) }
        return out
    }

    /// Ciphertext OpenSSL wrote but no step returned yet, such as the alert after a failed handshake.
    public func takePendingCiphertext() -> [UInt8] {
        OpenSSLText.drain(memoryBIO: networkOut)
    }

    // MARK: - Internals

    /// Runs the handshake and reads plaintext. On a throw, what OpenSSL wrote (the alert) stays in
    /// `networkOut` for `takePendingCiphertext()`.
    private func advance(_ output: inout TLSOutput) throws(TLSError) {
        try step(&output)
        output.ciphertext += OpenSSLText.drain(memoryBIO: networkOut)
    }

    private func step(_ output: inout TLSOutput) throws(TLSError) {
        if state == .handshaking {
            let result = SSL_do_handshake(ssl)
            if result == 1 {
                let completed = describeSession()
                handshakeCompleted = completed
                output.handshakeCompleted = completed
                state = .established
            } else {
                let code = SSL_get_error(ssl, result)
                guard code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE else {
                    state = .failed
                    throw handshakeError()
                }
                return
            }
        }
        try readPlaintext(&output)
    }

    private func readPlaintext(_ output: inout TLSOutput) throws(TLSError) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while state == .established {
            let result = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if result > 0 {
                output.plaintext += buffer.prefix(Int(result))
                continue
            }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                output.peerClosed = true
                receivedCloseNotify = true
                state = .closed
                return
            default:
                state = .failed
                throw .protocolError(reason: OpenSSLErrorQueue.drain(fallback: "connection failed"))
            }
        }
    }

    private func handshakeError() -> TLSError {
        let stack = OpenSSLErrorQueue.drain(fallback: "handshake failed")
        if role == .client {
            let verify = SSL_get_verify_result(ssl)
            if verify != Int(X509_V_OK) {
                let cause = X509_verify_cert_error_string(verify).map { String(cString: $0) } ?? "error \(verify)"
                return .certificateVerificationFailed(reason: "certificate verify failed: \(cause) (hostname \(verifiedName ?? "?"))")
            }
        }
        return .handshakeFailed(reason: stack)
    }

    private func describeSession() -> TLSHandshakeCompleted {
        let version = SSL_get_version(ssl).map { String(cString: $0) } ?? "unknown"
        let cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)).map { String(cString: $0) } ?? "unknown"
        var subject: String?
        if let peer = SSL_get1_peer_certificate(ssl) {
            subject = OpenSSLText.name(X509_get_subject_name(peer))
            X509_free(peer)
        }
        return TLSHandshakeCompleted(protocolVersion: version, cipherSuite: cipher, peerCertificateSubject: subject)
    }
}
