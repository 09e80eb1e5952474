import XMLModel

/// Service discovery information (XEP-0030 §3): identities and features of an entity, the payload
/// of `<query xmlns='http://jabber.org/protocol/disco#info'/>`. Extended info forms (XEP-0128) are kept verbatim.
public struct DiscoInfo: Sendable, Hashable {
    /// XEP-0030 §3.1 identity: category/type from the registry, optional name and language.
    public struct Identity: Sendable, Hashable, CustomStringConvertible {
        public var category: String
        public var type: String
        public var name: String?
        public var lang: String?

        public init(category: String, type: String, name: String? = nil, lang: String? = nil) {
            self.category = category
            self.type = type
            self.name = name
            self.lang = lang
        }

        public var description: String {
            "\(category)/\(type)" + (name.map { " (\($0))" } ?? "")
        }
    }

    public var node: String?
    public var identities: [Identity]
    public var features: [String]
    /// XEP-0128 data forms and anything else in the query, verbatim.
    public var extensions: [XMLElement]

    public init(node: String? = nil, identities: [Identity], features: [String], extensions: [XMLElement] = []) {
        self.node = node
        self.identities = identities
        self.features = features
        self.extensions = extensions
    }

    /// Parses a disco#info `<query/>`; nil when the element is not one.
    public init?(element: XMLElement) {
        guard element.name == "query", element.namespace == XMPPNamespace.discoInfo else { return nil }
        node = element.attribute("node")
        identities = []
        features = []
        extensions = []
        for child in element.elements {
            if child.namespace == XMPPNamespace.discoInfo, child.name == "identity" {
                guard let category = child.attribute("category"), let type = child.attribute("type") else { continue }
                identities.append(
                    Identity(
                        category: category, type: type, name: child.attribute("name"),
                        lang: child.attribute("lang", namespace: xmlNamespaceURI)))
            } else if child.namespace == XMPPNamespace.discoInfo, child.name == "feature" {
                if let v = child.attribute("var") { features.append(v) }
            } else {
                extensions.append(child)
            }
        }
    }

    public var element: XMLElement {
        var query = XMLElement("query", namespace: XMPPNamespace.discoInfo)
        query.setAttribute("node", node)
        for identity in identities {
            var e = XMLElement(
                "identity", namespace: XMPPNamespace.discoInfo,
                ["category": identity.category, "type": identity.type])
            e.setAttribute("name", identity.name)
            e.setAttribute("lang", identity.lang, namespace: xmlNamespaceURI)
            query.append(e)
        }
        for feature in features {
            query.append(XMLElement("feature", namespace: XMPPNamespace.discoInfo, ["var": feature]))
        }
        for e in extensions { query.append(e) }
        return query
    }

    public func supports(_ feature: String) -> Bool { features.contains(feature) }

    /// A disco#info request (XEP-0030 §3.1) to `to`, optionally about `node`.
    public static func request(id: String, to: JID?, node: String? = nil) -> IQ {
        var query = XMLElement("query", namespace: XMPPNamespace.discoInfo)
        query.setAttribute("node", node)
        return IQ(type: .get, id: id, to: to, payload: query)
    }
}

/// The namespaces a Jingle audio client supports, advertised in its disco#info (XEP-0030 §3.2).
public enum JingleFeatures {
    public static let jingle = "urn:xmpp:jingle:1"
    public static let rtp = "urn:xmpp:jingle:apps:rtp:1"
    public static let rtpAudio = "urn:xmpp:jingle:apps:rtp:audio"
    public static let iceUDP = "urn:xmpp:jingle:transports:ice-udp:1"
    public static let rawUDP = "urn:xmpp:jingle:transports:raw-udp:1"
    public static let dtls = "urn:xmpp:jingle:apps:dtls:0"
    public static let rtcpFeedback = "urn:xmpp:jingle:apps:rtp:rtcp-fb:0"
    public static let headerExtensions = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0"
    public static let grouping = "urn:xmpp:jingle:apps:grouping:0"
    public static let jingleMessage = "urn:xmpp:jingle-message:0"

    /// What a JingleKit voice client answers, besides disco#info itself and ping.
    public static let voiceClient: [String] = [
        jingle, rtp, rtpAudio, iceUDP, rawUDP, dtls, rtcpFeedback, headerExtensions, grouping, jingleMessage,
    ]
}

/// Answers disco#info requests about ourselves (XEP-0030 §3.1): a client identity (`client/bot`
/// or `client/phone`) and our features. Requests for a node we do not know get `item-not-found`.
public struct DiscoResponder: Sendable, Hashable {
    public var info: DiscoInfo

    public init(info: DiscoInfo) {
        self.info = info
    }

    /// A Jingle voice client: `client/<type>` named `name`, with disco#info, ping and the Jingle features.
    public init(
        identityType: String = "bot", name: String = "JingleKit",
        features: [String] = JingleFeatures.voiceClient
    ) {
        var all = [XMPPNamespace.discoInfo, XMPPNamespace.ping]
        for f in features where !all.contains(f) { all.append(f) }
        info = DiscoInfo(identities: [.init(category: "client", type: identityType, name: name)], features: all)
    }

    /// The answer to `request` when it is a disco#info get; nil when it is not one.
    public func answer(_ request: IQ) -> IQ? {
        guard request.type == .get, let query = request.payload,
            query.name == "query", query.namespace == XMPPNamespace.discoInfo
        else { return nil }
        if let node = query.attribute("node") {
            guard node == info.node else { return request.error(StanzaError(.itemNotFound)) }
        }
        return request.result(payload: info.element)
    }
}
