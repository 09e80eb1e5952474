import XMPPCore

/// How an `XMPPClient` connects and behaves.
public struct XMPPClientConfiguration: Sendable {
    /// An explicit server address, bypassing DNS SRV.
    public struct ServerAddress: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int

        public init(host: String, port: Int = 5222) {
            self.host = host
            self.port = port
        }

        /// Parses `host:port`, `host` (port 5222) or `[v6]:port`; nil when malformed.
        public init?(_ text: String) {
            if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
                let host = String(text[text.index(after: text.startIndex)..<close])
                let rest = text[text.index(after: close)...]
                if rest.isEmpty { self.init(host: host); return }
                guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else { return nil }
                self.init(host: host, port: port)
                return
            }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard let first = parts.first, !first.isEmpty else { return nil }
            if parts.count == 1 { self.init(host: String(first)); return }
            guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else { return nil }
            self.init(host: String(first), port: port)
        }

        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// The account; a resourcepart is requested at bind time, otherwise the server assigns one.
    public var jid: JID
    public var password: String
    /// Connect here instead of looking up `_xmpp-client._tcp.<domain>`.
    public var server: ServerAddress?
    /// PEM file of CAs to trust instead of the system store (for a self-signed test server).
    public var trustedCAFile: String?
    /// Continue without TLS when the server does not offer STARTTLS. For tests only.
    public var allowPlaintext: Bool
    /// Acceptable SASL mechanisms, most preferred first.
    public var mechanisms: [SASLMechanismName]
    /// TCP connect timeout per address.
    public var connectTimeout: Duration
    /// How long each negotiation step may wait for the server.
    public var negotiationStepTimeout: Duration
    /// How long the DNS SRV lookup may take before falling back to the domain on 5222.
    public var dnsTimeout: Duration
    /// The DNS resolvers for the SRV lookup, `ip` or `ip:port` (several separated by commas, no search
    /// domains); nil uses glibc's resolver as /etc/resolv.conf configures it.
    public var dnsServer: String?
    /// Default deadline for `sendIQ`.
    public var requestTimeout: Duration
    /// Our disco#info (XEP-0030) answer.
    public var disco: DiscoResponder
    /// Reconnect after a lost connection with this back-off; nil to stay disconnected.
    public var reconnect: ReconnectPolicy?
    /// XEP-0199: ping the server after this much silence from it; nil never pings.
    public var pingInterval: Duration?
    /// How long a keep-alive ping (or anything else from the server) may take to arrive before
    /// the connection counts as dead, is closed and (with `reconnect`) reconnected.
    public var pingTimeout: Duration
    /// XEP-0198: enable stream management with resumption when the server offers it, and
    /// resume the session after a lost connection.
    public var streamManagement: Bool

    public init(
        jid: JID, password: String, server: ServerAddress? = nil, trustedCAFile: String? = nil,
        allowPlaintext: Bool = false, mechanisms: [SASLMechanismName] = SASLMechanismName.preferenceOrder,
        connectTimeout: Duration = .seconds(10), negotiationStepTimeout: Duration = .seconds(30),
        dnsTimeout: Duration = .seconds(3), dnsServer: String? = nil, requestTimeout: Duration = .seconds(30),
        disco: DiscoResponder = DiscoResponder(), reconnect: ReconnectPolicy? = nil,
        pingInterval: Duration? = .seconds(30), pingTimeout: Duration = .seconds(10), streamManagement: Bool = true
    ) {
        self.jid = jid
        self.password = password
        self.server = server
        self.trustedCAFile = trustedCAFile
        self.allowPlaintext = allowPlaintext
        self.mechanisms = mechanisms
        self.connectTimeout = connectTimeout
        self.negotiationStepTimeout = negotiationStepTimeout
        self.dnsTimeout = dnsTimeout
        self.dnsServer = dnsServer
        self.requestTimeout = requestTimeout
        self.disco = disco
        self.reconnect = reconnect
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.streamManagement = streamManagement
    }
}
