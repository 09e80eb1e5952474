import XMLModel

/// The XEP-0167 §7 informational payloads of a `session-info`: ringing, active, hold, unhold,
/// mute and unmute (the last two optionally naming a content).
public enum RTPSessionInfo: Sendable, Hashable {
    case active
    case hold
    case unhold
    case ringing
    case mute(creator: Creator, name: ContentName?)
    case unmute(creator: Creator, name: ContentName?)

    public init?(element: XMLElement) throws(JingleParseError) {
        guard element.namespace == JingleNamespace.rtpInfo else { return nil }
        switch element.name {
        case "active": self = .active
        case "hold": self = .hold
        case "unhold": self = .unhold
        case "ringing": self = .ringing
        case "mute", "unmute":
            var r = try ElementReader(element, name: element.name, namespace: JingleNamespace.rtpInfo)
            let creator = try r.required("creator", as: Creator.self)
            let name = r.optional("name").map(ContentName.init(rawValue:))
            self = element.name == "mute" ? .mute(creator: creator, name: name) : .unmute(creator: creator, name: name)
        default: return nil
        }
    }

    public var element: XMLElement {
        switch self {
        case .active: XMLElement("active", namespace: JingleNamespace.rtpInfo)
        case .hold: XMLElement("hold", namespace: JingleNamespace.rtpInfo)
        case .unhold: XMLElement("unhold", namespace: JingleNamespace.rtpInfo)
        case .ringing: XMLElement("ringing", namespace: JingleNamespace.rtpInfo)
        case let .mute(creator, name):
            XMLElement("mute", namespace: JingleNamespace.rtpInfo, ordered: [("creator", creator.rawValue), ("name", name?.rawValue)])
        case let .unmute(creator, name):
            XMLElement("unmute", namespace: JingleNamespace.rtpInfo, ordered: [("creator", creator.rawValue), ("name", name?.rawValue)])
        }
    }
}

/// One child of a `session-info` `<jingle/>`: a known RTP info payload or anything else kept verbatim.
public enum SessionInfoPayload: Sendable, Hashable {
    case rtp(RTPSessionInfo)
    case other(XMLElement)

    public var element: XMLElement {
        switch self {
        case .rtp(let i): i.element
        case .other(let e): e
        }
    }
}
