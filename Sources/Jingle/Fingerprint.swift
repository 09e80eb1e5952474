import XMLModel

/// The DTLS role a party takes (XEP-0320 §3 'setup', RFC 4145 `a=setup`).
public enum DTLSSetup: String, Sendable, Hashable, CaseIterable, Codable {
    case active, passive, actpass, holdconn
}

/// A DTLS certificate fingerprint inside a transport, `<fingerprint hash setup>value</fingerprint>`
/// (XEP-0320 §3), SDP `a=fingerprint` and `a=setup`.
public struct Fingerprint: Sendable, Hashable {
    public var hash: String
    /// Required by the schema; some senders omit it, so absence is kept as nil.
    public var setup: DTLSSetup?
    public var value: String
    public var required: String?
    public var extraAttributes: [XMLAttribute]

    public init(hash: String, setup: DTLSSetup?, value: String, required: String? = nil, extraAttributes: [XMLAttribute] = []) {
        self.hash = hash
        self.setup = setup
        self.value = value
        self.required = required
        self.extraAttributes = extraAttributes
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "fingerprint", namespace: JingleNamespace.dtls)
        hash = try r.required("hash")
        setup = try r.optional("setup", as: DTLSSetup.self)
        required = r.optional("required")
        value = String(element.text.trimmingSpaces)
        guard !value.isEmpty else { throw .invalidText(element: "fingerprint", text: element.text) }
        extraAttributes = r.unknownAttributes
    }

    public var element: XMLElement {
        var e = XMLElement(
            "fingerprint", namespace: JingleNamespace.dtls,
            ordered: [("hash", hash), ("setup", setup?.rawValue), ("required", required)], extra: extraAttributes)
        e.append(text: value)
        return e
    }
}
