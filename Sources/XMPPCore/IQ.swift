import XMLModel

/// An IQ stanza (RFC 6120 §8.2.3): a request (`get`/`set`) with one payload, or its `result`/`error`.
public struct IQ: Sendable, Hashable {
    public enum IQType: String, Sendable, Hashable { case get, set, result, error }

    public var type: IQType
    public var id: String
    public var from: JID?
    public var to: JID?
    /// The request's single payload, or a result's optional one.
    public var payload: XMLElement?
    public var error: StanzaError?

    public init(type: IQType, id: String, from: JID? = nil, to: JID? = nil, payload: XMLElement? = nil, error: StanzaError? = nil) {
        self.type = type
        self.id = id
        self.from = from
        self.to = to
        self.payload = payload
        self.error = error
    }

    /// Parses an `<iq/>` element; nil when it is not one or lacks `type`/`id` or has an unparseable address.
    public init?(element: XMLElement) {
        guard element.name == "iq", element.namespace == XMPPNamespace.client,
            let type = element.attribute("type").flatMap(IQType.init(rawValue:)),
            let id = element.attribute("id")
        else { return nil }
        self.type = type
        self.id = id
        if let f = element.attribute("from") { guard let j = JID(f) else { return nil }; from = j } else { from = nil }
        if let t = element.attribute("to") { guard let j = JID(t) else { return nil }; to = j } else { to = nil }
        var payload: XMLElement? = nil
        var error: StanzaError? = nil
        for child in element.elements {
            if child.name == "error", child.namespace == XMPPNamespace.client, type == .error {
                error = StanzaError(element: child)
            } else if payload == nil {
                payload = child
            }
        }
        self.payload = payload
        self.error = error
    }

    public var element: XMLElement {
        var e = XMLElement("iq", namespace: XMPPNamespace.client)
        e.setAttribute("type", type.rawValue)
        e.setAttribute("id", id)
        if let from { e.setAttribute("from", from.description) }
        if let to { e.setAttribute("to", to.description) }
        if let payload { e.append(payload) }
        if let error { e.append(error.element) }
        return e
    }

    /// The empty result answering this request (RFC 6120 §8.2.3).
    public func result(payload: XMLElement? = nil) -> IQ {
        IQ(type: .result, id: id, from: to, to: from, payload: payload)
    }

    /// The error answering this request; the request's payload is not echoed.
    public func error(_ error: StanzaError) -> IQ {
        IQ(type: .error, id: id, from: to, to: from, error: error)
    }
}
