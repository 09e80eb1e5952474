import CryptoPrimitives
import STUN

/// Who may allocate: long-term users (RFC 8489 §9.2) and TURN REST shared secrets
/// (draft-uberti-behave-turn-rest-00 §2.2: username `expiry[:name]`, password
/// base64(HMAC-SHA1(secret, username))). Several secrets may be active at once for rotation.
public struct CredentialStore: Sendable {
    public private(set) var users: [String: String]
    public private(set) var secrets: [String]
    var userhashIndex: [[UInt8]: String] = [:]
    public let realm: String

    public init(realm: String, users: [String: String] = [:], secrets: [String] = []) {
        self.realm = realm
        self.users = users
        self.secrets = secrets
        rebuildIndex()
    }

    /// Replaces users and secrets (configuration reload).
    public mutating func replace(users: [String: String], secrets: [String]) {
        self.users = users
        self.secrets = secrets
        rebuildIndex()
    }

    mutating func rebuildIndex() {
        userhashIndex = [:]
        for name in users.keys { userhashIndex[STUNKey.userhash(username: name, realm: realm)] = name }
    }

    /// The REST password for `username` under `secret`.
    public static func restPassword(username: String, secret: String) -> String {
        Base64.encode(Digest.hmac(.sha1, key: Array(secret.utf8), data: Array(username.utf8)))
    }

    /// A REST username valid until `expiry` (Unix seconds), with an optional user name.
    public static func restUsername(expiry: Int, name: String? = nil) -> String {
        name.map { "\(expiry):\($0)" } ?? "\(expiry)"
    }

    /// The username a USERHASH stands for, if it is a configured long-term user.
    func username(forHash hash: [UInt8]) -> String? { userhashIndex[hash] }

    /// The result of looking a username up.
    enum Lookup {
        /// Candidate keys (one per matching secret or the user's password).
        case keys([[UInt8]])
        case unknownUser
        case expired
    }

    /// Candidate long-term keys for `username` under `algorithm`.
    func keys(for username: String, algorithm: PasswordAlgorithm, now: Timestamp) -> Lookup {
        if let password = users[username] {
            return .keys([STUNKey.longTerm(username: username, realm: realm, password: password, algorithm: algorithm)])
        }
        guard !secrets.isEmpty else { return .unknownUser }
        let expiryText = username.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard let expiry = Int(expiryText) else { return .unknownUser }
        guard Double(expiry) > now.seconds else { return .expired }
        return .keys(secrets.map { secret in
            STUNKey.longTerm(username: username, realm: realm,
                             password: CredentialStore.restPassword(username: username, secret: secret), algorithm: algorithm)
        })
    }
}
