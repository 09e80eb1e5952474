import XMLModel

/// One of the three stanza kinds of RFC 6120 §8.
public enum Stanza: Sendable, Hashable {
    case message(Message)
    case presence(Presence)
    case iq(IQ)

    /// Classifies a top-level stream element; nil when it is not a (well-formed) stanza.
    public init?(element: XMLElement) {
        guard element.namespace == XMPPNamespace.client else { return nil }
        switch element.name {
        case "message": guard let m = Message(element: element) else { return nil }; self = .message(m)
        case "presence": guard let p = Presence(element: element) else { return nil }; self = .presence(p)
        case "iq": guard let iq = IQ(element: element) else { return nil }; self = .iq(iq)
        default: return nil
        }
    }

    public var element: XMLElement {
        switch self {
        case .message(let m): m.element
        case .presence(let p): p.element
        case .iq(let iq): iq.element
        }
    }
}
