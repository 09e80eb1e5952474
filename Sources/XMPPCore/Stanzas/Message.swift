import XMLModel

/// A `<message/>` stanza (RFC 6120 §8.2.1, RFC 6121 §5.2). Children other than body, subject,
/// thread and error are kept in `payloads` and written back unchanged.
public struct Message: Sendable, Hashable {
    /// RFC 6121 §5.2.2 message types; absent means `normal`.
    public enum MessageType: String, Sendable, Hashable { case chat, error, groupchat, headline, normal }

    public var type: MessageType
    public var id: String?
    public var from: JID?
    public var to: JID?
    public var body: String?
    public var subject: String?
    public var thread: String?
    public var payloads: [XMLElement]
    public var error: StanzaError?

    public init(
        type: MessageType = .normal, id: String? = nil, from: JID? = nil, to: JID? = nil,
        body: String? = nil, subject: String? = nil, thread: String? = nil,
        payloads: [XMLElement] = [], error: StanzaError? = nil
    ) {
        self.type = type
        self.id = id
        self.from = from
        self.to = to
        self.body = body
        self.subject = subject
        self.thread = thread
        self.payloads = payloads
        self.error = error
    }

    /// Parses a `<message/>`; nil when it is not one or an address does not parse.
    public init?(element: XMLElement) {
        guard element.name == "message", element.namespace == XMPPNamespace.client else { return nil }
        guard let addresses = StanzaAddresses(element) else { return nil }
        let typeText = element.attribute("type") ?? "normal"
        type = MessageType(rawValue: typeText) ?? .normal
        id = element.attribute("id")
        from = addresses.from
        to = addresses.to
        body = nil
        subject = nil
        thread = nil
        payloads = []
        error = nil
        for child in element.elements {
            guard child.namespace == XMPPNamespace.client else { payloads.append(child); continue }
            switch child.name {
            case "body" where body == nil: body = child.text
            case "subject" where subject == nil: subject = child.text
            case "thread" where thread == nil: thread = child.text
            case "error" where error == nil: error = StanzaError(element: child)
            default: payloads.append(child)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement("message", namespace: XMPPNamespace.client)
        if type != .normal { e.setAttribute("type", type.rawValue) }
        e.setAttribute("id", id)
        e.setAttribute("from", from?.description)
        e.setAttribute("to", to?.description)
        if let subject { e.append(XMLElement("subject", namespace: XMPPNamespace.client, text: subject)) }
        if let body { e.append(XMLElement("body", namespace: XMPPNamespace.client, text: body)) }
        if let thread { e.append(XMLElement("thread", namespace: XMPPNamespace.client, text: thread)) }
        for payload in payloads { e.append(payload) }
        if let error { e.append(error.element) }
        return e
    }

    /// The first payload with this name and namespace.
    public func payload(_ name: String, namespace: String) -> XMLElement? {
        payloads.first { $0.name == name && $0.namespace == namespace }
    }
}

/// The `from`/`to` attributes of a stanza, both parsed; nil when either is present but malformed.
struct StanzaAddresses {
    var from: JID?
    var to: JID?

    init?(_ element: XMLElement) {
        if let f = element.attribute("from") { guard let j = JID(f) else { return nil }; from = j }
        if let t = element.attribute("to") { guard let j = JID(t) else { return nil }; to = j }
    }
}
