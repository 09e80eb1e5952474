import XMLModel

/// An RTCP feedback message type, `<rtcp-fb type subtype/>` (XEP-0293 §3), SDP `a=rtcp-fb`.
public struct RTCPFeedback: Sendable, Hashable {
    public var type: String
    public var subtype: String?
    public var parameters: [Parameter]
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(
        type: String, subtype: String? = nil, parameters: [Parameter] = [],
        extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []
    ) {
        self.type = type
        self.subtype = subtype
        self.parameters = parameters
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "rtcp-fb", namespace: JingleNamespace.rtcpFB)
        type = try r.required("type")
        subtype = r.optional("subtype")
        extraAttributes = r.unknownAttributes
        parameters = []
        extraChildren = []
        for c in element.elements {
            if c.name == "parameter", c.namespace == JingleNamespace.rtcpFB {
                parameters.append(try Parameter(element: c, namespace: JingleNamespace.rtcpFB))
            } else {
                extraChildren.append(c)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement(
            "rtcp-fb", namespace: JingleNamespace.rtcpFB, ordered: [("type", type), ("subtype", subtype)], extra: extraAttributes)
        e.append(contentsOf: parameters.map { $0.element(namespace: JingleNamespace.rtcpFB) })
        e.append(contentsOf: extraChildren)
        return e
    }
}

/// The minimal receiver-report interval, `<rtcp-fb-trr-int value/>` (XEP-0293 §3), SDP `trr-int`.
public struct RTCPFeedbackTRRInterval: Sendable, Hashable {
    public var value: UInt32
    public var extraAttributes: [XMLAttribute]

    public init(value: UInt32, extraAttributes: [XMLAttribute] = []) {
        self.value = value
        self.extraAttributes = extraAttributes
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "rtcp-fb-trr-int", namespace: JingleNamespace.rtcpFB)
        value = try r.requiredInteger("value", as: UInt32.self)
        extraAttributes = r.unknownAttributes
    }

    public var element: XMLElement {
        XMLElement("rtcp-fb-trr-int", namespace: JingleNamespace.rtcpFB, ordered: [("value", String(value))], extra: extraAttributes)
    }
}
