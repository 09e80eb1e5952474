import XMLModel

/// The condition of a `<reason/>` (XEP-0166 §7.4).
public enum ReasonCondition: Sendable, Hashable {
    /// The session is replaced by the one named by `sid`.
    case alternativeSession(sid: String)
    case busy, cancel, connectivityError, decline, expired, failedApplication, failedTransport
    case generalError, gone, incompatibleParameters, mediaError, securityError, success, timeout
    case unsupportedApplications, unsupportedTransports

    /// The element name of the condition.
    public var name: String {
        switch self {
        case .alternativeSession: "alternative-session"
        case .busy: "busy"
        case .cancel: "cancel"
        case .connectivityError: "connectivity-error"
        case .decline: "decline"
        case .expired: "expired"
        case .failedApplication: "failed-application"
        case .failedTransport: "failed-transport"
        case .generalError: "general-error"
        case .gone: "gone"
        case .incompatibleParameters: "incompatible-parameters"
        case .mediaError: "media-error"
        case .securityError: "security-error"
        case .success: "success"
        case .timeout: "timeout"
        case .unsupportedApplications: "unsupported-applications"
        case .unsupportedTransports: "unsupported-transports"
        }
    }

    static let simple: [String: ReasonCondition] = Dictionary(
        uniqueKeysWithValues: [
            ReasonCondition.busy, .cancel, .connectivityError, .decline, .expired, .failedApplication, .failedTransport,
            .generalError, .gone, .incompatibleParameters, .mediaError, .securityError, .success, .timeout,
            .unsupportedApplications, .unsupportedTransports,
        ].map { ($0.name, $0) })

    public init?(name: String) {
        guard let c = Self.simple[name] else { return nil }
        self = c
    }
}

/// Why a session or content ends, `<reason><condition/><text/>...</reason>` (XEP-0166 §7.4);
/// application-specific children (e.g. XEP-0167 `<invalid-crypto/>`) are kept verbatim.
public struct Reason: Sendable, Hashable {
    public var condition: ReasonCondition
    public var text: String?
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(_ condition: ReasonCondition, text: String? = nil, extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []) {
        self.condition = condition
        self.text = text
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    public init(element: XMLElement) throws(JingleParseError) {
        let r = try ElementReader(element, name: "reason", namespace: JingleNamespace.jingle)
        extraAttributes = r.unknownAttributes
        var condition: ReasonCondition? = nil
        text = nil
        extraChildren = []
        for c in element.elements {
            if c.namespace == JingleNamespace.jingle, c.name == "text", text == nil {
                text = c.text
            } else if c.namespace == JingleNamespace.jingle, condition == nil, c.name == "alternative-session" {
                guard let sid = c.child("sid", namespace: JingleNamespace.jingle)?.text.trimmingSpaces, !sid.isEmpty else {
                    throw .missingChild(element: "alternative-session", child: "sid")
                }
                condition = .alternativeSession(sid: String(sid))
            } else if c.namespace == JingleNamespace.jingle, condition == nil, let simple = ReasonCondition(name: c.name) {
                condition = simple
            } else if c.namespace == JingleNamespace.jingle, ReasonCondition(name: c.name) == nil, c.name != "alternative-session" {
                throw .invalidChild(element: "reason", child: c.name, detail: "not a reason condition")
            } else {
                extraChildren.append(c)
            }
        }
        guard let condition else { throw .missingChild(element: "reason", child: "condition") }
        self.condition = condition
    }

    public var element: XMLElement {
        var e = XMLElement("reason", namespace: JingleNamespace.jingle, ordered: [], extra: extraAttributes)
        switch condition {
        case .alternativeSession(let sid):
            e.append(
                XMLElement(
                    "alternative-session", namespace: JingleNamespace.jingle,
                    children: [XMLElement("sid", namespace: JingleNamespace.jingle, text: sid)]))
        default:
            e.append(XMLElement(condition.name, namespace: JingleNamespace.jingle))
        }
        if let text { e.append(XMLElement("text", namespace: JingleNamespace.jingle, text: text)) }
        e.append(contentsOf: extraChildren)
        return e
    }
}
