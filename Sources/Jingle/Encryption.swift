import XMLModel

/// SDES-SRTP keying, `<encryption required><crypto/>...</encryption>` (XEP-0167 §8, RFC 4568),
/// SDP `a=crypto`. Other children (e.g. ZRTP hashes) are kept verbatim.
public struct Encryption: Sendable, Hashable {
    public var required: Bool?
    public var crypto: [Crypto]
    public var extraAttributes: [XMLAttribute]
    public var extraChildren: [XMLElement]

    public init(required: Bool? = nil, crypto: [Crypto], extraAttributes: [XMLAttribute] = [], extraChildren: [XMLElement] = []) {
        self.required = required
        self.crypto = crypto
        self.extraAttributes = extraAttributes
        self.extraChildren = extraChildren
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "encryption", namespace: JingleNamespace.rtp)
        if let raw = r.optional("required") {
            switch raw {
            case "1", "true": required = true
            case "0", "false": required = false
            default: throw .invalidAttribute(element: "encryption", attribute: "required", value: raw)
            }
        } else {
            required = nil
        }
        extraAttributes = r.unknownAttributes
        crypto = []
        extraChildren = []
        for c in element.elements {
            if c.name == "crypto", c.namespace == JingleNamespace.rtp {
                crypto.append(try Crypto(element: c))
            } else {
                extraChildren.append(c)
            }
        }
    }

    public var element: XMLElement {
        var e = XMLElement(
            "encryption", namespace: JingleNamespace.rtp,
            ordered: [("required", required.map { $0 ? "1" : "0" })], extra: extraAttributes)
        e.append(contentsOf: crypto.map(\.element))
        e.append(contentsOf: extraChildren)
        return e
    }
}

/// One SDES crypto line, `<crypto crypto-suite key-params session-params tag/>` (XEP-0167 §8).
public struct Crypto: Sendable, Hashable {
    public var cryptoSuite: String
    public var keyParams: String
    public var sessionParams: String?
    public var tag: String
    public var extraAttributes: [XMLAttribute]

    public init(cryptoSuite: String, keyParams: String, sessionParams: String? = nil, tag: String, extraAttributes: [XMLAttribute] = []) {
        self.cryptoSuite = cryptoSuite
        self.keyParams = keyParams
        self.sessionParams = sessionParams
        self.tag = tag
        self.extraAttributes = extraAttributes
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "crypto", namespace: JingleNamespace.rtp)
        cryptoSuite = try r.required("crypto-suite")
        keyParams = try r.required("key-params")
        sessionParams = r.optional("session-params")
        tag = try r.required("tag")
        extraAttributes = r.unknownAttributes
    }

    public var element: XMLElement {
        XMLElement(
            "crypto", namespace: JingleNamespace.rtp,
            ordered: [
                ("crypto-suite", cryptoSuite), ("key-params", keyParams), ("session-params", sessionParams), ("tag", tag),
            ], extra: extraAttributes)
    }
}

/// A bandwidth limit, `<bandwidth type>value</bandwidth>` (XEP-0167 §4), SDP `b=`.
public struct Bandwidth: Sendable, Hashable {
    public var type: String
    public var value: String
    public var extraAttributes: [XMLAttribute]

    public init(type: String, value: String, extraAttributes: [XMLAttribute] = []) {
        self.type = type
        self.value = value
        self.extraAttributes = extraAttributes
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "bandwidth", namespace: JingleNamespace.rtp)
        type = try r.required("type")
        value = String(element.text.trimmingSpaces)
        extraAttributes = r.unknownAttributes
    }

    public var element: XMLElement {
        var e = XMLElement("bandwidth", namespace: JingleNamespace.rtp, ordered: [("type", type)], extra: extraAttributes)
        if !value.isEmpty { e.append(text: value) }
        return e
    }
}
