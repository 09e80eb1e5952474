import XMLModel

/// A `<presence/>` stanza (RFC 6120 §8.2.2, RFC 6121 §4.7): availability, show, status, priority.
/// Other children are kept in `payloads`.
public struct Presence: Sendable, Hashable {
    /// RFC 6121 §4.7.1 presence types; `available` is the absence of the attribute.
    public enum PresenceType: String, Sendable, Hashable {
        case available, unavailable, subscribe, subscribed, unsubscribe, unsubscribed, probe, error
    }

    /// RFC 6121 §4.7.2.1 availability sub-states.
    public enum Show: String, Sendable, Hashable { case away, chat, dnd, xa }

    public var type: PresenceType
    public var id: String?
    public var from: JID?
    public var to: JID?
    public var show: Show?
    public var status: String?
    /// RFC 6121 §4.7.2.3: -128...127, 0 when absent.
    public var priority: Int8
    public var payloads: [XMLElement]
    public var error: StanzaError?

    public init(
        type: PresenceType = .available, id: String? = nil, from: JID? = nil, to: JID? = nil,
        show: Show? = nil, status: String? = nil, priority: Int8 = 0,
        payloads: [XMLElement] = [], error: StanzaError? = nil
    ) {
        self.type = type
        self.id = id
        self.from = from
        self.to = to
        self.show = show
        self.status = status
        self.priority = priority
        self.payloads = payloads
        self.error = error
    }

    /// Parses a `<presence/>`; nil when it is not one, the type is unknown or an address does not parse.
    /// An out-of-range or non-numeric priority is read as 0.
    public init?(element: XMLElement) {
        guard element.name == "presence", element.namespace == XMPPNamespace.client,
            let addresses = StanzaAddresses(element)
        else { return nil }
        if let t = element.attribute("type") {
            guard let parsed = PresenceType(rawValue: t), parsed != .available else { return nil }
            type = parsed
        } else {
            type = .available
        }
        id = element.attribute("id")
        from = addresses.from
        to = addresses.to
        show = nil
        status = nil
        priority = 0
        payloads = []
        error = nil
        for child in element.elements {
            guard child.namespace == XMPPNamespace.client else { payloads.append(child); continue }
            switch child.name {
            case "show" where show == nil: show = Show(rawValue: child.text.trimmingSpaces)
            case "status" where status == nil: status = child.text
            case "priority": priority = Int8(child.text.trimmingSpaces) ?? 0
            case "error" where error == nil: error = StanzaError(element: child)
            default: payloads.append(child)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement("presence", namespace: XMPPNamespace.client)
        if type != .available { e.setAttribute("type", type.rawValue) }
        e.setAttribute("id", id)
        e.setAttribute("from", from?.description)
        e.setAttribute("to", to?.description)
        if let show { e.append(XMLElement("show", namespace: XMPPNamespace.client, text: show.rawValue)) }
        if let status { e.append(XMLElement("status", namespace: XMPPNamespace.client, text: status)) }
        if priority != 0 { e.append(XMLElement("priority", namespace: XMPPNamespace.client, text: String(priority))) }
        for payload in payloads { e.append(payload) }
        if let error { e.append(error.element) }
        return e
    }
}
