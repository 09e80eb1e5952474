import XMLModel

/// An RTP payload type, `<payload-type id name clockrate channels maxptime ptime/>` with its
/// format parameters and per-codec RTCP feedback (XEP-0167 §4, XEP-0293 §3), SDP `a=rtpmap`,
/// `a=fmtp`, `a=rtcp-fb`.
public struct PayloadType: Sendable, Hashable {
    public var id: UInt8
    public var name: String?
    public var clockrate: UInt32?
    /// Absent means 1 (XEP-0167 §4).
    public var channels: UInt8?
    public var maxptime: UInt32?
    public var ptime: UInt32?
    public var parameters: [Parameter]
    public var feedback: [RTCPFeedback]
    public var feedbackTRRInterval: RTCPFeedbackTRRInterval?
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(
        id: UInt8, name: String? = nil, clockrate: UInt32? = nil, channels: UInt8? = nil,
        maxptime: UInt32? = nil, ptime: UInt32? = nil, parameters: [Parameter] = [],
        feedback: [RTCPFeedback] = [], feedbackTRRInterval: RTCPFeedbackTRRInterval? = nil,
        extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []
    ) {
        self.id = id
        self.name = name
        self.clockrate = clockrate
        self.channels = channels
        self.maxptime = maxptime
        self.ptime = ptime
        self.parameters = parameters
        self.feedback = feedback
        self.feedbackTRRInterval = feedbackTRRInterval
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    /// The channel count, 1 when not given.
    public var channelCount: UInt8 { channels ?? 1 }

    /// The value of the named format parameter.
    public func parameter(_ name: String) -> String? { parameters.first { $0.name == name }?.value }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "payload-type", namespace: JingleNamespace.rtp)
        let rawID = try r.required("id")
        guard let id = UInt8(rawID.trimmingSpaces), id <= 127 else {
            throw .invalidAttribute(element: "payload-type", attribute: "id", value: rawID)
        }
        self.id = id
        name = r.optional("name")
        clockrate = try r.optionalInteger("clockrate", as: UInt32.self)
        channels = try r.optionalInteger("channels", as: UInt8.self)
        maxptime = try r.optionalInteger("maxptime", as: UInt32.self)
        ptime = try r.optionalInteger("ptime", as: UInt32.self)
        extraAttributes = r.unknownAttributes
        parameters = []
        feedback = []
        feedbackTRRInterval = nil
        extraChildren = []
        for c in element.elements {
            switch (c.namespace, c.name) {
            case (JingleNamespace.rtp, "parameter"):
                var pr = try ElementReader(c, name: "parameter", namespace: JingleNamespace.rtp)
                // A value without a name (`<parameter value='0-15'/>`, an fmtp value without
                // `name=`, as Conversations writes telephone-event's range) is kept with an empty name.
                let n = pr.optional("name") ?? ""
                let v = try pr.required("value")
                parameters.append(Parameter(name: n, value: v, extraAttributes: pr.unknownAttributes))
            case (JingleNamespace.rtcpFB, "rtcp-fb"):
                feedback.append(try RTCPFeedback(element: c))
            case (JingleNamespace.rtcpFB, "rtcp-fb-trr-int") where feedbackTRRInterval == nil:
                feedbackTRRInterval = try RTCPFeedbackTRRInterval(element: c)
            default:
                extraChildren.append(c)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement(
            "payload-type", namespace: JingleNamespace.rtp,
            ordered: [
                ("id", String(id)), ("name", name), ("clockrate", clockrate.map { String($0) }),
                ("channels", channels.map { String($0) }), ("maxptime", maxptime.map { String($0) }),
                ("ptime", ptime.map { String($0) }),
            ], extra: extraAttributes)
        e.append(contentsOf: parameters.map { $0.element(namespace: JingleNamespace.rtp) })
        e.append(contentsOf: feedback.map(\.element))
        if let feedbackTRRInterval { e.append(feedbackTRRInterval.element) }
        e.append(contentsOf: extraChildren)
        return e
    }
}
