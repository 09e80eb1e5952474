import CryptoPrimitives

/// The client side of SCRAM (RFC 5802 §3, §5), for SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 7677), without
/// channel binding (GS2 header `n,,`). The client nonce can be injected so the RFC examples reproduce.
///
/// Steps: `clientFirstMessage`, then `clientFinalMessage(serverFirst:)`, then `verifyServerFinal(_:)`;
/// a server signature that does not verify is an error, because only a server that knows the
/// password can compute it.
public struct SCRAMClient: Sendable {
    /// The largest iteration count accepted from a server, so a hostile server cannot make us spin.
    public static let maxIterations = 1_000_000

    public let algorithm: DigestAlgorithm
    private let username: String
    private let password: String
    private let clientNonce: String
    private var clientFirstBare: String
    private var expectedServerSignature: [UInt8]? = nil
    /// True once the server's signature has been checked.
    public private(set) var serverVerified = false

    /// - Parameters:
    ///   - algorithm: `.sha1` or `.sha256`.
    ///   - username: the authentication identity (for XMPP, the JID's localpart).
    ///   - clientNonce: the printable nonce; random when nil.
    public init(algorithm: DigestAlgorithm, username: String, password: String, clientNonce: String? = nil) {
        self.algorithm = algorithm
        self.username = username
        self.password = password
        self.clientNonce = clientNonce ?? SecureRandom.identifier(length: 24)
        self.clientFirstBare = "n=\(SCRAMClient.saslName(username)),r=\(self.clientNonce)"
    }

    /// The GS2 header: no channel binding, no authorization identity (RFC 5802 §7).
    public static let gs2Header = "n,,"

    /// Escapes `=` and `,` in a username as `=3D` and `=2C` (RFC 5802 §5.1, the `saslname` rule).
    public static func saslName(_ name: String) -> String {
        name.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
    }

    /// `client-first-message`.
    public var clientFirstMessage: String { SCRAMClient.gs2Header + clientFirstBare }

    /// Computes `client-final-message` from the server's `server-first-message`.
    public mutating func clientFinalMessage(serverFirst: String) throws(XMPPError) -> String {
        let attributes = try SCRAMClient.attributes(serverFirst)
        guard let first = attributes.first, first.key != "m" else {
            throw .authentication(reason: "SCRAM server-first-message asks for an unsupported extension")
        }
        if let e = attributes.first(where: { $0.key == "e" }) {
            throw .authentication(reason: "SCRAM server error: \(e.value)")
        }
        guard let nonce = attributes.first(where: { $0.key == "r" })?.value else {
            throw .authentication(reason: "SCRAM server-first-message has no nonce")
        }
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else {
            throw .authentication(reason: "SCRAM server nonce does not extend the client nonce")
        }
        guard let saltText = attributes.first(where: { $0.key == "s" })?.value,
            let salt = Base64.decode(saltText), !salt.isEmpty
        else {
            throw .authentication(reason: "SCRAM server-first-message has no valid salt")
        }
        guard let iterationText = attributes.first(where: { $0.key == "i" })?.value,
            let iterations = Int(iterationText), iterations > 0
        else {
            throw .authentication(reason: "SCRAM server-first-message has no valid iteration count")
        }
        guard iterations <= SCRAMClient.maxIterations else {
            throw .authentication(reason: "SCRAM iteration count \(iterations) above the limit of \(SCRAMClient.maxIterations)")
        }
        let channelBinding = Base64.encode(Array(SCRAMClient.gs2Header.utf8))
        let withoutProof = "c=\(channelBinding),r=\(nonce)"
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)

        let prepared = try SASLprep.prepare(password)
        let salted = Digest.pbkdf2(
            algorithm, password: Array(prepared.utf8), salt: salt,
            iterations: iterations, keyLength: algorithm.byteCount)
        let clientKey = Digest.hmac(algorithm, key: salted, data: Array("Client Key".utf8))
        let storedKey = Digest.hash(algorithm, clientKey)
        let clientSignature = Digest.hmac(algorithm, key: storedKey, data: authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverKey = Digest.hmac(algorithm, key: salted, data: Array("Server Key".utf8))
        expectedServerSignature = Digest.hmac(algorithm, key: serverKey, data: authMessage)
        return "\(withoutProof),p=\(Base64.encode(proof))"
    }

    /// Checks `server-final-message` (`v=...`); throws on a server error or a wrong signature.
    public mutating func verifyServerFinal(_ serverFinal: String) throws(XMPPError) {
        guard let expected = expectedServerSignature else {
            throw .authentication(reason: "SCRAM server-final-message arrived before server-first-message")
        }
        let attributes = try SCRAMClient.attributes(serverFinal)
        if let e = attributes.first(where: { $0.key == "e" }) {
            throw .authentication(reason: "SCRAM server error: \(e.value)")
        }
        guard let v = attributes.first(where: { $0.key == "v" })?.value, let signature = Base64.decode(v) else {
            throw .authentication(reason: "SCRAM server-final-message has no server signature")
        }
        guard Digest.constantTimeEqual(signature, expected) else {
            throw .authentication(reason: "server signature does not verify (the server does not know the password)")
        }
        serverVerified = true
    }

    /// Splits `a=value,b=value` into ordered pairs (RFC 5802 §7); values may contain `=`.
    static func attributes(_ message: String) throws(XMPPError) -> [(key: String, value: String)] {
        var result: [(key: String, value: String)] = []
        for part in message.split(separator: ",", omittingEmptySubsequences: false) {
            guard part.count >= 2, part[part.index(after: part.startIndex)] == "=" else {
                throw .authentication(reason: "malformed SCRAM message from server")
            }
            result.append((String(part.prefix(1)), String(part.dropFirst(2))))
        }
        return result
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        out += rest
        return out
    }
}

extension Substring {
    fileprivate func range(of target: String) -> Range<Index>? {
        guard !target.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(target) {
                return i..<index(i, offsetBy: target.count)
            }
            i = index(after: i)
        }
        return nil
    }
}
