import XMLModel

/// A SASL `<failure/>` from the server (RFC 6120 §6.5): the defined condition and optional text.
public struct SASLFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// RFC 6120 §6.5 SASL error conditions.
    public enum Condition: String, Sendable, Hashable, CaseIterable {
        case aborted, accountDisabled = "account-disabled", credentialsExpired = "credentials-expired"
        case encryptionRequired = "encryption-required", incorrectEncoding = "incorrect-encoding"
        case invalidAuthzid = "invalid-authzid", invalidMechanism = "invalid-mechanism"
        case malformedRequest = "malformed-request", mechanismTooWeak = "mechanism-too-weak"
        case notAuthorized = "not-authorized", temporaryAuthFailure = "temporary-auth-failure"
    }

    /// The condition; nil when the server sent none this library knows.
    public var condition: Condition?
    /// The element name the server sent, kept when it is not a defined condition.
    public var conditionName: String
    public var text: String?

    public init(_ condition: Condition, text: String? = nil) {
        self.condition = condition
        self.conditionName = condition.rawValue
        self.text = text
    }

    /// Parses `<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`.
    public init?(element: XMLElement) {
        guard element.name == "failure", element.namespace == XMPPNamespace.sasl else { return nil }
        var name = "not-authorized"
        var found: Condition? = nil
        var text: String? = nil
        var sawCondition = false
        for child in element.elements {
            if child.name == "text" { text = child.text; continue }
            if !sawCondition {
                sawCondition = true
                name = child.name
                found = Condition(rawValue: child.name)
            }
        }
        if !sawCondition { found = .notAuthorized }
        self.condition = found
        self.conditionName = name
        self.text = text
    }

    /// A hint for the person reading the error.
    var hint: String? {
        switch condition {
        case .notAuthorized: "wrong password?"
        case .accountDisabled: "the account is disabled"
        case .credentialsExpired: "the password has expired"
        case .encryptionRequired: "the server wants TLS first"
        case .mechanismTooWeak: "the server refuses this mechanism"
        case .temporaryAuthFailure: "try again later"
        default: nil
        }
    }

    public var description: String {
        var s = conditionName
        if let hint { s += " (\(hint))" }
        if let text, !text.isEmpty { s += ": \(text)" }
        return s
    }
}
