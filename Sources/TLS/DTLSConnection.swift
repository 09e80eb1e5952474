internal import COpenSSL
import EngineTime
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A sans-IO DTLS 1.2 association for media (RFC 6347) that negotiates SRTP (RFC 5764, RFC 7714)
/// and authenticates the peer by its signalled certificate fingerprint (RFC 5763 §5, XEP-0320).
///
/// Driving it: call `start(now:)` once, send what it returns; feed every DTLS datagram to
/// `receive(datagram:now:)` (demultiplex first: RFC 7983 puts DTLS at first bytes 20...63) and send
/// what it returns; after each call re-arm one timer at `nextDeadline` and call `handleTimeout(now:)`
/// when it fires (RFC 6347 §4.2.4: flights are retransmitted, doubling from 1 s to 60 s).
///
/// Time: `now` is an `EngineInstant` supplied by the caller; tests may pass a virtual one.
/// OpenSSL 3 also keeps its own wall-clock retransmission deadline; on OpenSSL 3.0 and 3.1,
/// `handleTimeout` moves that deadline to the caller's so that a virtual clock drives
/// retransmissions. On later versions OpenSSL's clock must also agree that the timer expired.
///
/// Peer certificates are self-signed: the chain is not verified, the fingerprint is the trust. It is
/// checked in OpenSSL's verify callback (a mismatch aborts with a bad_certificate alert, left in
/// `takePendingDatagrams()`) and again before any keying material is released.
///
/// Not thread-safe: use one association from one thread at a time.
public final class DTLSConnection {
    public let role: Role
    public let expectedPeerFingerprint: (hash: String, value: String)

    /// Where the association is in its life.
    public enum State: Sendable, Hashable { case new, handshaking, established, closed, failed }
    public private(set) var state: State = .new
    /// The keying material, once established.
    public private(set) var keyingMaterial: SRTPKeyingMaterial?
    /// When `handleTimeout(now:)` should next be called; `nil` when no retransmission is pending.
    public private(set) var nextDeadline: EngineInstant?
    /// The error that failed the association, including one found inside `handleTimeout(now:)`.
    public private(set) var failure: DTLSError?

    private let peerCheck: PeerFingerprintCheck
    private let certificate: DTLSCertificate
    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private let queue = DatagramQueue()

    /// - Parameters:
    ///   - role: client for `setup='active'`, server for `setup='passive'`.
    ///   - certificate: this call's identity; its fingerprint is what we signalled.
    ///   - expectedPeerFingerprint: the peer's signalled hash name ("sha-256") and value ("AB:CD:...").
    ///   - profiles: SRTP profiles to offer, in preference order.
    ///   - mtu: largest datagram payload to produce.
    public init(
        role: Role, certificate: DTLSCertificate, expectedPeerFingerprint: (hash: String, value: String),
        profiles: [SRTPProtectionProfile] = [.aeadAES128GCM, .aes128CMHMACSHA1_80], mtu: Int = 1200
    ) throws(DTLSError) {
        OpenSSLErrorQueue.clear()
        guard let algorithm = FingerprintAlgorithm(name: expectedPeerFingerprint.hash) else {
            throw .configuration(reason: "unsupported fingerprint hash \"\(expectedPeerFingerprint.hash)\"")
        }
        guard !profiles.isEmpty else { throw .configuration(reason: "no SRTP protection profile offered") }
        guard (256...65_507).contains(mtu) else { throw .configuration(reason: "MTU \(mtu) outside 256...65507") }
        self.role = role
        self.certificate = certificate
        self.expectedPeerFingerprint = (algorithm.rawValue, expectedPeerFingerprint.value.uppercased())
        self.peerCheck = PeerFingerprintCheck(algorithm: algorithm, expected: expectedPeerFingerprint.value.uppercased())

        guard let context = SSL_CTX_new(DTLS_method()) else {
            throw .configuration(reason: "cannot create SSL_CTX: \(OpenSSLErrorQueue.drain(fallback: "out of memory"))")
        }
        func fail(_ what: String) -> DTLSError {
            .configuration(reason: "\(what): \(OpenSSLErrorQueue.drain(fallback: "rejected"))")
        }
        guard jk_SSL_CTX_set_min_proto_version(context, DTLS1_2_VERSION) == 1,
            SSL_CTX_use_certificate(context, certificate.identity.certificate) == 1,
            SSL_CTX_use_PrivateKey(context, certificate.identity.key) == 1,
            SSL_CTX_check_private_key(context) == 1
        else {
            SSL_CTX_free(context)
            throw fail("cannot use the DTLS certificate")
        }
        // RFC 5764 §4.1.1: offer the profiles; OpenSSL returns 0 on success here.
        guard jk_SSL_CTX_set_tlsext_use_srtp(context, profiles.map(\.openSSLName).joined(separator: ":")) == 0 else {
            SSL_CTX_free(context)
            throw fail("cannot offer SRTP profiles")
        }
        _ = jk_SSL_CTX_set_options(context, jk_SSL_OP_NO_QUERY_MTU() | jk_SSL_OP_NO_RENEGOTIATION() | jk_SSL_OP_NO_TICKET())
        // Both sides must present a certificate; self-signed is fine, the fingerprint decides.
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, PeerFingerprintCheck.verifyCallback)

        guard let ssl = SSL_new(context) else {
            SSL_CTX_free(context)
            throw fail("cannot create SSL")
        }
        guard let bio = DatagramBIO.make(queue) else {
            SSL_free(ssl)
            SSL_CTX_free(context)
            throw fail("cannot create the datagram BIO")
        }
        SSL_set_bio(ssl, bio, bio) // one reference, owned by the SSL
        _ = jk_SSL_set_mtu(ssl, mtu)
        PeerFingerprintCheck.attach(peerCheck, to: ssl)
        if role == .client { SSL_set_connect_state(ssl) } else { SSL_set_accept_state(ssl) }
        self.context = context
        self.ssl = ssl
    }

    deinit {
        SSL_free(ssl) // frees the BIO before `queue` goes away
        SSL_CTX_free(context)
    }

    /// Starts the handshake: the client returns its ClientHello flight; the server returns nothing.
    public func start(now: EngineInstant) -> [[UInt8]] {
        guard state == .new else { return [] }
        state = .handshaking
        guard role == .client else { return [] }
        OpenSSLErrorQueue.clear()
        var output = DTLSOutput()
        do throws(DTLSError) {
            try step(&output)
        } catch {
            failure = error
        }
        updateDeadline(now: now)
        return queue.takeOutbound()
    }

    /// Feeds one DTLS datagram from the peer. Datagrams that are not DTLS (first byte outside
    /// 20...63, RFC 7983) throw `protocolError` and leave the association as it was; malformed or
    /// unauthenticated records inside DTLS are silently discarded (RFC 6347 §4.1.2.7).
    public func receive(datagram: [UInt8], now: EngineInstant) throws(DTLSError) -> DTLSOutput {
        switch state {
        case .closed, .failed: throw .closed
        case .new, .handshaking, .established: break
        }
        guard let first = datagram.first, (20...63).contains(first) else {
            throw .protocolError(reason: datagram.isEmpty ? "empty datagram" : "not a DTLS record (first byte \(datagram[0]))")
        }
        if state == .new { state = .handshaking } // a server waiting for the ClientHello
        OpenSSLErrorQueue.clear()
        queue.inbound.append(datagram)
        var output = DTLSOutput()
        defer {
            queue.inbound.removeAll()
            updateDeadline(now: now)
        }
        do throws(DTLSError) {
            try step(&output)
        } catch {
            failure = error
            throw error // the alert stays queued for takePendingDatagrams()
        }
        output.datagrams = queue.takeOutbound()
        return output
    }

    /// Datagrams queued but not returned, such as the alert after `receive` threw: send them to
    /// tell the peer why the handshake ended.
    public func takePendingDatagrams() -> [[UInt8]] {
        queue.takeOutbound()
    }

    /// Retransmits the last flight if `now` reached `nextDeadline` (RFC 6347 §4.2.4.1).
    /// If retransmissions are exhausted the association fails (`state == .failed`, `failure` set).
    public func handleTimeout(now: EngineInstant) -> [[UInt8]] {
        guard let deadline = nextDeadline, now >= deadline, state == .handshaking || state == .established else { return [] }
        OpenSSLErrorQueue.clear()
        expireOpenSSLTimer()
        if jk_DTLSv1_handle_timeout(ssl) < 0 {
            state = .failed
            failure = .handshakeFailed(reason: OpenSSLErrorQueue.drain(fallback: "retransmission limit reached"))
        }
        updateDeadline(now: now)
        return queue.takeOutbound()
    }

    /// Encrypts application data (one record per call), after the handshake.
    public func send(applicationData: [UInt8]) throws(DTLSError) -> [[UInt8]] {
        guard state == .established else {
            throw state == .handshaking || state == .new ? .protocolError(reason: "handshake not complete") : .closed
        }
        guard !applicationData.isEmpty else { return [] }
        OpenSSLErrorQueue.clear()
        let written = applicationData.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        guard written == Int32(applicationData.count) else {
            throw .protocolError(reason: OpenSSLErrorQueue.drain(fallback: "record too large for the MTU"))
        }
        return queue.takeOutbound()
    }

    /// Sends close_notify (RFC 6347 §4.1 / RFC 5246 §7.2.1).
    public func close() -> [[UInt8]] {
        if state == .established {
            OpenSSLErrorQueue.clear()
            _ = SSL_shutdown(ssl)
            OpenSSLErrorQueue.clear()
        }
        if state != .failed { state = .closed }
        nextDeadline = nil
        return queue.takeOutbound()
    }

    // MARK: - Internals

    private func step(_ output: inout DTLSOutput) throws(DTLSError) {
        if state == .handshaking {
            let result = SSL_do_handshake(ssl)
            guard result == 1 else {
                let code = SSL_get_error(ssl, result)
                if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return }
                state = .failed
                let reason = OpenSSLErrorQueue.drain(fallback: "handshake failed")
                if let mismatch = peerCheck.mismatch {
                    throw .fingerprintMismatch(expected: mismatch.expected, actual: mismatch.actual)
                }
                throw .handshakeFailed(reason: reason)
            }
            do throws(DTLSError) {
                let material = try completeHandshake()
                keyingMaterial = material
                output.handshakeCompleted = material
                state = .established
            } catch {
                state = .failed
                throw error
            }
        }
        var buffer = [UInt8](repeating: 0, count: 16 * 1024 + 256)
        while state == .established {
            let result = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if result > 0 {
                output.applicationData.append(Array(buffer.prefix(Int(result))))
                continue
            }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                output.peerClosed = true
                state = .closed
                return
            default:
                state = .failed
                throw .protocolError(reason: OpenSSLErrorQueue.drain(fallback: "connection failed"))
            }
        }
    }

    /// RFC 5763 §5: check the peer's certificate against the signalled fingerprint, then export
    /// the SRTP keys (RFC 5764 §4.2): client key, server key, client salt, server salt.
    private func completeHandshake() throws(DTLSError) -> SRTPKeyingMaterial {
        guard let peer = SSL_get1_peer_certificate(ssl) else {
            throw .handshakeFailed(reason: "peer sent no certificate")
        }
        defer { X509_free(peer) }
        // Checked in the verify callback already; checked again here before any key leaves.
        guard let actual = peerCheck.fingerprint(of: peer) else {
            throw .handshakeFailed(reason: "cannot hash the peer certificate")
        }
        guard actual == expectedPeerFingerprint.value else {
            throw .fingerprintMismatch(expected: expectedPeerFingerprint.value, actual: actual)
        }
        guard let selected = SSL_get_selected_srtp_profile(ssl),
            let profile = SRTPProtectionProfile(identifier: selected.pointee.id)
        else {
            throw .handshakeFailed(reason: "no SRTP protection profile negotiated")
        }
        let keyLength = profile.keyLength
        let saltLength = profile.saltLength
        var material = [UInt8](repeating: 0, count: 2 * (keyLength + saltLength))
        let label = "EXTRACTOR-dtls_srtp"
        guard SSL_export_keying_material(ssl, &material, material.count, label, label.utf8.count, nil, 0, 0) == 1 else {
            throw .handshakeFailed(reason: "cannot export keying material: \(OpenSSLErrorQueue.drain(fallback: "unknown"))")
        }
        let clientKey = Array(material[0..<keyLength])
        let serverKey = Array(material[keyLength..<(2 * keyLength)])
        let clientSalt = Array(material[(2 * keyLength)..<(2 * keyLength + saltLength)])
        let serverSalt = Array(material[(2 * keyLength + saltLength)...])
        switch role {
        case .client:
            return SRTPKeyingMaterial(
                profile: profile, localKey: clientKey, localSalt: clientSalt,
                remoteKey: serverKey, remoteSalt: serverSalt)
        case .server:
            return SRTPKeyingMaterial(
                profile: profile, localKey: serverKey, localSalt: serverSalt,
                remoteKey: clientKey, remoteSalt: clientSalt)
        }
    }

    /// OpenSSL reports how long its retransmission timer has left; the caller's deadline is that
    /// much after the caller's `now`.
    private func updateDeadline(now: EngineInstant) {
        guard state == .handshaking || state == .established else {
            nextDeadline = nil
            return
        }
        var remaining = timeval()
        if jk_DTLSv1_get_timeout(ssl, &remaining) == 1 {
            nextDeadline = now + .seconds(Int64(remaining.tv_sec)) + .microseconds(Int64(remaining.tv_usec))
        } else {
            nextDeadline = nil
        }
    }

    /// Makes OpenSSL's own wall-clock timer agree that the caller's deadline passed.
    ///
    /// OpenSSL 3.0 and 3.1 hand the BIO a pointer to the SSL's live retransmission deadline with
    /// BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT; moving it into the past is what the wall clock would do.
    /// Later versions pass a copy, so nothing is written there and OpenSSL's clock decides.
    private func expireOpenSSLTimer() {
        guard Self.openSSLSharesTimer, let deadline = queue.retransmissionDeadline else { return }
        var remaining = timeval()
        guard jk_DTLSv1_get_timeout(ssl, &remaining) == 1 else { return }
        // Only a running timer that looks like an absolute wall-clock deadline is touched.
        var wallClock = timeval()
        gettimeofday(&wallClock, nil)
        let expected = Int(wallClock.tv_sec) + Int(remaining.tv_sec)
        guard abs(Int(deadline.pointee.tv_sec) - expected) <= 1 else { return }
        deadline.pointee = timeval(tv_sec: 1, tv_usec: 0)
    }

    private static let openSSLSharesTimer: Bool = {
        let version = OpenSSL_version_num()
        return version >= 0x3000_0000 && version < 0x3020_0000
    }()
}
