import CryptoPrimitives
import EngineTime
import STUN

/// Stateless nonces (RFC 8489 §9.2): `obMatJos2` + security feature bits + base64(expiry ||
/// HMAC-SHA256(secret, expiry || client IP)[0..<12]). No table is kept; a nonce is valid for
/// the client address it was issued to, until it expires.
public struct NonceIssuer: Sendable {
    /// The nonce cookie RFC 8489 §9.2 defines.
    public static let cookie = "obMatJos2"
    /// Feature bits "password algorithms" and "username anonymity" set, as 4 base64 characters.
    public static let features = "wAAA"

    let secret: [UInt8]
    public let lifetime: Double

    public init(secret: [UInt8] = SecureRandom.bytes(32), lifetime: Double = 600) {
        self.secret = secret
        self.lifetime = lifetime
    }

    func mac(expiry: UInt64, client: IPAddress) -> [UInt8] {
        var input = [UInt8]()
        for shift in stride(from: 56, through: 0, by: -8) { input.append(UInt8(expiry >> UInt64(shift) & 0xFF)) }
        input += client.bytes
        return Array(Digest.hmac(.sha256, key: secret, data: input).prefix(12))
    }

    public func issue(for client: IPAddress, now: EngineInstant) -> String {
        let expiry = UInt64(max(0, now.inSeconds + lifetime))
        var body = [UInt8]()
        for shift in stride(from: 56, through: 0, by: -8) { body.append(UInt8(expiry >> UInt64(shift) & 0xFF)) }
        body += mac(expiry: expiry, client: client)
        return NonceIssuer.cookie + NonceIssuer.features + Base64.encode(body)
    }

    public enum Check: Equatable, Sendable { case valid, stale, invalid }

    public func check(_ nonce: String, for client: IPAddress, now: EngineInstant) -> Check {
        let prefix = NonceIssuer.cookie + NonceIssuer.features
        guard nonce.hasPrefix(prefix), let body = Base64.decode(String(nonce.dropFirst(prefix.count))), body.count == 20 else {
            return .invalid
        }
        var expiry: UInt64 = 0
        for i in 0..<8 { expiry = expiry << 8 | UInt64(body[i]) }
        guard Digest.constantTimeEqual(mac(expiry: expiry, client: client), body[8...]) else { return .invalid }
        return Double(expiry) > now.inSeconds ? .valid : .stale
    }
}
