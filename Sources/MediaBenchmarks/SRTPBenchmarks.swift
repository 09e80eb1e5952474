import CSRTP
import Media
import Transport

extension MediaBenchmarks {
    /// SRTP protect and unprotect of an RTP packet with a 160-byte payload (20 ms of G.711-sized
    /// data; an Opus packet is smaller): `SRTPSession` against direct libsrtp2 calls.
    public static func srtp(profile: SRTPProfile, iterations: Int = 5000) throws(SRTPError) -> (protect: Result, unprotect: Result) {
        let key = [UInt8](repeating: 7, count: profile.keyLength)
        let salt = [UInt8](repeating: 9, count: profile.saltLength)
        let session = try SRTPSession(profile: profile, localKey: key, localSalt: salt, remoteKey: key, remoteSalt: salt)
        func packet(_ seq: Int) -> [UInt8] {
            [0x80, 111, UInt8((seq >> 8) & 0xFF), UInt8(seq & 0xFF), 0, 0, 0, 0, 1, 2, 3, 4]
                + [UInt8](repeating: 0x55, count: 160)
        }
        let plain = (0..<iterations).map(packet)
        var protected: [[UInt8]] = []
        protected.reserveCapacity(iterations)
        let wrapperProtect = try time { () throws(SRTPError) in
            for p in plain { protected.append(try session.protect(p)) }
        }
        let wrapperUnprotect = try time { () throws(SRTPError) in
            for p in protected { _ = try session.unprotect(p) }
        }

        // The same work straight through libsrtp2 with preallocated buffers.
        func raw(_ type: srtp_ssrc_type_t) -> srtp_t? {
            var policy = srtp_policy_t()
            switch profile {
            case .aeadAES128GCM:
                srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
                srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
            case .aes128CMHMACSHA1_80:
                srtp_crypto_policy_set_rtp_default(&policy.rtp)
                srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
            }
            policy.ssrc.type = type
            policy.window_size = 1024
            var material = key + salt
            var ctx: srtp_t?
            _ = material.withUnsafeMutableBufferPointer { m in
                policy.key = m.baseAddress
                return srtp_create(&ctx, &policy)
            }
            return ctx
        }
        guard let sender = raw(ssrc_any_outbound), let receiver = raw(ssrc_any_inbound) else {
            throw .libraryFailure(code: -1)
        }
        defer { srtp_dealloc(sender); srtp_dealloc(receiver) }
        var buffer = [UInt8](repeating: 0, count: 2048)
        var rawProtected: [[UInt8]] = []
        rawProtected.reserveCapacity(iterations)
        let rawProtect = time {
            for p in plain {
                var length = Int32(p.count)
                buffer.withUnsafeMutableBufferPointer { b in
                    p.withUnsafeBufferPointer { b.baseAddress!.update(from: $0.baseAddress!, count: p.count) }
                    _ = srtp_protect(sender, b.baseAddress, &length)
                }
                rawProtected.append(Array(buffer[0..<Int(length)]))
            }
        }
        let rawUnprotect = time {
            for p in rawProtected {
                var length = Int32(p.count)
                buffer.withUnsafeMutableBufferPointer { b in
                    p.withUnsafeBufferPointer { b.baseAddress!.update(from: $0.baseAddress!, count: p.count) }
                    _ = srtp_unprotect(receiver, b.baseAddress, &length)
                }
            }
        }
        return (
            Result(name: "srtp protect \(profile)", iterations: iterations, wrapper: wrapperProtect, raw: rawProtect),
            Result(name: "srtp unprotect \(profile)", iterations: iterations, wrapper: wrapperUnprotect, raw: rawUnprotect)
        )
    }
}
