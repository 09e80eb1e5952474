import XMLModel

/// Attribute and child helpers shared by the codecs. Every reader records which attributes and
/// children it understood so the rest can be kept verbatim (ARCHITECTURE.md, "Wire").
struct ElementReader {
    let element: XMLElement
    private(set) var knownAttributes: Set<String> = []

    init(_ element: XMLElement, name: String, namespace: String) throws(JingleParseError) {
        guard element.name == name, element.namespace == namespace else {
            throw .unexpectedElement(expected: name, namespace: namespace, found: element.name, foundNamespace: element.namespace)
        }
        self.element = element
    }

    var name: String { element.name }

    mutating func optional(_ attribute: String) -> String? {
        knownAttributes.insert(attribute)
        return element.attribute(attribute)
    }

    mutating func required(_ attribute: String) throws(JingleParseError) -> String {
        guard let v = optional(attribute) else { throw .missingAttribute(element: name, attribute: attribute) }
        return v
    }

    mutating func optional<T: RawRepresentable>(_ attribute: String, as: T.Type) throws(JingleParseError) -> T? where T.RawValue == String {
        guard let raw = optional(attribute) else { return nil }
        guard let v = T(rawValue: raw) else { throw .invalidAttribute(element: name, attribute: attribute, value: raw) }
        return v
    }

    mutating func required<T: RawRepresentable>(_ attribute: String, as: T.Type) throws(JingleParseError) -> T where T.RawValue == String {
        let raw = try required(attribute)
        guard let v = T(rawValue: raw) else { throw .invalidAttribute(element: name, attribute: attribute, value: raw) }
        return v
    }

    mutating func optionalInteger<T: FixedWidthInteger>(_ attribute: String, as: T.Type) throws(JingleParseError) -> T? {
        guard let raw = optional(attribute) else { return nil }
        guard let v = T(raw.trimmingSpaces, radix: 10) else { throw .invalidAttribute(element: name, attribute: attribute, value: raw) }
        return v
    }

    mutating func requiredInteger<T: FixedWidthInteger>(_ attribute: String, as: T.Type) throws(JingleParseError) -> T {
        guard let v = try optionalInteger(attribute, as: T.self) else { throw .missingAttribute(element: name, attribute: attribute) }
        return v
    }

    /// Attributes not read by the codec, in document order.
    var unknownAttributes: [XMLAttribute] {
        element.attributes.filter { !($0.namespace.isEmpty && knownAttributes.contains($0.name)) }
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s.removeLast() }
        return s
    }
}

extension XMLElement {
    /// An element with the attributes given in order, skipping nil values, then `extra` verbatim.
    init(_ name: String, namespace: String, ordered: [(String, String?)], extra: [XMLAttribute] = []) {
        self.init(name: name, namespace: namespace)
        for (k, v) in ordered { if let v { attributes.append(XMLAttribute(name: k, value: v)) } }
        attributes.append(contentsOf: extra)
    }

    mutating func append(contentsOf elements: [XMLElement]) {
        for e in elements { append(e) }
    }
}

/// Non-whitespace text is kept as an unknown text child so it is written back.
func isSignificantText(_ s: String) -> Bool {
    s.contains { !($0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r") }
}
