import XMLModel

/// The `<stream:features/>` a server announced (RFC 6120 §4.3.2), with the features negotiation
/// needs decoded and the whole element kept for anything else.
public struct StreamFeatures: Sendable, Hashable, CustomStringConvertible {
    /// The element as received.
    public var element: XMLElement
    /// STARTTLS offered (RFC 6120 §5.4.1), and whether marked `<required/>`.
    public var startTLS: Bool
    public var startTLSRequired: Bool
    /// SASL mechanism names offered (RFC 6120 §6.4.1), in the server's order.
    public var saslMechanisms: [String]
    /// Resource binding offered (RFC 6120 §7.4).
    public var bind: Bool
    /// Legacy session establishment offered (RFC 3921 §3), and whether marked `<optional/>` (RFC 6121 appendix E).
    public var session: Bool
    public var sessionOptional: Bool
    /// XEP-0198 stream management (`urn:xmpp:sm:3`) offered.
    public var streamManagement: Bool

    public init(element: XMLElement) {
        self.element = element
        let tls = element.child("starttls", namespace: XMPPNamespace.tls)
        startTLS = tls != nil
        startTLSRequired = tls?.child("required", namespace: XMPPNamespace.tls) != nil
        saslMechanisms =
            element.child("mechanisms", namespace: XMPPNamespace.sasl)?
            .children("mechanism", namespace: XMPPNamespace.sasl).map { $0.text.trimmingSpaces } ?? []
        bind = element.child("bind", namespace: XMPPNamespace.bind) != nil
        let sessionElement = element.child("session", namespace: XMPPNamespace.session)
        session = sessionElement != nil
        sessionOptional = sessionElement?.child("optional", namespace: XMPPNamespace.session) != nil
        streamManagement = element.child("sm", namespace: XMPPNamespace.streamManagement) != nil
    }

    /// Whether the legacy session must be established before the session is ready.
    public var sessionRequired: Bool { session && !sessionOptional }

    /// Each feature as `name (namespace)`, in the server's order.
    public var featureNames: [String] {
        element.elements.map { "\($0.name) (\($0.namespace))" }
    }

    public var description: String {
        element.elements.map { child in
            child.name == "mechanisms" ? "mechanisms[\(saslMechanisms.joined(separator: ","))]" : child.name
        }.joined(separator: " ")
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s = s.dropFirst() }
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
