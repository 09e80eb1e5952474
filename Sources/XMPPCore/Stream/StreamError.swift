import XMLModel

/// A stream error (RFC 6120 §4.9): the defined condition of §4.9.3, optional text and an
/// application-specific condition. Receiving one ends the stream.
public struct StreamError: Error, Sendable, Hashable, CustomStringConvertible {
    /// RFC 6120 §4.9.3 defined stream error conditions.
    public enum Condition: String, Sendable, Hashable, CaseIterable {
        case badFormat = "bad-format", badNamespacePrefix = "bad-namespace-prefix", conflict
        case connectionTimeout = "connection-timeout", hostGone = "host-gone", hostUnknown = "host-unknown"
        case improperAddressing = "improper-addressing", internalServerError = "internal-server-error"
        case invalidFrom = "invalid-from", invalidNamespace = "invalid-namespace", invalidXML = "invalid-xml"
        case notAuthorized = "not-authorized", notWellFormed = "not-well-formed", policyViolation = "policy-violation"
        case remoteConnectionFailed = "remote-connection-failed", reset, resourceConstraint = "resource-constraint"
        case restrictedXML = "restricted-xml", seeOtherHost = "see-other-host", systemShutdown = "system-shutdown"
        case undefinedCondition = "undefined-condition", unsupportedEncoding = "unsupported-encoding"
        case unsupportedFeature = "unsupported-feature", unsupportedStanzaType = "unsupported-stanza-type"
        case unsupportedVersion = "unsupported-version"
    }

    public var condition: Condition
    public var text: String?
    /// For `see-other-host`, the character data of the condition element (the new host).
    public var conditionText: String?

    public init(_ condition: Condition, text: String? = nil, conditionText: String? = nil) {
        self.condition = condition
        self.text = text
        self.conditionText = conditionText
    }

    /// Parses `<stream:error/>`; unknown conditions become `undefined-condition` (RFC 6120 §4.9.3.21).
    public init?(element: XMLElement) {
        guard element.name == "error", element.namespace == XMPPNamespace.stream else { return nil }
        var condition = Condition.undefinedCondition
        var text: String? = nil
        var conditionText: String? = nil
        for child in element.elements where child.namespace == XMPPNamespace.streams {
            if child.name == "text" {
                text = child.text
            } else if let c = Condition(rawValue: child.name) {
                condition = c
                let t = child.text
                if !t.isEmpty { conditionText = t }
            }
        }
        self.init(condition, text: text, conditionText: conditionText)
    }

    /// The `<stream:error/>` element.
    public var element: XMLElement {
        var e = XMLElement("error", namespace: XMPPNamespace.stream)
        e.append(XMLElement(condition.rawValue, namespace: XMPPNamespace.streams, text: conditionText))
        if let text { e.append(XMLElement("text", namespace: XMPPNamespace.streams, text: text)) }
        return e
    }

    /// The error as written inside an open stream, with the `stream:` prefix the header declared.
    public var serialized: String {
        var out = "<stream:error>"
        out += XMLSerializer.serialize(XMLElement(condition.rawValue, namespace: XMPPNamespace.streams, text: conditionText))
        if let text { out += XMLSerializer.serialize(XMLElement("text", namespace: XMPPNamespace.streams, text: text)) }
        return out + "</stream:error>"
    }

    public var description: String {
        var s = condition.rawValue
        if let conditionText { s += " (\(conditionText))" }
        if let text, !text.isEmpty { s += ": \(text)" }
        return s
    }
}
