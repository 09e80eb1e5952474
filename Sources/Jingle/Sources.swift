import XMLModel

/// A media source, `<source ssrc/>` with its parameters (XEP-0339 §2.1), SDP `a=ssrc`.
/// The legacy `id` attribute some clients send instead of `ssrc` is accepted and written back.
public struct Source: Sendable, Hashable {
    public var ssrc: UInt32
    /// True when the source arrived with the legacy `id` attribute instead of `ssrc`.
    public var usesLegacyIDAttribute: Bool
    public var parameters: [Parameter]
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(
        ssrc: UInt32, parameters: [Parameter] = [], usesLegacyIDAttribute: Bool = false,
        extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []
    ) {
        self.ssrc = ssrc
        self.parameters = parameters
        self.usesLegacyIDAttribute = usesLegacyIDAttribute
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "source", namespace: JingleNamespace.ssma)
        if let v = try r.optionalInteger("ssrc", as: UInt32.self) {
            ssrc = v
            usesLegacyIDAttribute = false
        } else if let v = try r.optionalInteger("id", as: UInt32.self) {
            ssrc = v
            usesLegacyIDAttribute = true
        } else {
            throw .missingAttribute(element: "source", attribute: "ssrc")
        }
        extraAttributes = r.unknownAttributes
        parameters = []
        extraChildren = []
        for c in element.elements {
            if c.name == "parameter", c.namespace == JingleNamespace.ssma {
                parameters.append(try Parameter(element: c, namespace: JingleNamespace.ssma))
            } else {
                extraChildren.append(c)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement(
            "source", namespace: JingleNamespace.ssma,
            ordered: [(usesLegacyIDAttribute ? "id" : "ssrc", String(ssrc))], extra: extraAttributes)
        e.append(contentsOf: parameters.map { $0.element(namespace: JingleNamespace.ssma) })
        e.append(contentsOf: extraChildren)
        return e
    }

    /// The value of the named parameter (e.g. `cname`, `msid`).
    public func parameter(_ name: String) -> String? { parameters.first { $0.name == name }?.value }
}

/// A group of sources with a semantics such as FID or SIM (XEP-0339 §2.2), SDP `a=ssrc-group`.
public struct SourceGroup: Sendable, Hashable {
    public var semantics: String
    public var ssrcs: [UInt32]
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(semantics: String, ssrcs: [UInt32], extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []) {
        self.semantics = semantics
        self.ssrcs = ssrcs
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "ssrc-group", namespace: JingleNamespace.ssma)
        semantics = try r.required("semantics")
        extraAttributes = r.unknownAttributes
        ssrcs = []
        extraChildren = []
        for c in element.elements {
            if c.name == "source", c.namespace == JingleNamespace.ssma {
                var s = try ElementReader(c, name: "source", namespace: JingleNamespace.ssma)
                ssrcs.append(try s.requiredInteger("ssrc", as: UInt32.self))
            } else {
                extraChildren.append(c)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement("ssrc-group", namespace: JingleNamespace.ssma, ordered: [("semantics", semantics)], extra: extraAttributes)
        for s in ssrcs { e.append(XMLElement("source", namespace: JingleNamespace.ssma, ordered: [("ssrc", String(s))])) }
        e.append(contentsOf: extraChildren)
        return e
    }
}
