import CryptoPrimitives

/// The SASL mechanisms this client speaks (RFC 4422), in the names RFC 6120 §6.4.2 advertises.
public enum SASLMechanismName: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case scramSHA256 = "SCRAM-SHA-256"
    case scramSHA1 = "SCRAM-SHA-1"
    case plain = "PLAIN"

    /// Strongest first: SCRAM-SHA-256, SCRAM-SHA-1, PLAIN.
    public static let preferenceOrder: [SASLMechanismName] = [.scramSHA256, .scramSHA1, .plain]

    public var description: String { rawValue }
}

/// A SASL client exchange (RFC 4422 §3; RFC 6120 §6.4) over one mechanism: the initial response,
/// answers to challenges, and the check of the outcome data that comes with `<success/>`.
public struct SASLClient: Sendable {
    enum State: Sendable {
        case scram(SCRAMClient, sentFinal: Bool)
        case plain(sent: Bool)
    }

    public let mechanism: SASLMechanismName
    private var state: State
    private let authcid: String
    private let password: String

    /// Picks the first mechanism of `preference` the server offers. PLAIN is only chosen when TLS
    /// is established (the password would otherwise travel in the clear).
    public static func select(
        offered: [String], tlsEstablished: Bool,
        preference: [SASLMechanismName] = SASLMechanismName.preferenceOrder
    ) throws(XMPPError) -> SASLMechanismName {
        let offeredSet = Set(offered.map { $0.uppercased() })
        var plainRefused = false
        for mechanism in preference where offeredSet.contains(mechanism.rawValue) {
            if mechanism == .plain && !tlsEstablished { plainRefused = true; continue }
            return mechanism
        }
        let reason =
            plainRefused
            ? "PLAIN is refused without TLS"
            : "none of \(preference.map(\.rawValue).joined(separator: ", ")) is offered"
        throw .noUsableMechanism(offered: offered, reason: reason)
    }

    /// - Parameters:
    ///   - authcid: the authentication identity (the JID's localpart).
    ///   - clientNonce: injected SCRAM nonce for tests; random when nil.
    public init(mechanism: SASLMechanismName, authcid: String, password: String, clientNonce: String? = nil) {
        self.mechanism = mechanism
        self.authcid = authcid
        self.password = password
        switch mechanism {
        case .scramSHA256:
            state = .scram(
                SCRAMClient(algorithm: .sha256, username: authcid, password: password, clientNonce: clientNonce), sentFinal: false)
        case .scramSHA1:
            state = .scram(SCRAMClient(algorithm: .sha1, username: authcid, password: password, clientNonce: clientNonce), sentFinal: false)
        case .plain:
            state = .plain(sent: false)
        }
    }

    /// The initial response sent inside `<auth/>`.
    public mutating func initialResponse() -> [UInt8] {
        switch state {
        case .scram(let scram, _):
            return Array(scram.clientFirstMessage.utf8)
        case .plain:
            state = .plain(sent: true)
            // RFC 4616 §2: [authzid] NUL authcid NUL passwd, with an empty authzid.
            return [0] + Array(authcid.utf8) + [0] + Array(password.utf8)
        }
    }

    /// The response to a `<challenge/>`.
    public mutating func respond(to challenge: [UInt8]) throws(XMPPError) -> [UInt8] {
        switch state {
        case .scram(var scram, let sentFinal):
            guard let text = decodeUTF8(challenge) else {
                throw .authentication(reason: "SCRAM challenge is not UTF-8")
            }
            if !sentFinal {
                let final = try scram.clientFinalMessage(serverFirst: text)
                state = .scram(scram, sentFinal: true)
                return Array(final.utf8)
            }
            // Some servers send server-final-message as a challenge; it is answered with an empty response.
            try scram.verifyServerFinal(text)
            state = .scram(scram, sentFinal: true)
            return []
        case .plain:
            throw .authentication(reason: "unexpected challenge during PLAIN")
        }
    }

    /// Checks the additional data of `<success/>`; for SCRAM the server signature must verify.
    public mutating func succeed(with data: [UInt8]) throws(XMPPError) {
        switch state {
        case .scram(var scram, let sentFinal):
            if !data.isEmpty {
                guard sentFinal, let text = decodeUTF8(data) else {
                    throw .authentication(reason: "SCRAM success arrived before the exchange finished")
                }
                try scram.verifyServerFinal(text)
                state = .scram(scram, sentFinal: true)
            }
            guard case .scram(let checked, _) = state, checked.serverVerified else {
                throw .authentication(reason: "server reported success without proving it knows the password")
            }
        case .plain:
            return
        }
    }
}

/// Strict UTF-8 decoding: nil when the bytes are not valid UTF-8.
func decodeUTF8(_ bytes: [UInt8]) -> String? {
    let s = String(decoding: bytes, as: UTF8.self)
    return s.utf8.elementsEqual(bytes) ? s : nil
}
