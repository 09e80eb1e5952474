import CryptoPrimitives
import XMLModel

/// Client-side stream negotiation (RFC 6120 §4-7) as a sans-IO state machine: stream header,
/// features, STARTTLS (§5), stream restart, SASL (§6), restart, resource binding (§7) and, where a
/// server still requires it, the legacy session (RFC 3921 §3).
///
/// The driver calls `start(now:)`, feeds every parser event with `handle(_:now:)`, reports the TLS
/// handshake with `tlsEstablished(now:)`, calls `handleTimeout(now:)` at `nextDeadline`, and carries
/// out every returned `Action` in order. TLS is required: negotiation fails with
/// `XMPPError.tlsRequiredButNotOffered` unless `Configuration.allowPlaintext` is set (for tests).
public struct ClientStreamNegotiator: Sendable {
    /// What the negotiator needs to know before it starts.
    public struct Configuration: Sendable {
        /// The account; its resourcepart, if any, is the resource requested at bind time.
        public var jid: JID
        public var password: String
        /// Continue without STARTTLS when the server does not offer it. For tests only.
        public var allowPlaintext: Bool
        /// Acceptable SASL mechanisms, most preferred first.
        public var mechanisms: [SASLMechanismName]
        /// How long each step may wait for the server.
        public var stepTimeout: Duration
        /// A fixed SCRAM client nonce, so tests can reproduce exchanges. Random when nil.
        public var clientNonce: String?
        /// XEP-0198 §5: resume this session instead of binding, when the server offers
        /// `urn:xmpp:sm:3`; on `<failed/>` the negotiator binds afresh.
        public var resumption: StreamManagement.Resumption?

        public init(
            jid: JID, password: String, allowPlaintext: Bool = false,
            mechanisms: [SASLMechanismName] = SASLMechanismName.preferenceOrder,
            stepTimeout: Duration = .seconds(30), clientNonce: String? = nil,
            resumption: StreamManagement.Resumption? = nil
        ) {
            self.jid = jid
            self.password = password
            self.allowPlaintext = allowPlaintext
            self.mechanisms = mechanisms
            self.stepTimeout = stepTimeout
            self.clientNonce = clientNonce
            self.resumption = resumption
        }
    }

    /// What the driver must do, in order.
    public enum Action: Sendable, Hashable {
        /// Write these bytes (already serialised XML) to the connection.
        case send(String)
        /// Put TLS at the front of the pipeline and handshake; then call `tlsEstablished(now:)`.
        case startTLS
        /// Discard the parser state: the next bytes start a new stream (RFC 6120 §4.3.3).
        case resetParser
        /// Negotiation finished: the stream is ready for stanzas.
        case ready(boundJID: JID, features: StreamFeatures)
        /// Negotiation failed; the driver closes the stream.
        case failed(XMPPError)
    }

    /// Which stream of the negotiation we are on (each restart opens a new one).
    public enum Phase: Sendable, Hashable {
        case initial, secured, authenticated
    }

    enum State: Sendable {
        case idle
        case awaitingHeader(Phase)
        case awaitingFeatures(Phase)
        case awaitingProceed
        case awaitingTLSHandshake
        case authenticating(SASLClient)
        case resuming(StreamManagement.Resumption, StreamFeatures)
        case binding(id: String)
        case establishingSession(id: String, jid: JID, features: StreamFeatures)
        case ready
        case failed
    }

    public let configuration: Configuration
    private var state: State = .idle
    /// True once TLS is up on this connection.
    public private(set) var isTLSEstablished = false
    /// The SASL mechanism that authenticated us.
    public private(set) var saslMechanism: SASLMechanismName?
    /// The most recent `<stream:features/>`; after negotiation, the post-authentication features.
    public private(set) var features: StreamFeatures?
    /// The `id` of the server's current stream header.
    public private(set) var streamID: String?
    /// The JID the server bound.
    public private(set) var boundJID: JID?
    /// How an attempt to resume (`Configuration.resumption`) ended: nil when none was made.
    public private(set) var resumeOutcome: ResumeOutcome?
    public enum ResumeOutcome: Sendable, Hashable {
        /// `<resumed/>`: the old session goes on; the server had handled `serverHandled` of our stanzas.
        case resumed(serverHandled: UInt32)
        /// `<failed/>`: a new session was bound instead.
        case failed(reason: String)
    }
    /// When the current step times out; nil when nothing is awaited.
    public private(set) var nextDeadline: EngineInstant?

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    public var isReady: Bool { if case .ready = state { true } else { false } }
    public var isFinished: Bool {
        switch state {
        case .ready, .failed: true
        default: false
        }
    }

    /// Opens the first stream.
    public mutating func start(now: EngineInstant) -> [Action] {
        guard case .idle = state else { return [] }
        return openStream(.initial, now: now)
    }

    /// Reports that the TLS handshake requested by `.startTLS` completed.
    public mutating func tlsEstablished(now: EngineInstant) -> [Action] {
        guard case .awaitingTLSHandshake = state else {
            return fail(.protocolViolation("TLS established when no STARTTLS was under way"))
        }
        isTLSEstablished = true
        return [.resetParser] + openStream(.secured, now: now)
    }

    /// Fails negotiation when the current step has waited past its deadline.
    public mutating func handleTimeout(now: EngineInstant) -> [Action] {
        guard let deadline = nextDeadline, now >= deadline else { return [] }
        return fail(.timeout(what: waitingFor))
    }

    /// Feeds one parser event.
    public mutating func handle(_ event: XMLStreamEvent, now: EngineInstant) -> [Action] {
        switch event {
        case .streamClosed:
            switch state {
            case .ready, .failed: return []
            default: return fail(.connectionLost(reason: "the server closed the stream while \(waitingFor) was awaited"))
            }
        case .streamOpened(let header):
            guard case .awaitingHeader(let phase) = state else {
                return fail(.protocolViolation("unexpected stream header"))
            }
            let version = header.attribute("version") ?? ""
            guard let major = version.split(separator: ".").first.flatMap({ Int($0) }), major >= 1 else {
                return fail(.protocolViolation("server stream version '\(version)' is not 1.0"))
            }
            streamID = header.attribute("id")
            state = .awaitingFeatures(phase)
            nextDeadline = now + configuration.stepTimeout
            return []
        case .element(let element):
            if element.name == "error", element.namespace == XMPPNamespace.stream {
                let error = StreamError(element: element) ?? StreamError(.undefinedCondition)
                return fail(.stream(error))
            }
            return handle(element: element, now: now)
        }
    }

    private mutating func handle(element: XMLElement, now: EngineInstant) -> [Action] {
        switch state {
        case .awaitingFeatures(let phase):
            guard element.name == "features", element.namespace == XMPPNamespace.stream else {
                return unexpected(element)
            }
            let features = StreamFeatures(element: element)
            self.features = features
            return negotiate(features, phase: phase, now: now)

        case .awaitingProceed:
            guard element.namespace == XMPPNamespace.tls else { return unexpected(element) }
            if element.name == "proceed" {
                state = .awaitingTLSHandshake
                nextDeadline = now + configuration.stepTimeout
                return [.startTLS]
            }
            if element.name == "failure" { return fail(.tls(reason: "the server refused STARTTLS")) }
            return unexpected(element)

        case .authenticating(var sasl):
            guard element.namespace == XMPPNamespace.sasl else { return unexpected(element) }
            switch element.name {
            case "challenge":
                guard let data = ClientStreamNegotiator.decodeSASLPayload(element.text) else {
                    return fail(.authentication(reason: "SASL challenge is not valid base64"))
                }
                do {
                    let response = try sasl.respond(to: data)
                    state = .authenticating(sasl)
                    nextDeadline = now + configuration.stepTimeout
                    return [.send(ClientStreamNegotiator.saslElement("response", payload: response))]
                } catch {
                    return fail(error)
                }
            case "success":
                guard let data = ClientStreamNegotiator.decodeSASLPayload(element.text) else {
                    return fail(.authentication(reason: "SASL success data is not valid base64"))
                }
                do {
                    try sasl.succeed(with: data)
                } catch {
                    return fail(error)
                }
                saslMechanism = sasl.mechanism
                return [.resetParser] + openStream(.authenticated, now: now)
            case "failure":
                return fail(.sasl(SASLFailure(element: element) ?? SASLFailure(.notAuthorized)))
            default:
                return unexpected(element)
            }

        case .binding(let id):
            guard let iq = IQ(element: element), iq.id == id, iq.type == .result || iq.type == .error else {
                return unexpected(element)
            }
            if iq.type == .error {
                let error = iq.error ?? StanzaError(.undefinedCondition)
                return fail(.bind(reason: "\(error)"))
            }
            guard let jidText = iq.payload?.child("jid", namespace: XMPPNamespace.bind)?.text,
                let jid = JID(jidText.trimmingSpaces), jid.isFull
            else {
                return fail(.bind(reason: "the server's bind result carries no valid full JID"))
            }
            boundJID = jid
            let features = self.features ?? StreamFeatures(element: XMLElement("features", namespace: XMPPNamespace.stream))
            if features.sessionRequired {
                let sessionID = "sess_1"
                state = .establishingSession(id: sessionID, jid: jid, features: features)
                nextDeadline = now + configuration.stepTimeout
                let request = IQ(type: .set, id: sessionID, payload: XMLElement("session", namespace: XMPPNamespace.session))
                return [.send(XMLSerializer.serialize(request.element, parentNamespace: XMPPNamespace.client))]
            }
            state = .ready
            nextDeadline = nil
            return [.ready(boundJID: jid, features: features)]

        case .resuming(let resumption, let features):
            guard element.namespace == XMPPNamespace.streamManagement else { return unexpected(element) }
            switch element.name {
            case "resumed":
                let h = element.attribute("h").flatMap(UInt32.init) ?? 0
                resumeOutcome = .resumed(serverHandled: h)
                boundJID = resumption.boundJID
                state = .ready
                nextDeadline = nil
                return [.ready(boundJID: resumption.boundJID, features: features)]
            case "failed":
                let condition = element.elements.first { $0.namespace == XMPPNamespace.stanzas }?.name ?? "failed"
                resumeOutcome = .failed(reason: condition)
                return bind(now: now)
            default:
                return unexpected(element)
            }

        case .establishingSession(let id, let jid, let features):
            guard let iq = IQ(element: element), iq.id == id, iq.type == .result || iq.type == .error else {
                return unexpected(element)
            }
            if iq.type == .error {
                return fail(.session(reason: "\(iq.error ?? StanzaError(.undefinedCondition))"))
            }
            state = .ready
            nextDeadline = nil
            return [.ready(boundJID: jid, features: features)]

        case .idle, .awaitingHeader, .awaitingTLSHandshake:
            return unexpected(element)
        case .ready, .failed:
            return []
        }
    }

    private mutating func negotiate(_ features: StreamFeatures, phase: Phase, now: EngineInstant) -> [Action] {
        switch phase {
        case .initial:
            if features.startTLS {
                state = .awaitingProceed
                nextDeadline = now + configuration.stepTimeout
                return [
                    .send(
                        XMLSerializer.serialize(
                            XMLElement("starttls", namespace: XMPPNamespace.tls),
                            parentNamespace: XMPPNamespace.client))
                ]
            }
            guard configuration.allowPlaintext else { return fail(.tlsRequiredButNotOffered) }
            return authenticate(features, now: now)
        case .secured:
            return authenticate(features, now: now)
        case .authenticated:
            if let resumption = configuration.resumption, features.streamManagement {
                state = .resuming(resumption, features)
                nextDeadline = now + configuration.stepTimeout
                return [.send(StreamManagement.resumeRequest(resumption))]
            }
            return bind(now: now)
        }
    }

    private mutating func bind(now: EngineInstant) -> [Action] {
        let features = self.features ?? StreamFeatures(element: XMLElement("features", namespace: XMPPNamespace.stream))
        guard features.bind else { return fail(.bind(reason: "the server does not offer resource binding")) }
        let id = "bind_1"
        var bind = XMLElement("bind", namespace: XMPPNamespace.bind)
        if let resource = configuration.jid.resourcepart {
            bind.append(XMLElement("resource", namespace: XMPPNamespace.bind, text: resource))
        }
        state = .binding(id: id)
        nextDeadline = now + configuration.stepTimeout
        let request = IQ(type: .set, id: id, payload: bind)
        return [.send(XMLSerializer.serialize(request.element, parentNamespace: XMPPNamespace.client))]
    }

    private mutating func authenticate(_ features: StreamFeatures, now: EngineInstant) -> [Action] {
        let mechanism: SASLMechanismName
        do {
            mechanism = try SASLClient.select(
                offered: features.saslMechanisms, tlsEstablished: isTLSEstablished,
                preference: configuration.mechanisms)
        } catch {
            return fail(error)
        }
        let authcid = configuration.jid.localpart ?? ""
        var sasl = SASLClient(
            mechanism: mechanism, authcid: authcid, password: configuration.password,
            clientNonce: configuration.clientNonce)
        let initial = sasl.initialResponse()
        state = .authenticating(sasl)
        nextDeadline = now + configuration.stepTimeout
        var auth = XMLElement("auth", namespace: XMPPNamespace.sasl, ["mechanism": mechanism.rawValue])
        auth.append(text: initial.isEmpty ? "=" : Base64.encode(initial))
        return [.send(XMLSerializer.serialize(auth, parentNamespace: XMPPNamespace.client))]
    }

    private mutating func openStream(_ phase: Phase, now: EngineInstant) -> [Action] {
        state = .awaitingHeader(phase)
        nextDeadline = now + configuration.stepTimeout
        // RFC 6120 §4.7.1: include 'from' once the stream is protected.
        let from = isTLSEstablished ? configuration.jid.bare.description : nil
        return [.send(XMLSerializer.streamHeader(to: configuration.jid.domainpart, from: from))]
    }

    private mutating func unexpected(_ element: XMLElement) -> [Action] {
        fail(.protocolViolation("unexpected <\(element.name) xmlns='\(element.namespace)'/> while \(waitingFor) was awaited"))
    }

    private mutating func fail(_ error: XMPPError) -> [Action] {
        if case .failed = state { return [] }
        state = .failed
        nextDeadline = nil
        return [.failed(error)]
    }

    /// A description of what the current state waits for, for errors.
    private var waitingFor: String {
        switch state {
        case .idle: "the connection"
        case .awaitingHeader: "the server's stream header"
        case .awaitingFeatures: "stream features"
        case .awaitingProceed: "the STARTTLS answer"
        case .awaitingTLSHandshake: "the TLS handshake"
        case .authenticating: "the SASL exchange"
        case .resuming: "stream resumption"
        case .binding: "resource binding"
        case .establishingSession: "session establishment"
        case .ready: "nothing"
        case .failed: "nothing"
        }
    }

    /// Decodes SASL element text: empty or `=` is an empty payload (RFC 6120 §6.4.2).
    static func decodeSASLPayload(_ text: String) -> [UInt8]? {
        let trimmed = text.trimmingSpaces
        if trimmed.isEmpty || trimmed == "=" { return [] }
        return Base64.decode(trimmed)
    }

    static func saslElement(_ name: String, payload: [UInt8]) -> String {
        var e = XMLElement(name, namespace: XMPPNamespace.sasl)
        if !payload.isEmpty { e.append(text: Base64.encode(payload)) }
        return XMLSerializer.serialize(e, parentNamespace: XMPPNamespace.client)
    }
}
