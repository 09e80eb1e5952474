internal import CSRTP
import Synchronization

/// libsrtp2 is initialised once per process; Swift runs a static initialiser exactly once.
enum SRTPLibrary {
    static let initialisation: Int32 = Int32(srtp_init().rawValue)
    static let trailerRoom = Int(jk_srtp_max_trailer_len()) + 16
}

/// One SRTP/SRTCP session (RFC 3711, RFC 7714) over libsrtp2: an outbound context keyed with the
/// local master key and salt, an inbound one keyed with the remote ones (as DTLS-SRTP, RFC 5764
/// §4.2, hands them over), any SSRC. Replay protection on receive. Protect and unprotect may run
/// on different threads; each direction is serialised by its own lock.
public final class SRTPSession: @unchecked Sendable {
    public let profile: SRTPProfile
    private let outbound = Mutex(())
    private let inbound = Mutex(())
    private let outboundHandle: OpaquePointer
    private let inboundHandle: OpaquePointer

    /// - Parameter replayWindow: packets of reordering tolerated on receive (64...32768).
    public init(
        profile: SRTPProfile, localKey: [UInt8], localSalt: [UInt8], remoteKey: [UInt8],
        remoteSalt: [UInt8], replayWindow: Int = 1024
    ) throws(SRTPError) {
        let initialised = SRTPLibrary.initialisation
        guard initialised == 0 else { throw .libraryFailure(code: initialised) }
        for key in [localKey, remoteKey] where key.count != profile.keyLength {
            throw .invalidKeyLength(expected: profile.keyLength, actual: key.count)
        }
        for salt in [localSalt, remoteSalt] where salt.count != profile.saltLength {
            throw .invalidSaltLength(expected: profile.saltLength, actual: salt.count)
        }
        let window = min(max(replayWindow, 64), 32_768)
        let out = try Self.create(profile: profile, material: localKey + localSalt, direction: ssrc_any_outbound, window: window)
        let inb: OpaquePointer
        do {
            inb = try Self.create(profile: profile, material: remoteKey + remoteSalt, direction: ssrc_any_inbound, window: window)
        } catch {
            srtp_dealloc(out)
            throw error
        }
        self.profile = profile
        outboundHandle = out
        inboundHandle = inb
    }

    deinit {
        srtp_dealloc(outboundHandle)
        srtp_dealloc(inboundHandle)
    }

    private static func create(
        profile: SRTPProfile, material: [UInt8], direction: srtp_ssrc_type_t,
        window: Int
    ) throws(SRTPError) -> OpaquePointer {
        var policy = srtp_policy_t()
        switch profile {
        case .aeadAES128GCM:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        case .aes128CMHMACSHA1_80:
            srtp_crypto_policy_set_rtp_default(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        }
        policy.ssrc.type = direction
        policy.window_size = UInt(window)
        policy.allow_repeat_tx = 0
        var key = material
        var session: srtp_t?
        let status = key.withUnsafeMutableBufferPointer { k -> srtp_err_status_t in
            policy.key = k.baseAddress
            return srtp_create(&session, &policy)
        }
        // libsrtp has copied the key material into its own context.
        for i in key.indices { key[i] = 0 }
        guard status == srtp_err_status_ok, let session else { throw Self.error(status) }
        return session
    }

    static func error(_ status: srtp_err_status_t) -> SRTPError {
        switch status {
        case srtp_err_status_replay_fail: .replayed
        case srtp_err_status_replay_old: .replayTooOld
        case srtp_err_status_auth_fail: .authenticationFailed
        case srtp_err_status_parse_err, srtp_err_status_bad_param, srtp_err_status_bad_mki: .malformedPacket
        default: .libraryFailure(code: Int32(status.rawValue))
        }
    }

    private typealias Operation = (srtp_t?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> srtp_err_status_t

    private func run(
        _ packet: UnsafeRawBufferPointer, minimum: Int, extra: Int, context: OpaquePointer, lock: borrowing Mutex<Void>,
        _ op: Operation
    ) throws(SRTPError) -> [UInt8] {
        guard packet.count >= minimum else { throw .packetTooShort(length: packet.count) }
        // One allocation with room for the trailer; copied with memcpy rather than element by element.
        var buffer = [UInt8](unsafeUninitializedCapacity: packet.count + extra) { storage, initialized in
            if let s = packet.baseAddress, let d = storage.baseAddress {
                UnsafeMutableRawPointer(d).copyMemory(from: s, byteCount: packet.count)
            }
            if let d = storage.baseAddress { (d + packet.count).initialize(repeating: 0, count: extra) }
            initialized = packet.count + extra
        }
        var length = Int32(packet.count)
        let status = lock.withLock { _ in
            buffer.withUnsafeMutableBytes { op(context, $0.baseAddress, &length) }
        }
        guard status == srtp_err_status_ok else { throw Self.error(status) }
        buffer.removeSubrange(Int(length)...)
        return buffer
    }

    /// RTP -> SRTP.
    public func protect(_ rtp: [UInt8]) throws(SRTPError) -> [UInt8] {
        try rtp.withUnsafeBytes { bytes in Result { () throws(SRTPError) in try protect(bytes) } }.get()
    }

    /// The same, reading a borrowed buffer (one copy, into the returned packet).
    public func protect(_ rtp: UnsafeRawBufferPointer) throws(SRTPError) -> [UInt8] {
        try run(rtp, minimum: 12, extra: SRTPLibrary.trailerRoom, context: outboundHandle, lock: outbound) { srtp_protect($0, $1, $2) }
    }

    /// SRTP -> RTP, checking authentication and replay.
    public func unprotect(_ srtp: [UInt8]) throws(SRTPError) -> [UInt8] {
        try srtp.withUnsafeBytes { bytes in Result { () throws(SRTPError) in try unprotect(bytes) } }.get()
    }

    /// The same, reading a borrowed buffer (one copy, into the returned packet).
    public func unprotect(_ srtp: UnsafeRawBufferPointer) throws(SRTPError) -> [UInt8] {
        try run(srtp, minimum: 12, extra: 0, context: inboundHandle, lock: inbound) { srtp_unprotect($0, $1, $2) }
    }

    /// RTCP -> SRTCP.
    public func protectRTCP(_ rtcp: [UInt8]) throws(SRTPError) -> [UInt8] {
        try rtcp.withUnsafeBytes { bytes in Result { () throws(SRTPError) in try protectRTCP(bytes) } }.get()
    }

    /// The same, reading a borrowed buffer.
    public func protectRTCP(_ rtcp: UnsafeRawBufferPointer) throws(SRTPError) -> [UInt8] {
        try run(rtcp, minimum: 8, extra: SRTPLibrary.trailerRoom, context: outboundHandle, lock: outbound) { srtp_protect_rtcp($0, $1, $2) }
    }

    /// SRTCP -> RTCP, checking authentication and replay.
    public func unprotectRTCP(_ srtcp: [UInt8]) throws(SRTPError) -> [UInt8] {
        try srtcp.withUnsafeBytes { bytes in Result { () throws(SRTPError) in try unprotectRTCP(bytes) } }.get()
    }

    /// The same, reading a borrowed buffer.
    public func unprotectRTCP(_ srtcp: UnsafeRawBufferPointer) throws(SRTPError) -> [UInt8] {
        try run(srtcp, minimum: 8, extra: 0, context: inboundHandle, lock: inbound) { srtp_unprotect_rtcp($0, $1, $2) }
    }
}
