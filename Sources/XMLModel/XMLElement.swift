/// An XML element with its namespace resolved, as XMPP (RFC 6120 §4.8) and every XEP payload uses it.
///
/// Names are local names; `namespace` is the resolved namespace URI, whatever prefix the sender used.
/// Children keep their order, and elements this library does not understand stay in the tree
/// unchanged so they can be written back (ARCHITECTURE.md, "Wire").
public struct XMLElement: Sendable, Hashable {
    public var name: String
    public var namespace: String
    public var attributes: [XMLAttribute]
    public var children: [XMLNode]

    public init(name: String, namespace: String, attributes: [XMLAttribute] = [], children: [XMLNode] = []) {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.children = children
    }

    /// Builds an element from plain attribute pairs (no namespace) and child elements.
    public init(
        _ name: String, namespace: String, _ attributes: KeyValuePairs<String, String> = [:],
        children: [XMLElement] = [], text: String? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes.map { XMLAttribute(name: $0.key, value: $0.value) }
        self.children = children.map { .element($0) }
        if let text { self.children.append(.text(text)) }
    }
}

/// One attribute; `namespace` is empty for unprefixed attributes (XML Namespaces §6.3).
public struct XMLAttribute: Sendable, Hashable {
    public var name: String
    public var namespace: String
    public var value: String

    public init(name: String, namespace: String = "", value: String) {
        self.name = name
        self.namespace = namespace
        self.value = value
    }
}

/// A child of an element: another element or character data.
public enum XMLNode: Sendable, Hashable {
    case element(XMLElement)
    case text(String)
}

/// The namespace of the `xml:` prefix (XML Namespaces §3), used by `xml:lang`.
public let xmlNamespaceURI = "http://www.w3.org/XML/1998/namespace"

extension XMLElement {
    /// The value of the unprefixed attribute `name`, or nil.
    public func attribute(_ name: String, namespace: String = "") -> String? {
        attributes.first { $0.name == name && $0.namespace == namespace }?.value
    }

    /// Sets (or with nil removes) the unprefixed attribute `name`, keeping attribute order.
    public mutating func setAttribute(_ name: String, _ value: String?, namespace: String = "") {
        if let index = attributes.firstIndex(where: { $0.name == name && $0.namespace == namespace }) {
            if let value { attributes[index].value = value } else { attributes.remove(at: index) }
        } else if let value {
            attributes.append(XMLAttribute(name: name, namespace: namespace, value: value))
        }
    }

    /// The element children, in order.
    public var elements: [XMLElement] {
        children.compactMap { if case .element(let e) = $0 { e } else { nil } }
    }

    /// The first child element with this name (and namespace, when given).
    public func child(_ name: String, namespace: String? = nil) -> XMLElement? {
        for case .element(let e) in children where e.name == name && (namespace == nil || e.namespace == namespace) {
            return e
        }
        return nil
    }

    /// All child elements with this name (and namespace, when given).
    public func children(_ name: String, namespace: String? = nil) -> [XMLElement] {
        elements.filter { $0.name == name && (namespace == nil || $0.namespace == namespace) }
    }

    /// The concatenated character data of this element's direct text children.
    public var text: String {
        var result = ""
        for case .text(let t) in children { result += t }
        return result
    }

    /// Appends a child element.
    public mutating func append(_ element: XMLElement) {
        children.append(.element(element))
    }

    /// Appends character data.
    public mutating func append(text: String) {
        children.append(.text(text))
    }
}
