import EngineTime
import STUN

/// The credentials a request was authenticated with.
struct AuthContext {
    let username: String
    let key: [UInt8]
    let integrity: IntegrityAlgorithms
    var quotaName: String? = nil
    /// What `user-quota` counts under (a REST username's name part).
    var quotaKey: String { quotaName ?? username }
}

enum AuthOutcome {
    case accepted(AuthContext)
    case reject([TURNServerAction])
}

extension TURNServerEngine {
    /// The long-term credential mechanism, server side (RFC 8489 §9.2.4), with password
    /// algorithms (§9.2.4 steps on PASSWORD-ALGORITHM(S)) and USERHASH (§14.4).
    /// `wallClock` is for TURN REST usernames' expiry only; everything else goes by `now`.
    mutating func authenticate(_ request: STUNMessage, from tuple: FiveTuple, now: EngineInstant, wallClock: UnixTime) -> AuthOutcome {
        let offered: [PasswordAlgorithm] = [.md5, .sha256]
        func challenge(_ error: STUNErrorCode) -> [STUNAttribute] {
            [.realm(credentials.realm), .nonce(nonces.issue(for: tuple.client.ip, now: now)), .passwordAlgorithms(offered)]
        }
        // Every answer here goes out without integrity: rate-limited per source (reflection).
        func fail(_ error: STUNErrorCode, _ reason: AuthFailure, username: String?, challengeAgain: Bool = true) -> AuthOutcome {
            if reason != .staleNonce { statistics.authFailures += 1 }
            let extra = challengeAgain ? challenge(error) : []
            var actions = unauthenticatedReply(errorResponse(to: request, error, extra: extra, key: nil), to: tuple, now: now)
            // One source cannot flood the log: its lines are rate-limited (all are counted).
            if authFailureLog.allow(tuple.client.ip, now: now) {
                actions.append(.event(.authenticationFailed(tuple, username: username.map(LogText.escape), reason: reason)))
            } else {
                statistics.authFailureEventsSuppressed += 1
            }
            return .reject(actions)
        }
        guard let integrity = request.integrityAlgorithm else {
            // First contact: challenge with REALM and NONCE (not counted as a failure).
            return .reject(
                unauthenticatedReply(
                    errorResponse(to: request, .unauthenticated, extra: challenge(.unauthenticated), key: nil),
                    to: tuple, now: now))
        }
        var username = request.username
        if username == nil, let hash = request.userhash { username = credentials.username(forHash: hash) }
        guard request.realm != nil, let nonce = request.nonce, request.username != nil || request.userhash != nil else {
            return fail(.badRequest, .missingAttributes, username: username, challengeAgain: false)
        }
        guard request.realm == credentials.realm else {
            return fail(.unauthenticated, .unknownUser, username: username)
        }
        switch nonces.check(nonce, for: tuple.client.ip, now: now) {
        case .valid: break
        case .stale, .invalid: return fail(.staleNonce, .staleNonce, username: username)
        }
        // Password algorithm negotiation (§9.2.4): both present and matching, or neither (MD5).
        var algorithm = PasswordAlgorithm.md5
        switch (request.passwordAlgorithms, request.passwordAlgorithm) {
        case (nil, nil):
            break
        case (let list?, let chosen?):
            guard list == offered, offered.contains(chosen) else {
                return fail(.badRequest, .badPasswordAlgorithm, username: username, challengeAgain: false)
            }
            algorithm = chosen
        default:
            return fail(.badRequest, .badPasswordAlgorithm, username: username, challengeAgain: false)
        }
        guard let name = username else { return fail(.unauthenticated, .unknownUser, username: nil) }
        switch credentials.keys(for: name, algorithm: algorithm, wallClock: wallClock) {
        case .unknownUser:
            return fail(.unauthenticated, .unknownUser, username: name)
        case .expired:
            return fail(.unauthenticated, .expiredCredential, username: name)
        case .keys(let keys):
            for key in keys {
                if case .valid = request.verifyIntegrity(key: key) {
                    return .accepted(
                        AuthContext(
                            username: name, key: key, integrity: integrity,
                            quotaName: credentials.quotaName(for: name)))
                }
            }
            return fail(.unauthenticated, .badIntegrity, username: name)
        }
    }
}
