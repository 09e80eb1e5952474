import XMLModel

/// An RTP header extension, `<rtp-hdrext id uri senders/>` (XEP-0294 §3), SDP `a=extmap`.
public struct HeaderExtension: Sendable, Hashable {
    public var id: UInt16
    public var uri: String
    public var senders: Senders?
    public var parameters: [Parameter]
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(
        id: UInt16, uri: String, senders: Senders? = nil, parameters: [Parameter] = [],
        extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []
    ) {
        self.id = id
        self.uri = uri
        self.senders = senders
        self.parameters = parameters
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "rtp-hdrext", namespace: JingleNamespace.rtpHdrExt)
        id = try r.requiredInteger("id", as: UInt16.self)
        uri = try r.required("uri")
        senders = try r.optional("senders", as: Senders.self)
        extraAttributes = r.unknownAttributes
        parameters = []
        extraChildren = []
        for c in element.elements {
            if c.name == "parameter", c.namespace == JingleNamespace.rtpHdrExt {
                parameters.append(try Parameter(element: c, namespace: JingleNamespace.rtpHdrExt))
            } else {
                extraChildren.append(c)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement(
            "rtp-hdrext", namespace: JingleNamespace.rtpHdrExt,
            ordered: [("id", String(id)), ("uri", uri), ("senders", senders?.rawValue)], extra: extraAttributes)
        e.append(contentsOf: parameters.map { $0.element(namespace: JingleNamespace.rtpHdrExt) })
        e.append(contentsOf: extraChildren)
        return e
    }
}
