import XMLModel

/// A STUN/TURN (or other) service the server points us to (XEP-0215 §3, `<service/>`).
/// `description` redacts the password; use `redacted(false)` only where showing it is intended.
public struct ExternalService: Sendable, Hashable, CustomStringConvertible {
    public var type: String
    public var host: String
    public var port: UInt16?
    /// `udp`, `tcp` or `tls`... as the server says.
    public var transport: String?
    public var username: String?
    public var password: String?
    /// XEP-0082 DateTime when the credentials stop working, as sent.
    public var expires: String?
    /// True when credentials must be requested separately (XEP-0215 §3.2, `restricted`).
    public var restricted: Bool
    public var name: String?
    /// In pushes: `add`, `modify` or `delete` (XEP-0215 §3.4).
    public var action: String?

    public init(
        type: String, host: String, port: UInt16? = nil, transport: String? = nil,
        username: String? = nil, password: String? = nil, expires: String? = nil,
        restricted: Bool = false, name: String? = nil, action: String? = nil
    ) {
        self.type = type
        self.host = host
        self.port = port
        self.transport = transport
        self.username = username
        self.password = password
        self.expires = expires
        self.restricted = restricted
        self.name = name
        self.action = action
    }

    /// Parses `<service/>` in extdisco:2 or :1; throws naming the missing or bad attribute.
    public init(element: XMLElement) throws(XMPPError) {
        guard element.name == "service" else {
            throw .protocolViolation("expected <service/>, got <\(element.name)/>")
        }
        guard let type = element.attribute("type"), !type.isEmpty else {
            throw .protocolViolation("external service without a 'type'")
        }
        guard let host = element.attribute("host"), !host.isEmpty else {
            throw .protocolViolation("external \(type) service without a 'host'")
        }
        var port: UInt16? = nil
        if let p = element.attribute("port") {
            guard let parsed = UInt16(p.trimmingSpaces), parsed > 0 else {
                throw .protocolViolation("external \(type) service at \(host) has a bad port '\(p)'")
            }
            port = parsed
        }
        let restrictedText = element.attribute("restricted") ?? "false"
        self.init(
            type: type, host: host, port: port, transport: element.attribute("transport"),
            username: element.attribute("username"), password: element.attribute("password"),
            expires: element.attribute("expires"),
            restricted: restrictedText == "1" || restrictedText == "true",
            name: element.attribute("name"), action: element.attribute("action"))
    }

    /// The `<service/>` element in `namespace`.
    public func element(namespace: String = XMPPNamespace.extdisco2) -> XMLElement {
        var e = XMLElement("service", namespace: namespace)
        e.setAttribute("action", action)
        e.setAttribute("expires", expires)
        e.setAttribute("host", host)
        e.setAttribute("name", name)
        e.setAttribute("password", password)
        e.setAttribute("port", port.map(String.init))
        if restricted { e.setAttribute("restricted", "1") }
        e.setAttribute("transport", transport)
        e.setAttribute("type", type)
        e.setAttribute("username", username)
        return e
    }

    /// A one-line description; the password is shown as `***` unless `redacted` is false.
    public func summary(redacted: Bool = true) -> String {
        var s = "\(type):\(host)"
        if let port { s += ":\(port)" }
        if let transport { s += " transport=\(transport)" }
        if let username { s += " username=\(username)" }
        if let password { s += " password=\(redacted ? "***" : password)" }
        if let expires { s += " expires=\(expires)" }
        if restricted { s += " restricted" }
        if let name { s += " name=\"\(name)\"" }
        return s
    }

    public var description: String { summary(redacted: true) }
}

/// Requests and responses of XEP-0215 external service discovery, in `urn:xmpp:extdisco:2` with
/// the fallback to `urn:xmpp:extdisco:1` for servers that only know the old namespace.
public enum ExternalServiceDiscovery {
    /// `<services/>` request (XEP-0215 §3.1), optionally only of `type` (e.g. `turn`).
    public static func servicesRequest(
        id: String, to server: JID, type: String? = nil,
        namespace: String = XMPPNamespace.extdisco2
    ) -> IQ {
        var services = XMLElement("services", namespace: namespace)
        services.setAttribute("type", type)
        return IQ(type: .get, id: id, to: server, payload: services)
    }

    /// `<credentials/>` request for a restricted service (XEP-0215 §3.2).
    public static func credentialsRequest(
        id: String, to server: JID, host: String, type: String,
        port: UInt16? = nil, namespace: String = XMPPNamespace.extdisco2
    ) -> IQ {
        var service = XMLElement("service", namespace: namespace, ["host": host, "type": type])
        service.setAttribute("port", port.map(String.init))
        var credentials = XMLElement("credentials", namespace: namespace)
        credentials.append(service)
        return IQ(type: .get, id: id, to: server, payload: credentials)
    }

    /// The services in a `<services/>` or `<credentials/>` result payload (either namespace).
    /// A result with no payload means no services.
    public static func parseServices(_ result: IQ) throws(XMPPError) -> [ExternalService] {
        if result.type == .error { throw .stanza(result.error ?? StanzaError(.undefinedCondition)) }
        guard let payload = result.payload else { return [] }
        guard payload.name == "services" || payload.name == "credentials",
            payload.namespace == XMPPNamespace.extdisco2 || payload.namespace == XMPPNamespace.extdisco1
        else {
            throw .protocolViolation("expected external services, got <\(payload.name) xmlns='\(payload.namespace)'/>")
        }
        var services: [ExternalService] = []
        for child in payload.children("service", namespace: payload.namespace) {
            services.append(try ExternalService(element: child))
        }
        return services
    }

    /// Whether an error to an extdisco:2 request means "try extdisco:1" (the server does not know :2).
    public static func shouldFallBack(from error: StanzaError) -> Bool {
        error.condition == .featureNotImplemented || error.condition == .serviceUnavailable
    }
}
