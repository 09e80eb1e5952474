import XMLModel
import XMPPCore

/// A Jingle action, `<jingle xmlns='urn:xmpp:jingle:1' action sid initiator responder/>`
/// (XEP-0166 §7.1), with its contents, reason, XEP-0338 groups and session-info payloads.
/// (Named `JingleElement`, not `Jingle`, so that `Jingle.X` keeps naming the module's types.)
public struct JingleElement: Sendable, Hashable {
    public var action: JingleAction
    public var sid: String
    public var initiator: JID?
    public var responder: JID?
    public var contents: [Content]
    public var reason: Reason?
    public var groups: [Group]
    /// The payloads of a `session-info` (XEP-0166 §7.2.14, XEP-0167 §7); empty is a ping.
    public var info: [SessionInfoPayload]
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(
        action: JingleAction, sid: String, initiator: JID? = nil, responder: JID? = nil, contents: [Content] = [],
        reason: Reason? = nil, groups: [Group] = [], info: [SessionInfoPayload] = [],
        extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []
    ) {
        self.action = action
        self.sid = sid
        self.initiator = initiator
        self.responder = responder
        self.contents = contents
        self.reason = reason
        self.groups = groups
        self.info = info
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "jingle", namespace: JingleNamespace.jingle)
        action = try r.required("action", as: JingleAction.self)
        sid = try r.required("sid")
        guard !sid.isEmpty else { throw .invalidAttribute(element: "jingle", attribute: "sid", value: sid) }
        initiator = try Self.jid(&r, "initiator")
        responder = try Self.jid(&r, "responder")
        extraAttributes = r.unknownAttributes
        contents = []
        reason = nil
        groups = []
        info = []
        extraChildren = []
        for c in element.elements {
            switch (c.namespace, c.name) {
            case (JingleNamespace.jingle, "content"): contents.append(try Content(element: c))
            case (JingleNamespace.jingle, "reason"):
                guard reason == nil else { throw .invalidChild(element: "jingle", child: "reason", detail: "more than one") }
                reason = try Reason(element: c)
            case (JingleNamespace.grouping, "group"): groups.append(try Group(element: c))
            default:
                if action == .sessionInfo {
                    if let i = try RTPSessionInfo(element: c) { info.append(.rtp(i)) } else { info.append(.other(c)) }
                } else {
                    extraChildren.append(c)
                }
            }
        }
    }

    private static func jid(_ r: inout ElementReader, _ name: String) throws(JingleParseError) -> JID? {
        guard let raw = r.optional(name) else { return nil }
        guard let j = JID(raw) else { throw .invalidAttribute(element: "jingle", attribute: name, value: raw) }
        return j
    }

    public var element: XMLElement {
        var e = XMLElement(
            "jingle", namespace: JingleNamespace.jingle,
            ordered: [
                ("action", action.rawValue), ("initiator", initiator?.description), ("responder", responder?.description), ("sid", sid),
            ], extra: extraAttributes)
        e.append(contentsOf: groups.map(\.element))
        e.append(contentsOf: contents.map(\.element))
        if let reason { e.append(reason.element) }
        e.append(contentsOf: info.map(\.element))
        e.append(contentsOf: extraChildren)
        return e
    }

    /// The content with this creator and name.
    public func content(_ name: ContentName, creator: Creator? = nil) -> Content? {
        contents.first { $0.name == name && (creator == nil || $0.creator == creator) }
    }
}

extension JingleElement {
    /// Reads the `<jingle/>` payload of an IQ set.
    public init(iq: IQ) throws(JingleParseError) {
        guard let payload = iq.payload else { throw .missingChild(element: "iq", child: "jingle") }
        try self.init(element: payload)
    }

    /// An IQ set carrying this action.
    public func iq(id: String, from: JID? = nil, to: JID?) -> IQ {
        IQ(type: .set, id: id, from: from, to: to, payload: element)
    }
}
