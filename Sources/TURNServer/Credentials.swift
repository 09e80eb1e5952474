import CryptoPrimitives
import STUN

/// Who may allocate: long-term users (RFC 8489 §9.2) and TURN REST shared secrets
/// (draft-uberti-behave-turn-rest-00 §2.2: username `expiry[:name]`, password
/// base64(HMAC-SHA1(secret, username))). Several secrets may be active at once for rotation.
public struct CredentialStore: Sendable {
    public private(set) var users: [String: String]
    public private(set) var secrets: [String]
    var userhashIndex: [[UInt8]: String] = [:]
    /// Long-term keys derived once per user (MD5, SHA-256): key derivation normalises strings.
    var userKeys: [String: (md5: [UInt8], sha256: [UInt8])] = [:]
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
        userKeys = [:]
        for (name, password) in users {
            userhashIndex[STUNKey.userhash(username: name, realm: realm)] = name
            userKeys[name] = (
                STUNKey.longTerm(username: name, realm: realm, password: password, algorithm: .md5),
                STUNKey.longTerm(username: name, realm: realm, password: password, algorithm: .sha256)
            )
        }
    }

    /// The REST password for `username` under `secret`.
    public static func restPassword(username: String, secret: String) -> String {
        Base64.encode(Digest.hmac(.sha1, key: Array(secret.utf8), data: Array(username.utf8)))
    }

    /// A REST username valid until `expiry` (Unix seconds), with an optional user name.
    public static func restUsername(expiry: Int, name: String? = nil) -> String {
        name.map { "\(expiry):\($0)" } ?? "\(expiry)"
    }

    /// The name `user-quota` counts a REST username (`expiry:name`) under: its name part, so
    /// the fresh credential an XMPP server hands out each time does not start a fresh quota.
    /// Nil for long-term users and REST usernames without a name (counted by the whole name).
    func quotaName(for username: String) -> String? {
        guard userKeys[username] == nil, let colon = username.firstIndex(of: ":"), Int(username[..<colon]) != nil else { return nil }
        let name = username[username.index(after: colon)...]
        return name.isEmpty ? nil : String(name)
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

    /// Candidate long-term keys for `username` under `algorithm`; a REST username has expired
    /// once `wallClock` reaches its expiry.
    func keys(for username: String, algorithm: PasswordAlgorithm, wallClock: UnixTime) -> Lookup {
        if let keys = userKeys[username] {
            return .keys([algorithm == .sha256 ? keys.sha256 : keys.md5])
        }
        guard !secrets.isEmpty else { return .unknownUser }
        let expiryText = username.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        guard let expiry = Int(expiryText) else { return .unknownUser }
        guard Double(expiry) > wallClock.seconds else { return .expired }
        return .keys(
            secrets.map { secret in
                STUNKey.longTerm(
                    username: username, realm: realm,
                    password: CredentialStore.restPassword(username: username, secret: secret), algorithm: algorithm)
            })
    }
}
