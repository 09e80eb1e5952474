import XMLModel

/// A `<content creator name disposition senders/>` of a Jingle action (XEP-0166 §7.3): at most
/// one application description, one transport and one security element.
public struct Content: Sendable, Hashable {
    public var creator: Creator
    public var name: ContentName
    public var disposition: String?
    public var senders: Senders?
    public var description: ApplicationDescription?
    public var transport: ContentTransport?
    /// XEP-0166 §7.3 `<security/>`, kept verbatim.
    public var security: XMLElement?
    public var extraAttributes: [XMLAttribute]
    /// Unknown children, verbatim; stray non-whitespace text is kept as a `#text` pseudo-element
    /// (empty namespace) so it is written back too.
    public var extraChildren: [XMLElement]

    public init(
        creator: Creator, name: ContentName, disposition: String? = nil, senders: Senders? = nil,
        description: ApplicationDescription? = nil, transport: ContentTransport? = nil, security: XMLElement? = nil,
        extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []
    ) {
        self.creator = creator
        self.name = name
        self.disposition = disposition
        self.senders = senders
        self.description = description
        self.transport = transport
        self.security = security
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    /// Who sends media; absent means both (XEP-0166 §7.3).
    public var effectiveSenders: Senders { senders ?? .both }

    public var rtp: RTPDescription? { description?.rtp }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "content", namespace: JingleNamespace.jingle)
        creator = try r.required("creator", as: Creator.self)
        name = ContentName(try r.required("name"))
        disposition = r.optional("disposition")
        senders = try r.optional("senders", as: Senders.self)
        extraAttributes = r.unknownAttributes
        description = nil
        transport = nil
        security = nil
        extraChildren = []
        for c in element.elements {
            switch c.name {
            case "description" where description == nil: description = try ApplicationDescription(element: c)
            case "transport" where transport == nil: transport = try ContentTransport(element: c)
            case "security" where security == nil: security = c
            case "description", "transport", "security":
                throw .invalidChild(element: "content", child: c.name, detail: "more than one")
            default: extraChildren.append(c)
            }
        }
        // Stray text is kept as one piece: the pieces are written next to each other after the
        // elements, where a parser would read them back as one text node anyway.
        var strayText = ""
        for case .text(let t) in element.children where isSignificantText(t) { strayText += t }
        if !strayText.isEmpty {
            extraChildren.append(XMLElement(name: "#text", namespace: "", children: [.text(strayText)]))
        }
    }

    public var element: XMLElement {
        var e = XMLElement(
            "content", namespace: JingleNamespace.jingle,
            ordered: [
                ("creator", creator.rawValue), ("disposition", disposition), ("name", name.rawValue), ("senders", senders?.rawValue),
            ], extra: extraAttributes)
        if let description { e.append(description.element) }
        if let transport { e.append(transport.element) }
        if let security { e.append(security) }
        for x in extraChildren {
            if x.name == "#text", x.namespace.isEmpty { e.append(text: x.text) } else { e.append(x) }
        }
        return e
    }
}
