import XMLModel

/// An ICE candidate type (XEP-0176 §4, RFC 8445 §5.1.1).
public enum CandidateType: String, Sendable, Hashable, CaseIterable, Codable {
    case host, prflx, relay, srflx
}

/// An ICE-UDP candidate, `<candidate/>` with every XEP-0176 §4 attribute, SDP `a=candidate`.
public struct Candidate: Sendable, Hashable {
    public var component: UInt8
    public var foundation: String
    public var generation: UInt32
    public var id: String
    public var ip: String
    public var network: UInt32?
    public var port: UInt16
    public var priority: UInt32
    public var `protocol`: String
    public var relAddr: String?
    public var relPort: UInt16?
    public var type: CandidateType
    public var extraAttributes: [XMLAttribute]

    public init(
        component: UInt8, foundation: String, generation: UInt32 = 0, id: String, ip: String, network: UInt32? = nil,
        port: UInt16, priority: UInt32, protocol: String = "udp", relAddr: String? = nil, relPort: UInt16? = nil,
        type: CandidateType, extraAttributes: [XMLAttribute] = []
    ) {
        self.component = component
        self.foundation = foundation
        self.generation = generation
        self.id = id
        self.ip = ip
        self.network = network
        self.port = port
        self.priority = priority
        self.protocol = `protocol`
        self.relAddr = relAddr
        self.relPort = relPort
        self.type = type
        self.extraAttributes = extraAttributes
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "candidate", namespace: JingleNamespace.iceUDP)
        component = try r.requiredInteger("component", as: UInt8.self)
        foundation = try r.required("foundation")
        generation = try r.requiredInteger("generation", as: UInt32.self)
        id = try r.required("id")
        ip = try r.required("ip")
        network = try r.optionalInteger("network", as: UInt32.self)
        port = try r.requiredInteger("port", as: UInt16.self)
        priority = try r.requiredInteger("priority", as: UInt32.self)
        `protocol` = try r.required("protocol")
        relAddr = r.optional("rel-addr")
        relPort = try r.optionalInteger("rel-port", as: UInt16.self)
        type = try r.required("type", as: CandidateType.self)
        extraAttributes = r.unknownAttributes
    }

    public var element: XMLElement {
        XMLElement(
            "candidate", namespace: JingleNamespace.iceUDP,
            ordered: [
                ("component", String(component)), ("foundation", foundation), ("generation", String(generation)),
                ("id", id), ("ip", ip), ("network", network.map { String($0) }), ("port", String(port)),
                ("priority", String(priority)), ("protocol", `protocol`), ("rel-addr", relAddr),
                ("rel-port", relPort.map { String($0) }), ("type", type.rawValue),
            ], extra: extraAttributes)
    }
}

/// The candidate pair the controlling agent nominated, `<remote-candidate component ip port/>`
/// (XEP-0176 §5.3).
public struct RemoteCandidate: Sendable, Hashable {
    public var component: UInt8
    public var ip: String
    public var port: UInt16
    public var extraAttributes: [XMLAttribute]

    public init(component: UInt8, ip: String, port: UInt16, extraAttributes: [XMLAttribute] = []) {
        self.component = component
        self.ip = ip
        self.port = port
        self.extraAttributes = extraAttributes
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "remote-candidate", namespace: JingleNamespace.iceUDP)
        component = try r.requiredInteger("component", as: UInt8.self)
        ip = try r.required("ip")
        port = try r.requiredInteger("port", as: UInt16.self)
        extraAttributes = r.unknownAttributes
    }

    public var element: XMLElement {
        XMLElement(
            "remote-candidate", namespace: JingleNamespace.iceUDP,
            ordered: [("component", String(component)), ("ip", ip), ("port", String(port))], extra: extraAttributes)
    }
}
