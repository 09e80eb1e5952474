import XMLStream

/// A small recursive-descent reader of well-formed test XML into `XMLElement` trees, with
/// namespace prefixes resolved and the five predefined entities plus character references
/// decoded. Comments, processing instructions and the XML declaration are skipped. Test-only:
/// the streaming parser is the production path.
struct TestXMLReader {
    struct Failure: Error, CustomStringConvertible {
        let offset: Int
        let message: String
        var description: String { "XML error at byte \(offset): \(message)" }
    }

    private let bytes: [UInt8]
    private var i = 0

    /// Every top-level element of `text`, in order.
    static func parseAll(_ text: String, defaultNamespace: String = "jabber:client") throws -> [XMLElement] {
        var r = TestXMLReader(bytes: Array(text.utf8))
        var out: [XMLElement] = []
        while true {
            r.skipMisc()
            if r.i >= r.bytes.count { break }
            out.append(try r.element(scopes: [["xml": xmlNamespaceURI]], defaultNS: defaultNamespace))
        }
        return out
    }

    /// The single top-level element of `text`.
    static func parse(_ text: String, defaultNamespace: String = "jabber:client") throws -> XMLElement {
        let all = try parseAll(text, defaultNamespace: defaultNamespace)
        guard all.count == 1 else { throw Failure(offset: 0, message: "expected one root element, found \(all.count)") }
        return all[0]
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func fail(_ m: String) -> Failure { Failure(offset: i, message: m) }
    private var peek: UInt8? { i < bytes.count ? bytes[i] : nil }
    private func starts(_ s: String) -> Bool {
        let u = Array(s.utf8)
        return i + u.count <= bytes.count && Array(bytes[i..<(i + u.count)]) == u
    }

    private mutating func skipSpace() {
        while let c = peek, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { i += 1 }
    }

    private mutating func skipUntil(_ s: String) {
        while i < bytes.count, !starts(s) { i += 1 }
        i = min(bytes.count, i + s.utf8.count)
    }

    /// Whitespace, comments, PIs between top-level elements.
    private mutating func skipMisc() {
        while true {
            skipSpace()
            if starts("<?") { skipUntil("?>") } else if starts("<!--") { skipUntil("-->") } else { return }
        }
    }

    private mutating func name() throws -> String {
        let start = i
        while let c = peek,
            !(c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D || c == UInt8(ascii: "/")
                || c == UInt8(ascii: ">") || c == UInt8(ascii: "="))
        { i += 1 }
        guard i > start else { throw fail("expected a name") }
        return String(decoding: bytes[start..<i], as: UTF8.self)
    }

    private mutating func expect(_ c: Character) throws {
        guard let p = peek, p == c.asciiValue else { throw fail("expected '\(c)'") }
        i += 1
    }

    private func decode(_ raw: ArraySlice<UInt8>) throws -> String {
        let s = String(decoding: raw, as: UTF8.self)
        guard s.contains("&") else { return s }
        var out = ""
        var rest = Substring(s)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { throw fail("unterminated entity") }
            let ent = rest[rest.index(after: amp)..<semi]
            switch ent {
            case "lt": out += "<"
            case "gt": out += ">"
            case "amp": out += "&"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var code: UInt32? = nil
                if ent.hasPrefix("#x") {
                    code = UInt32(ent.dropFirst(2), radix: 16)
                } else if ent.hasPrefix("#") {
                    code = UInt32(ent.dropFirst())
                }
                guard let code, let scalar = Unicode.Scalar(code) else { throw fail("unknown entity &\(ent);") }
                out.unicodeScalars.append(scalar)
            }
            rest = rest[rest.index(after: semi)...]
        }
        out += rest
        return out
    }

    private mutating func element(scopes: [[String: String]], defaultNS: String) throws -> XMLElement {
        try expect("<")
        let qname = try name()
        var rawAttrs: [(String, String)] = []
        while true {
            skipSpace()
            guard let c = peek else { throw fail("unexpected end in tag") }
            if c == UInt8(ascii: "/") || c == UInt8(ascii: ">") { break }
            let an = try name()
            skipSpace(); try expect("="); skipSpace()
            guard let q = peek, q == UInt8(ascii: "'") || q == UInt8(ascii: "\"") else { throw fail("expected quote") }
            i += 1
            let start = i
            while let p = peek, p != q { guard p != UInt8(ascii: "<") else { throw fail("'<' in attribute") }; i += 1 }
            guard peek != nil else { throw fail("unterminated attribute") }
            let v = try decode(bytes[start..<i])
            i += 1
            guard !rawAttrs.contains(where: { $0.0 == an }) else { throw fail("duplicate attribute \(an)") }
            rawAttrs.append((an, v))
        }
        var scope: [String: String] = [:]
        var ns = defaultNS
        for (k, v) in rawAttrs {
            if k == "xmlns" { ns = v } else if k.hasPrefix("xmlns:") { scope[String(k.dropFirst(6))] = v }
        }
        let scopes = scope.isEmpty ? scopes : scopes + [scope]
        func resolve(_ p: String) throws -> String {
            for s in scopes.reversed() { if let u = s[p] { return u } }
            throw fail("unbound prefix \(p)")
        }
        var local = qname
        if let colon = qname.firstIndex(of: ":") {
            ns = try resolve(String(qname[..<colon]))
            local = String(qname[qname.index(after: colon)...])
        }
        var e = XMLElement(name: local, namespace: ns)
        for (k, v) in rawAttrs where k != "xmlns" && !k.hasPrefix("xmlns:") {
            if let colon = k.firstIndex(of: ":") {
                e.attributes.append(
                    XMLAttribute(name: String(k[k.index(after: colon)...]), namespace: try resolve(String(k[..<colon])), value: v))
            } else {
                e.attributes.append(XMLAttribute(name: k, value: v))
            }
        }
        if starts("/>") { i += 2; return e }
        try expect(">")
        while true {
            guard i < bytes.count else { throw fail("unclosed <\(qname)>") }
            if starts("</") {
                i += 2
                let end = try name()
                guard end == qname else { throw fail("</\(end)> closes <\(qname)>") }
                skipSpace(); try expect(">")
                return e
            } else if starts("<!--") {
                skipUntil("-->")
            } else if starts("<![CDATA[") {
                i += 9
                let start = i
                skipUntil("]]>")
                e.append(text: String(decoding: bytes[start..<(i - 3)], as: UTF8.self))
            } else if starts("<?") {
                skipUntil("?>")
            } else if peek == UInt8(ascii: "<") {
                e.append(try element(scopes: scopes, defaultNS: ns))
            } else {
                let start = i
                while let p = peek, p != UInt8(ascii: "<") { i += 1 }
                e.append(text: try decode(bytes[start..<i]))
            }
        }
    }
}
