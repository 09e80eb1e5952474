import XMLModel

/// A grouping of contents by their names, `<group semantics/>` (XEP-0338 §2), SDP `a=group`
/// (BUNDLE, LS...).
public struct Group: Sendable, Hashable {
    public var semantics: String
    public var contents: [ContentName]
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(semantics: String, contents: [ContentName], extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []) {
        self.semantics = semantics
        self.contents = contents
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "group", namespace: JingleNamespace.grouping)
        semantics = try r.required("semantics")
        extraAttributes = r.unknownAttributes
        contents = []
        extraChildren = []
        for c in element.elements {
            if c.name == "content", c.namespace == JingleNamespace.grouping {
                var cr = try ElementReader(c, name: "content", namespace: JingleNamespace.grouping)
                contents.append(ContentName(try cr.required("name")))
            } else {
                extraChildren.append(c)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement("group", namespace: JingleNamespace.grouping, ordered: [("semantics", semantics)], extra: extraAttributes)
        for c in contents { e.append(XMLElement("content", namespace: JingleNamespace.grouping, ordered: [("name", c.rawValue)])) }
        e.append(contentsOf: extraChildren)
        return e
    }
}
