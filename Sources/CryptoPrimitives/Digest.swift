internal import COpenSSL

/// The hash functions the protocols name: SHA-1 and SHA-256 for SCRAM (RFC 5802, RFC 7677),
/// STUN MESSAGE-INTEGRITY (RFC 8489 §14.5-14.6) and TURN REST credentials; MD5 for the STUN
/// long-term key (RFC 8489 §9.2.2). All computed by OpenSSL's libcrypto, the one crypto provider
/// this package links.
public enum DigestAlgorithm: Sendable, Hashable {
    case md5, sha1, sha256

    /// The digest length in bytes.
    public var byteCount: Int {
        switch self {
        case .md5: 16
        case .sha1: 20
        case .sha256: 32
        }
    }

    var evp: OpaquePointer? {
        switch self {
        case .md5: EVP_md5()
        case .sha1: EVP_sha1()
        case .sha256: EVP_sha256()
        }
    }
}

/// One-shot digests, HMACs and PBKDF2: pure functions over bytes.
public enum Digest {
    /// The digest of `data`.
    public static func hash<D: Collection<UInt8>>(_ algorithm: DigestAlgorithm, _ data: D) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: algorithm.byteCount)
        var length: UInt32 = 0
        let ok = withContiguousBytes(data) { buffer in
            out.withUnsafeMutableBufferPointer { outBuffer in
                EVP_Digest(buffer.baseAddress, buffer.count, outBuffer.baseAddress, &length, algorithm.evp, nil)
            }
        }
        precondition(ok == 1 && Int(length) == algorithm.byteCount, "EVP_Digest failed")
        return out
    }

    /// HMAC (RFC 2104) of `data` under `key`.
    public static func hmac<K: Collection<UInt8>, D: Collection<UInt8>>(_ algorithm: DigestAlgorithm, key: K, data: D) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: algorithm.byteCount)
        var length: UInt32 = 0
        withContiguousBytes(key) { keyBuffer in
            withContiguousBytes(data) { dataBuffer in
                out.withUnsafeMutableBufferPointer { outBuffer in
                    let result = HMAC(
                        algorithm.evp, keyBuffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(keyBuffer.count),
                        dataBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self), dataBuffer.count,
                        outBuffer.baseAddress, &length)
                    precondition(result != nil, "HMAC failed")
                }
            }
        }
        return out
    }

    /// PBKDF2 (RFC 8018 §5.2), SCRAM's Hi() function (RFC 5802 §2.2).
    public static func pbkdf2<P: Collection<UInt8>, S: Collection<UInt8>>(
        _ algorithm: DigestAlgorithm, password: P, salt: S,
        iterations: Int, keyLength: Int
    ) -> [UInt8] {
        precondition(iterations > 0 && keyLength > 0)
        var out = [UInt8](repeating: 0, count: keyLength)
        let ok = withContiguousBytes(password) { passwordBuffer in
            withContiguousBytes(salt) { saltBuffer in
                out.withUnsafeMutableBufferPointer { outBuffer in
                    PKCS5_PBKDF2_HMAC(
                        passwordBuffer.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(passwordBuffer.count),
                        saltBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(saltBuffer.count),
                        Int32(iterations), algorithm.evp, Int32(keyLength), outBuffer.baseAddress)
                }
            }
        }
        precondition(ok == 1, "PBKDF2 failed")
        return out
    }

    /// Constant-time comparison, for MACs and signatures.
    public static func constantTimeEqual<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for (x, y) in zip(a, b) { diff |= x ^ y }
        return diff == 0
    }
}

/// Cryptographically secure random bytes from OpenSSL's DRBG.
public enum SecureRandom {
    public static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard count > 0 else { return out }
        let ok = out.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, Int32(count)) }
        precondition(ok == 1, "RAND_bytes failed")
        return out
    }

    /// A random identifier of `length` characters from `[A-Za-z0-9]`, for stanza ids, SIDs and nonces.
    public static func identifier(length: Int = 16) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var result = [UInt8]()
        result.reserveCapacity(length)
        while result.count < length {
            for b in bytes(length * 2) where b < 248 && result.count < length {
                result.append(alphabet[Int(b) % alphabet.count])
            }
        }
        return String(decoding: result, as: UTF8.self)
    }
}

@inline(__always)
func withContiguousBytes<C: Collection<UInt8>, R>(_ c: C, _ body: (UnsafeRawBufferPointer) -> R) -> R {
    if let r = c.withContiguousStorageIfAvailable({ body(UnsafeRawBufferPointer($0)) }) { return r }
    return Array(c).withUnsafeBytes(body)
}
