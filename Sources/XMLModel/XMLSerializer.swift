/// Writes `XMLElement` trees as namespace-well-formed XML 1.0 (XML Namespaces §6), escaping text
/// and attribute values. The element's namespace is declared with a default `xmlns` only where it
/// differs from the enclosing one, so a stanza written inside a `jabber:client` stream carries no
/// redundant declarations.
public enum XMLSerializer {
    /// Serialises `element`, assuming the enclosing default namespace is `parentNamespace`.
    public static func serialize(_ element: XMLElement, parentNamespace: String = "") -> String {
        var out = ""
        out.reserveCapacity(256)
        write(element, parentNamespace: parentNamespace, into: &out)
        return out
    }

    /// The stream header of RFC 6120 §4.2, left open.
    public static func streamHeader(
        to: String, from: String? = nil, version: String = "1.0",
        contentNamespace: String = "jabber:client", id: String? = nil,
        language: String? = "en"
    ) -> String {
        var out = "<?xml version='1.0'?><stream:stream xmlns='\(contentNamespace)' xmlns:stream='http://etherx.jabber.org/streams'"
        out += " to='\(escapeAttribute(to))'"
        if let from { out += " from='\(escapeAttribute(from))'" }
        if let id { out += " id='\(escapeAttribute(id))'" }
        out += " version='\(escapeAttribute(version))'"
        if let language { out += " xml:lang='\(escapeAttribute(language))'" }
        out += ">"
        return out
    }

    public static let streamFooter = "</stream:stream>"

    static func write(_ element: XMLElement, parentNamespace: String, into out: inout String) {
        out += "<"
        out += element.name
        if element.namespace != parentNamespace {
            out += " xmlns='"
            out += escapeAttribute(element.namespace)
            out += "'"
        }
        var prefixIndex = 0
        for attribute in element.attributes {
            out += " "
            if attribute.namespace.isEmpty {
                out += attribute.name
            } else if attribute.namespace == xmlNamespaceURI {
                out += "xml:" + attribute.name
            } else {
                prefixIndex += 1
                let prefix = "ns\(prefixIndex)"
                out += "xmlns:\(prefix)='\(escapeAttribute(attribute.namespace))' \(prefix):\(attribute.name)"
            }
            out += "='"
            out += escapeAttribute(attribute.value)
            out += "'"
        }
        if element.children.isEmpty {
            out += "/>"
            return
        }
        out += ">"
        for child in element.children {
            switch child {
            case .element(let e): write(e, parentNamespace: element.namespace, into: &out)
            case .text(let t): out += escapeText(t)
            }
        }
        out += "</"
        out += element.name
        out += ">"
    }

    /// Escapes character data: `&`, `<`, `>` (the last for `]]>`) and CR, which parsers would
    /// otherwise normalise to LF.
    public static func escapeText(_ s: String) -> String { escape(s, inAttribute: false) }

    /// Escapes an attribute value for single quotes; also `"` and whitespace that parsers normalise.
    public static func escapeAttribute(_ s: String) -> String { escape(s, inAttribute: true) }

    /// The entity or character reference for `byte`, or nil when it stands for itself.
    @inline(__always)
    private static func replacement(for byte: UInt8, inAttribute: Bool) -> String? {
        switch byte {
        case UInt8(ascii: "&"): "&amp;"
        case UInt8(ascii: "<"): "&lt;"
        case UInt8(ascii: ">"): "&gt;"
        case UInt8(ascii: "'") where inAttribute: "&apos;"
        case 0x22 where inAttribute: "&quot;"
        case 0x0A where inAttribute: "&#10;"
        case 0x0D: "&#13;" // a literal CR would be read back as LF (XML 1.0 §2.11)
        case 0x09 where inAttribute: "&#9;"
        default: nil
        }
    }

    private static func escape(_ s: String, inAttribute: Bool) -> String {
        guard s.utf8.contains(where: { replacement(for: $0, inAttribute: inAttribute) != nil }) else { return s }
        var out = [UInt8]()
        out.reserveCapacity(s.utf8.count + 16)
        for byte in s.utf8 {
            if let r = replacement(for: byte, inAttribute: inAttribute) { out.append(contentsOf: r.utf8) } else { out.append(byte) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension XMLElement: CustomStringConvertible {
    /// The element serialised with its own namespace declared.
    public var description: String { XMLSerializer.serialize(self) }
}
