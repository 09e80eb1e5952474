internal import COpenSSL

/// One owner of an OpenSSL key pair and X.509 certificate (RFC 5280) made for this process:
/// ECDSA P-256 (RFC 5480), self-signed with SHA-256.
final class X509Identity {
    let key: OpaquePointer // EVP_PKEY
    let certificate: OpaquePointer // X509

    init(key: OpaquePointer, certificate: OpaquePointer) {
        self.key = key
        self.certificate = certificate
    }

    deinit {
        X509_free(certificate)
        EVP_PKEY_free(key)
    }

    /// Generates a fresh key and a self-signed certificate for `commonName` with the given
    /// subjectAltName entries (DNS names or IP literals), valid from one hour ago for `validityDays`.
    static func generate(commonName: String, subjectAlternativeNames: [String], validityDays: Int) -> Result<X509Identity, TLSError> {
        OpenSSLErrorQueue.clear()
        func failure(_ step: String) -> Result<X509Identity, TLSError> {
            .failure(.configuration(reason: "cannot generate certificate (\(step)): \(OpenSSLErrorQueue.drain(fallback: "unknown"))"))
        }
        guard !commonName.isEmpty, commonName.utf8.count <= 64 else {
            return .failure(.configuration(reason: "certificate common name must be 1-64 bytes"))
        }
        guard validityDays > 0, validityDays <= 3650 else {
            return .failure(.configuration(reason: "certificate validity must be 1-3650 days"))
        }
        guard let key = jk_EVP_EC_gen("P-256") else { return failure("P-256 key") }
        guard let certificate = X509_new() else { EVP_PKEY_free(key); return failure("X509_new") }
        let identity = X509Identity(key: key, certificate: certificate)

        guard X509_set_version(certificate, 2) == 1 else { return failure("version") }
        var serial = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&serial, Int32(serial.count)) == 1 else { return failure("serial") }
        serial[0] &= 0x7F // positive
        guard let serialNumber = BN_bin2bn(serial, Int32(serial.count), nil) else { return failure("serial") }
        defer { BN_free(serialNumber) }
        guard BN_to_ASN1_INTEGER(serialNumber, X509_get_serialNumber(certificate)) != nil else { return failure("serial") }
        guard X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) != nil,
            X509_gmtime_adj(X509_getm_notAfter(certificate), validityDays * 86_400) != nil
        else {
            return failure("validity")
        }
        guard let name = X509_get_subject_name(certificate),
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, commonName, -1, -1, 0) == 1,
            X509_set_issuer_name(certificate, name) == 1
        else {
            return failure("name")
        }
        guard X509_set_pubkey(certificate, key) == 1 else { return failure("public key") }

        var extensions: [(Int32, String)] = [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, "critical,digitalSignature,keyAgreement"),
        ]
        if !subjectAlternativeNames.isEmpty {
            let entries = subjectAlternativeNames.map { IPAddressText.isIPLiteral($0) ? "IP:\($0)" : "DNS:\($0)" }
            for value in subjectAlternativeNames where value.contains(",") || value.isEmpty {
                return .failure(.configuration(reason: "invalid subjectAltName \"\(value)\""))
            }
            extensions.append((NID_subject_alt_name, entries.joined(separator: ",")))
        }
        var v3 = X509V3_CTX()
        X509V3_set_ctx(&v3, certificate, certificate, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &v3, nid, value) else {
                return .failure(
                    .configuration(reason: "invalid certificate extension \"\(value)\": \(OpenSSLErrorQueue.drain(fallback: "rejected"))"))
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(certificate, ext, -1) == 1 else { return failure("extension") }
        }
        guard X509_sign(certificate, key, EVP_sha256()) > 0 else { return failure("signature") }
        return .success(identity)
    }

    /// The certificate's DER digest as "AB:CD:..." (RFC 8122 §5).
    func fingerprint(_ digest: OpaquePointer?) -> String {
        var bytes = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(certificate, digest, &bytes, &length) == 1 else { return "" }
        return OpenSSLText.colonHex(bytes.prefix(Int(length)))
    }

    var certificatePEM: String {
        pem { PEM_write_bio_X509($0, certificate) }
    }

    var privateKeyPEM: String {
        pem { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
    }

    private func pem(_ write: (OpaquePointer) -> Int32) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { return "" }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { return "" }
        return String(decoding: OpenSSLText.drain(memoryBIO: bio), as: UTF8.self)
    }
}
