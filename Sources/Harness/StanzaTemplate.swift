import XMLStream
import XMPPCore

/// The stanza inside a `<send>`: an element tree whose attribute values and text may hold
/// `[variable]` placeholders, filled in for each call when it is sent.
public struct StanzaTemplate: Sendable, Hashable {
    public var name: String
    public var namespace: String
    public var attributes: [(name: String, value: String)]
    public var children: [Child]

    public indirect enum Child: Sendable, Hashable {
        case element(StanzaTemplate)
        case text(String)
    }

    public init(name: String, namespace: String, attributes: [(name: String, value: String)] = [], children: [Child] = []) {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.children = children
    }

    public static func == (a: StanzaTemplate, b: StanzaTemplate) -> Bool {
        a.name == b.name && a.namespace == b.namespace && a.children == b.children
            && a.attributes.map(\.name) == b.attributes.map(\.name) && a.attributes.map(\.value) == b.attributes.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(namespace)
        for a in attributes { hasher.combine(a.name); hasher.combine(a.value) }
        hasher.combine(children)
    }

    /// Builds the element, replacing each `[name]` with `lookup(name)`; a name the lookup does
    /// not know fails with `TemplateError.undefinedVariable`.
    public func render(_ lookup: (String) -> String?) throws(TemplateError) -> XMLElement {
        var element = XMLElement(name: name, namespace: namespace)
        for a in attributes {
            element.attributes.append(XMLAttribute(name: a.name, value: try Self.substitute(a.value, lookup)))
        }
        for child in children {
            switch child {
            case .element(let t): element.append(try t.render(lookup))
            case .text(let s): element.append(text: try Self.substitute(s, lookup))
            }
        }
        return element
    }

    /// Replaces `[name]` placeholders (names of letters, digits, `_`, `-`, `.`); other brackets stay.
    ///
    /// Scans UTF-8 bytes (the brackets are ASCII, so their positions are scalar boundaries to
    /// slice at): every outgoing stanza's attributes and text pass through here.
    public static func substitute(_ text: String, _ lookup: (String) -> String?) throws(TemplateError) -> String {
        let bytes = text.utf8
        guard bytes.contains(UInt8(ascii: "[")) else { return text }
        var out = ""
        out.reserveCapacity(bytes.count)
        var position = bytes.startIndex
        while let open = bytes[position...].firstIndex(of: UInt8(ascii: "[")) {
            out += text[position..<open]
            let nameStart = bytes.index(after: open)
            guard let close = bytes[nameStart...].firstIndex(of: UInt8(ascii: "]")) else {
                out += text[open...]
                return out
            }
            let name = text[nameStart..<close]
            if isVariableName(name) {
                guard let value = lookup(String(name)) else { throw .undefinedVariable(String(name)) }
                out += value
            } else {
                out += text[open...close]
            }
            position = bytes.index(after: close)
        }
        out += text[position...]
        return out
    }

    /// Letters, digits, `_`, `-` and `.`, at least one; ASCII names are checked byte by byte.
    private static func isVariableName(_ name: Substring) -> Bool {
        guard !name.isEmpty else { return false }
        guard name.utf8.allSatisfy({ $0 < 0x80 }) else {
            return name.allSatisfy { $0.isLetter || $0.isNumber || "_-.".contains($0) }
        }
        return name.utf8.allSatisfy { b in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(b)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
        }
    }
}

/// Why a template could not be filled in.
public enum TemplateError: Error, Sendable, Hashable, CustomStringConvertible {
    case undefinedVariable(String)

    public var description: String {
        switch self {
        case .undefinedVariable(let name): "variable [\(name)] is not defined"
        }
    }
}
