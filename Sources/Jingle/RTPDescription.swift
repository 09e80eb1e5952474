import XMLModel

/// An RTP application description, `<description xmlns='urn:xmpp:jingle:apps:rtp:1' media ssrc/>`
/// (XEP-0167 §4) with the extensions carried inside it: rtcp-mux, SDES encryption, bandwidth,
/// XEP-0293 rtcp-fb, XEP-0294 rtp-hdrext and extmap-allow-mixed, XEP-0339 sources and groups.
public struct RTPDescription: Sendable, Hashable {
    public var media: String
    public var ssrc: UInt32?
    public var payloadTypes: [PayloadType]
    public var bandwidths: [Bandwidth]
    public var rtcpMux: Bool
    public var encryption: Encryption?
    /// Feedback that applies to every payload type (XEP-0293 §3, `a=rtcp-fb:*`).
    public var feedback: [RTCPFeedback]
    public var feedbackTRRInterval: RTCPFeedbackTRRInterval?
    public var headerExtensions: [HeaderExtension]
    /// XEP-0294 §3 `<extmap-allow-mixed/>` (RFC 8285 `a=extmap-allow-mixed`).
    public var extmapAllowMixed: Bool
    public var sources: [Source]
    public var sourceGroups: [SourceGroup]
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(
        media: String, ssrc: UInt32? = nil, payloadTypes: [PayloadType] = [], bandwidths: [Bandwidth] = [],
        rtcpMux: Bool = false, encryption: Encryption? = nil, feedback: [RTCPFeedback] = [],
        feedbackTRRInterval: RTCPFeedbackTRRInterval? = nil, headerExtensions: [HeaderExtension] = [],
        extmapAllowMixed: Bool = false, sources: [Source] = [], sourceGroups: [SourceGroup] = [],
        extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []
    ) {
        self.media = media
        self.ssrc = ssrc
        self.payloadTypes = payloadTypes
        self.bandwidths = bandwidths
        self.rtcpMux = rtcpMux
        self.encryption = encryption
        self.feedback = feedback
        self.feedbackTRRInterval = feedbackTRRInterval
        self.headerExtensions = headerExtensions
        self.extmapAllowMixed = extmapAllowMixed
        self.sources = sources
        self.sourceGroups = sourceGroups
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "description", namespace: JingleNamespace.rtp)
        media = try r.required("media")
        ssrc = try r.optionalInteger("ssrc", as: UInt32.self)
        extraAttributes = r.unknownAttributes
        payloadTypes = []
        bandwidths = []
        rtcpMux = false
        encryption = nil
        feedback = []
        feedbackTRRInterval = nil
        headerExtensions = []
        extmapAllowMixed = false
        sources = []
        sourceGroups = []
        extraChildren = []
        for c in element.elements {
            switch (c.namespace, c.name) {
            case (JingleNamespace.rtp, "payload-type"): payloadTypes.append(try PayloadType(element: c))
            case (JingleNamespace.rtp, "bandwidth"): bandwidths.append(try Bandwidth(element: c))
            case (JingleNamespace.rtp, "rtcp-mux") where !rtcpMux && c.attributes.isEmpty && c.children.isEmpty: rtcpMux = true
            case (JingleNamespace.rtp, "encryption") where encryption == nil: encryption = try Encryption(element: c)
            case (JingleNamespace.rtcpFB, "rtcp-fb"): feedback.append(try RTCPFeedback(element: c))
            case (JingleNamespace.rtcpFB, "rtcp-fb-trr-int") where feedbackTRRInterval == nil:
                feedbackTRRInterval = try RTCPFeedbackTRRInterval(element: c)
            case (JingleNamespace.rtpHdrExt, "rtp-hdrext"): headerExtensions.append(try HeaderExtension(element: c))
            case (JingleNamespace.rtpHdrExt, "extmap-allow-mixed") where !extmapAllowMixed && c.attributes.isEmpty && c.children.isEmpty:
                extmapAllowMixed = true
            case (JingleNamespace.ssma, "source"): sources.append(try Source(element: c))
            case (JingleNamespace.ssma, "ssrc-group"): sourceGroups.append(try SourceGroup(element: c))
            default: extraChildren.append(c)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement(
            "description", namespace: JingleNamespace.rtp,
            ordered: [("media", media), ("ssrc", ssrc.map { String($0) })], extra: extraAttributes)
        e.append(contentsOf: payloadTypes.map(\.element))
        e.append(contentsOf: feedback.map(\.element))
        if let feedbackTRRInterval { e.append(feedbackTRRInterval.element) }
        e.append(contentsOf: headerExtensions.map(\.element))
        if extmapAllowMixed { e.append(XMLElement("extmap-allow-mixed", namespace: JingleNamespace.rtpHdrExt)) }
        e.append(contentsOf: sourceGroups.map(\.element))
        e.append(contentsOf: sources.map(\.element))
        e.append(contentsOf: bandwidths.map(\.element))
        if rtcpMux { e.append(XMLElement("rtcp-mux", namespace: JingleNamespace.rtp)) }
        if let encryption { e.append(encryption.element) }
        e.append(contentsOf: extraChildren)
        return e
    }
}

/// A content's application description: RTP (XEP-0167) or another application kept verbatim.
public enum ApplicationDescription: Sendable, Hashable {
    case rtp(RTPDescription)
    case other(XMLElement)

    public init(element: XMLElement) throws(JingleParseError) {
        if element.namespace == JingleNamespace.rtp, element.name == "description" {
            self = .rtp(try RTPDescription(element: element))
        } else {
            self = .other(element)
        }
    }

    public var element: XMLElement {
        switch self {
        case .rtp(let d): d.element
        case .other(let e): e
        }
    }

    public var rtp: RTPDescription? { if case .rtp(let d) = self { d } else { nil } }
}
