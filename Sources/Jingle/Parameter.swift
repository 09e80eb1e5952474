import XMLModel

/// A `<parameter name value/>` as used by XEP-0167 payload types (value required), XEP-0293,
/// XEP-0294 and XEP-0339 (value optional).
public struct Parameter: Sendable, Hashable {
    public var name: String
    public var value: String?
    public var extraAttributes: [XMLAttribute]

    public init(name: String, value: String?, extraAttributes: [XMLAttribute] = []) {
        self.name = name
        self.value = value
        self.extraAttributes = extraAttributes
    }

    init(element: XMLElement, namespace: String) throws(JingleParseError) {
        var r = try ElementReader(element, name: "parameter", namespace: namespace)
        name = try r.required("name")
        value = r.optional("value")
        extraAttributes = r.unknownAttributes
    }

    func element(namespace: String) -> XMLElement {
        XMLElement("parameter", namespace: namespace, ordered: [("name", name), ("value", value)], extra: extraAttributes)
    }
}
