import XMLModel

/// XMPP namespaces used across the package (RFC 6120, RFC 6121 and the XEPs named).
public enum XMPPNamespace {
    public static let client = "jabber:client"
    public static let stream = "http://etherx.jabber.org/streams"
    public static let streams = "urn:ietf:params:xml:ns:xmpp-streams"
    public static let stanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
    public static let tls = "urn:ietf:params:xml:ns:xmpp-tls"
    public static let sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
    public static let bind = "urn:ietf:params:xml:ns:xmpp-bind"
    public static let session = "urn:ietf:params:xml:ns:xmpp-session"
    public static let discoInfo = "http://jabber.org/protocol/disco#info"
    public static let discoItems = "http://jabber.org/protocol/disco#items"
    public static let ping = "urn:xmpp:ping"
    public static let extdisco2 = "urn:xmpp:extdisco:2"
    public static let extdisco1 = "urn:xmpp:extdisco:1"
    public static let streamManagement = "urn:xmpp:sm:3"
    public static let carbons = "urn:xmpp:carbons:2"
    public static let forward = "urn:xmpp:forward:0"
    public static let delay = "urn:xmpp:delay"
}

/// A stanza error (RFC 6120 §8.3): its type, defined condition, optional text and
/// application-specific condition (for Jingle, XEP-0166 §10's `urn:xmpp:jingle:errors:1` elements).
public struct StanzaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// RFC 6120 §8.3.2 error types.
    public enum ErrorType: String, Sendable, Hashable { case auth, cancel, `continue`, modify, wait }

    /// RFC 6120 §8.3.3 defined conditions.
    public enum Condition: String, Sendable, Hashable, CaseIterable {
        case badRequest = "bad-request", conflict, featureNotImplemented = "feature-not-implemented"
        case forbidden, gone, internalServerError = "internal-server-error", itemNotFound = "item-not-found"
        case jidMalformed = "jid-malformed", notAcceptable = "not-acceptable", notAllowed = "not-allowed"
        case notAuthorized = "not-authorized", policyViolation = "policy-violation"
        case recipientUnavailable = "recipient-unavailable", redirect
        case registrationRequired = "registration-required", remoteServerNotFound = "remote-server-not-found"
        case remoteServerTimeout = "remote-server-timeout", resourceConstraint = "resource-constraint"
        case serviceUnavailable = "service-unavailable", subscriptionRequired = "subscription-required"
        case undefinedCondition = "undefined-condition", unexpectedRequest = "unexpected-request"

        /// The error type RFC 6120 §8.3.3 gives for each condition in its examples.
        public var defaultType: ErrorType {
            switch self {
            case .badRequest, .jidMalformed, .notAcceptable, .policyViolation, .redirect, .gone: .modify
            case .forbidden, .notAuthorized, .registrationRequired, .subscriptionRequired: .auth
            case .conflict, .featureNotImplemented, .internalServerError, .itemNotFound, .notAllowed,
                .remoteServerNotFound, .serviceUnavailable, .undefinedCondition:
                .cancel
            case .recipientUnavailable, .remoteServerTimeout, .resourceConstraint, .unexpectedRequest: .wait
            }
        }
    }

    public var type: ErrorType
    public var condition: Condition
    public var text: String?
    /// An application-specific condition element, e.g. `<out-of-order xmlns='urn:xmpp:jingle:errors:1'/>`.
    public var applicationCondition: XMLElement?

    public init(_ condition: Condition, type: ErrorType? = nil, text: String? = nil, applicationCondition: XMLElement? = nil) {
        self.condition = condition
        self.type = type ?? condition.defaultType
        self.text = text
        self.applicationCondition = applicationCondition
    }

    /// Parses an `<error/>` child of a stanza; unknown conditions become `undefined-condition`.
    public init?(element: XMLElement) {
        guard element.name == "error" else { return nil }
        type = element.attribute("type").flatMap(ErrorType.init(rawValue:)) ?? .cancel
        var condition: Condition = .undefinedCondition
        var text: String? = nil
        var app: XMLElement? = nil
        for child in element.elements {
            if child.namespace == XMPPNamespace.stanzas {
                if child.name == "text" { text = child.text } else if let c = Condition(rawValue: child.name) { condition = c }
            } else if app == nil {
                app = child
            }
        }
        self.condition = condition
        self.text = text
        self.applicationCondition = app
    }

    /// The `<error/>` element (RFC 6120 §8.3.2).
    public var element: XMLElement {
        var e = XMLElement("error", namespace: XMPPNamespace.client, ["type": type.rawValue])
        e.append(XMLElement(condition.rawValue, namespace: XMPPNamespace.stanzas))
        if let text { e.append(XMLElement("text", namespace: XMPPNamespace.stanzas, text: text)) }
        if let applicationCondition { e.append(applicationCondition) }
        return e
    }

    public var description: String {
        var s = "\(type.rawValue)/\(condition.rawValue)"
        if let applicationCondition { s += " (\(applicationCondition.name))" }
        if let text, !text.isEmpty { s += ": \(text)" }
        return s
    }
}
