internal import COpenSSL

/// Reading OpenSSL's per-thread error queue into one human-readable reason.
enum OpenSSLErrorQueue {
    /// Empties the queue and joins its reasons, oldest first, e.g. "certificate verify failed".
    /// Returns `fallback` when the queue was empty.
    static func drain(fallback: String) -> String {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let text = ERR_reason_error_string(code) {
                let reason = String(cString: text)
                if !reasons.contains(reason) { reasons.append(reason) }
            } else {
                var buffer = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buffer, buffer.count)
                reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        return reasons.isEmpty ? fallback : reasons.joined(separator: ": ")
    }

    static func clear() { ERR_clear_error() }
}

/// Small conversions between OpenSSL objects and Swift values.
enum OpenSSLText {
    /// Everything a memory BIO holds, as bytes.
    static func drain(memoryBIO bio: OpaquePointer) -> [UInt8] {
        let pending = Int(jk_BIO_ctrl_pending(bio))
        guard pending > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: pending)
        let read = out.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32(pending)) }
        return read > 0 ? Array(out.prefix(Int(read))) : []
    }

    /// An X.509 name in RFC 2253 form ("CN=localhost,O=Example").
    static func name(_ name: OpaquePointer?) -> String? {
        guard let name, let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, jk_XN_FLAG_RFC2253()) >= 0 else { return nil }
        return String(decoding: drain(memoryBIO: bio), as: UTF8.self)
    }

    /// Colon-separated uppercase hex, the fingerprint form of RFC 8122 §5 and XEP-0320.
    static func colonHex<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            if !out.isEmpty { out.append(UInt8(ascii: ":")) }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
