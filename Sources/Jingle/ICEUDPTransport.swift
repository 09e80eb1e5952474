import XMLModel

/// An ICE-UDP transport, `<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag pwd/>`
/// (XEP-0176 §4) with candidates, the nominated remote candidate and XEP-0320 fingerprints.
public struct ICEUDPTransport: Sendable, Hashable {
    public var ufrag: String?
    public var pwd: String?
    public var candidates: [Candidate]
    public var remoteCandidate: RemoteCandidate?
    public var fingerprints: [Fingerprint]
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(
        ufrag: String? = nil, pwd: String? = nil, candidates: [Candidate] = [], remoteCandidate: RemoteCandidate? = nil,
        fingerprints: [Fingerprint] = [], extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []
    ) {
        self.ufrag = ufrag
        self.pwd = pwd
        self.candidates = candidates
        self.remoteCandidate = remoteCandidate
        self.fingerprints = fingerprints
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "transport", namespace: JingleNamespace.iceUDP)
        ufrag = r.optional("ufrag")
        pwd = r.optional("pwd")
        extraAttributes = r.unknownAttributes
        candidates = []
        remoteCandidate = nil
        fingerprints = []
        extraChildren = []
        for c in element.elements {
            switch (c.namespace, c.name) {
            case (JingleNamespace.iceUDP, "candidate"): candidates.append(try Candidate(element: c))
            case (JingleNamespace.iceUDP, "remote-candidate"):
                guard remoteCandidate == nil else {
                    throw .invalidChild(element: "transport", child: "remote-candidate", detail: "more than one")
                }
                remoteCandidate = try RemoteCandidate(element: c)
            case (JingleNamespace.dtls, "fingerprint"): fingerprints.append(try Fingerprint(element: c))
            default: extraChildren.append(c)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement(
            "transport", namespace: JingleNamespace.iceUDP, ordered: [("ufrag", ufrag), ("pwd", pwd)], extra: extraAttributes)
        e.append(contentsOf: fingerprints.map(\.element))
        e.append(contentsOf: candidates.map(\.element))
        if let remoteCandidate { e.append(remoteCandidate.element) }
        e.append(contentsOf: extraChildren)
        return e
    }
}

/// A raw UDP candidate (XEP-0177 §4).
public struct RawUDPCandidate: Sendable, Hashable {
    public var component: UInt8
    public var generation: UInt32
    public var id: String
    public var ip: String
    public var port: UInt16
    public var type: CandidateType?
    public var extraAttributes: [XMLAttribute]

    public init(
        component: UInt8, generation: UInt32 = 0, id: String, ip: String, port: UInt16,
        type: CandidateType? = nil, extraAttributes: [XMLAttribute] = []
    ) {
        self.component = component
        self.generation = generation
        self.id = id
        self.ip = ip
        self.port = port
        self.type = type
        self.extraAttributes = extraAttributes
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "candidate", namespace: JingleNamespace.rawUDP)
        component = try r.requiredInteger("component", as: UInt8.self)
        generation = try r.requiredInteger("generation", as: UInt32.self)
        id = try r.required("id")
        ip = try r.required("ip")
        port = try r.requiredInteger("port", as: UInt16.self)
        type = try r.optional("type", as: CandidateType.self)
        extraAttributes = r.unknownAttributes
    }

    public var element: XMLElement {
        XMLElement(
            "candidate", namespace: JingleNamespace.rawUDP,
            ordered: [
                ("component", String(component)), ("generation", String(generation)), ("id", id), ("ip", ip),
                ("port", String(port)), ("type", type?.rawValue),
            ], extra: extraAttributes)
    }
}

/// A raw UDP transport, `<transport xmlns='urn:xmpp:jingle:transports:raw-udp:1'/>` (XEP-0177 §4).
public struct RawUDPTransport: Sendable, Hashable {
    public var candidates: [RawUDPCandidate]
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(candidates: [RawUDPCandidate] = [], extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []) {
        self.candidates = candidates
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    public init(element: XMLElement) throws(JingleParseError) {
        let r = try ElementReader(element, name: "transport", namespace: JingleNamespace.rawUDP)
        extraAttributes = r.unknownAttributes
        candidates = []
        extraChildren = []
        for c in element.elements {
            if c.namespace == JingleNamespace.rawUDP, c.name == "candidate" {
                candidates.append(try RawUDPCandidate(element: c))
            } else {
                extraChildren.append(c)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement("transport", namespace: JingleNamespace.rawUDP, ordered: [], extra: extraAttributes)
        e.append(contentsOf: candidates.map(\.element))
        e.append(contentsOf: extraChildren)
        return e
    }
}

/// A content's transport: ICE-UDP (XEP-0176), raw UDP (XEP-0177), or another kept verbatim.
public enum ContentTransport: Sendable, Hashable {
    case iceUDP(ICEUDPTransport)
    case rawUDP(RawUDPTransport)
    case other(XMLElement)

    public init(element: XMLElement) throws(JingleParseError) {
        switch (element.namespace, element.name) {
        case (JingleNamespace.iceUDP, "transport"): self = .iceUDP(try ICEUDPTransport(element: element))
        case (JingleNamespace.rawUDP, "transport"): self = .rawUDP(try RawUDPTransport(element: element))
        default: self = .other(element)
        }
    }

    public var element: XMLElement {
        switch self {
        case .iceUDP(let t): t.element
        case .rawUDP(let t): t.element
        case .other(let e): e
        }
    }

    public var namespace: String {
        switch self {
        case .iceUDP: JingleNamespace.iceUDP
        case .rawUDP: JingleNamespace.rawUDP
        case .other(let e): e.namespace
        }
    }

    public var iceUDP: ICEUDPTransport? { if case .iceUDP(let t) = self { t } else { nil } }
}
