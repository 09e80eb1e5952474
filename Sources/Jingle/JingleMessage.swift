import XMLModel
import XMPPCore

/// The XEP-0353 §3 message kinds of Jingle Message Initiation.
public enum JingleMessageAction: String, Sendable, Hashable, CaseIterable, Codable {
    case propose, ringing, proceed, accept, reject, retract, finish
}

/// A Jingle Message Initiation payload, e.g. `<propose xmlns='urn:xmpp:jingle-message:0' id>`
/// (XEP-0353 §3): the proposal's descriptions, or a reason for reject/retract/finish.
public struct JingleMessage: Sendable, Hashable {
    public var action: JingleMessageAction
    /// The proposal id, which becomes the Jingle `sid`.
    public var id: String
    /// The descriptions of a `propose`.
    public var descriptions: [ApplicationDescription]
    public var reason: Reason?
    /// `<tie-break/>` inside a reject or retract (XEP-0353 §3.3).
    public var tieBreak: Bool
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(
        action: JingleMessageAction, id: String, descriptions: [ApplicationDescription] = [], reason: Reason? = nil,
        tieBreak: Bool = false, extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []
    ) {
        self.action = action
        self.id = id
        self.descriptions = descriptions
        self.reason = reason
        self.tieBreak = tieBreak
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    public init(element: XMLElement) throws(JingleParseError) {
        guard element.namespace == JingleNamespace.jingleMessage, let action = JingleMessageAction(rawValue: element.name) else {
            throw .unexpectedElement(
                expected: "propose", namespace: JingleNamespace.jingleMessage,
                found: element.name, foundNamespace: element.namespace)
        }
        var r = try ElementReader(element, name: element.name, namespace: JingleNamespace.jingleMessage)
        self.action = action
        id = try r.required("id")
        extraAttributes = r.unknownAttributes
        descriptions = []
        reason = nil
        tieBreak = false
        extraChildren = []
        for c in element.elements {
            if c.name == "description", action == .propose {
                descriptions.append(try ApplicationDescription(element: c))
            } else if c.name == "reason", c.namespace == JingleNamespace.jingle, reason == nil {
                reason = try Reason(element: c)
            } else if c.name == "tie-break", c.namespace == JingleNamespace.jingleMessage, !tieBreak {
                tieBreak = true
            } else {
                extraChildren.append(c)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement(action.rawValue, namespace: JingleNamespace.jingleMessage, ordered: [("id", id)], extra: extraAttributes)
        e.append(contentsOf: descriptions.map(\.element))
        if let reason { e.append(reason.element) }
        if tieBreak { e.append(XMLElement("tie-break", namespace: JingleNamespace.jingleMessage)) }
        e.append(contentsOf: extraChildren)
        return e
    }

    /// Finds the JMI payload among a `<message/>`'s children (nil when it carries none).
    public static func find(in message: XMLElement) throws(JingleParseError) -> JingleMessage? {
        for c in message.elements where c.namespace == JingleNamespace.jingleMessage && JingleMessageAction(rawValue: c.name) != nil {
            return try JingleMessage(element: c)
        }
        return nil
    }
}
