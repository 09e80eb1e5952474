#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XMLStream
import XMPPCore

/// An XMPP client session (RFC 6120, RFC 6121) over swift-nio: connects (explicit address or DNS
/// SRV, RFC 6120 §3.2), negotiates STARTTLS, SASL and binding with `ClientStreamNegotiator`, then
/// sends and receives stanzas.
///
/// Incoming messages, presences and IQ requests not handled internally arrive on `stanzas`.
/// disco#info (XEP-0030) and ping (XEP-0199) are answered automatically; IQ requests with a
/// payload namespace registered with `setIQHandler` go to that handler, those of a namespace
/// given to `streamIQRequests` arrive on `stanzas` for the application to answer; any other get/set is
/// answered with `service-unavailable` (RFC 6120 §8.4).
///
/// ```swift
/// let client = XMPPClient(configuration: .init(jid: JID("alice@example.com")!, password: secret))
/// let info = try await client.connect()
/// let services = try await client.fetchExternalServices()
/// await client.disconnect()
/// ```
public actor XMPPClient {
    public let configuration: XMPPClientConfiguration
    private let group: EventLoopGroup
    private let logger: Logger

    /// Incoming stanzas not handled internally, in arrival order, across reconnects.
    public nonisolated let stanzas: AsyncStream<Stanza>
    private let stanzaSink: AsyncStream<Stanza>.Continuation
    private nonisolated let outlet: StanzaOutlet
    /// Connection changes (connected, disconnected, reconnecting).
    public nonisolated let connectionEvents: AsyncStream<ConnectionEvent>
    private let eventSink: AsyncStream<ConnectionEvent>.Continuation

    private var channel: Channel?
    private var handler: XMPPStreamHandler?
    private var iqHandlers: [String: IQRequestHandler] = [:]
    private var streamedIQNamespaces: Set<String> = []
    /// The connection as `enqueue` sees it, without a hop to this actor.
    private nonisolated let live = NIOLockedValueBox<LiveConnection?>(nil)
    private var reconnectPolicy: ReconnectPolicy?
    private var reconnectTask: Task<Void, Never>?
    private var connecting: Task<ConnectionInfo, Error>?
    private var userDisconnected = false
    private var nextRequestNumber = 0
    /// XEP-0198 state of the last connection, to resume it on the next one.
    private var lastSession: StreamManagement?
    /// The JID bound last: a new session asks for the same resource.
    private var lastBoundJID: JID?

    /// What the current connection negotiated; nil when not connected.
    public private(set) var connectionInfo: ConnectionInfo?

    public init(
        configuration: XMPPClientConfiguration,
        eventLoopGroup: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "jinglekit.xmpp")
    ) {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
        (stanzas, stanzaSink) = AsyncStream.makeStream(of: Stanza.self)
        outlet = StanzaOutlet(stanzaSink)
        (connectionEvents, eventSink) = AsyncStream.makeStream(of: ConnectionEvent.self, bufferingPolicy: .bufferingNewest(64))
        reconnectPolicy = configuration.reconnect
    }

    deinit {
        stanzaSink.finish()
        eventSink.finish()
    }

    public var isConnected: Bool { connectionInfo != nil }

    // MARK: Connecting

    /// Connects and negotiates a session; returns what was negotiated.
    ///
    /// Addresses: `configuration.server` if set, else the `_xmpp-client._tcp.<domain>` SRV targets
    /// in priority order, else the domain on 5222. TCP failures move on to the next address;
    /// a negotiation failure (TLS, authentication, binding) ends the attempt with its error.
    @discardableResult
    public func connect() async throws(XMPPError) -> ConnectionInfo {
        if let connectionInfo { return connectionInfo }
        userDisconnected = false
        reconnectTask?.cancel()
        reconnectTask = nil
        // A second caller while a connect is under way waits for the same attempt.
        if let connecting {
            return try await Self.value(of: connecting)
        }
        let task = Task { () throws -> ConnectionInfo in try await self.establish() }
        connecting = task
        defer { connecting = nil }
        return try await Self.value(of: task)
    }

    private static func value(of task: Task<ConnectionInfo, Error>) async throws(XMPPError) -> ConnectionInfo {
        do {
            return try await task.value
        } catch {
            throw (error as? XMPPError) ?? .connectionLost(reason: "\(error)")
        }
    }

    private func establish() async throws(XMPPError) -> ConnectionInfo {
        let targets = await resolveTargets()
        var reasons: [String] = []
        for target in targets {
            let handler = XMPPStreamHandler(
                configuration: configuration, host: target.host, port: target.port,
                eventLoop: group.next(), stanzaSink: outlet, iqHandlers: iqHandlers,
                streamedIQNamespaces: streamedIQNamespaces, logger: logger, previousSession: lastSession, bindJID: lastBoundJID)
            let channel: Channel
            do {
                channel = try await ClientBootstrap(group: handler.ready.futureResult.eventLoop)
                    .connectTimeout(Self.timeAmount(configuration.connectTimeout))
                    .channelOption(.socketOption(.so_keepalive), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture(withResultOf: {
                            try channel.pipeline.syncOperations.addHandler(handler)
                        })
                    }
                    .connect(host: target.host, port: target.port).get()
            } catch {
                logger.debug("TCP connect failed", metadata: ["target": "\(target)", "error": "\(error)"])
                reasons.append("\(target): \(Self.describe(error))")
                // The handler never ran: complete its promises so nothing leaks.
                handler.ready.fail(XMPPError.unreachable(reason: "\(error)"))
                handler.closed.succeed(nil)
                continue
            }
            let info: ConnectionInfo
            do {
                info = try await handler.ready.futureResult.get()
            } catch {
                channel.close(promise: nil)
                throw (error as? XMPPError) ?? .connectionLost(reason: "\(error)")
            }
            self.channel = channel
            self.handler = handler
            live.withLockedValue { $0 = LiveConnection(channel: channel, handler: handler) }
            self.connectionInfo = info
            lastBoundJID = info.boundJID
            lastSession = nil
            reconnectPolicy?.reset()
            eventSink.yield(.connected(info))
            handler.closed.futureResult.whenSuccess { [weak self] error in
                // On the event loop: the handler's stream management state is final now.
                let session = handler.streamManagement
                guard let self else { return }
                Task { await self.connectionEnded(channel: channel, error: error, session: session) }
            }
            return info
        }
        throw .unreachable(reason: reasons.isEmpty ? "no address to connect to" : reasons.joined(separator: "; "))
    }

    private func resolveTargets() async -> [XMPPClientConfiguration.ServerAddress] {
        if let server = configuration.server { return [server] }
        let domain = configuration.jid.domainpart
        var targets: [XMPPClientConfiguration.ServerAddress] = []
        if domain != "localhost", !domain.contains(":"), domain.contains(where: { $0.isLetter }) {
            switch await SRVResolver.resolve(domain: domain, nameserver: configuration.dnsServer, timeout: configuration.dnsTimeout) {
            case .success(let records):
                targets = records.map { .init(host: $0.target, port: Int($0.port)) }
                logger.debug("SRV lookup", metadata: ["domain": "\(domain)", "records": "\(records)"])
            case .failure(let error):
                logger.debug("SRV lookup: none, trying the domain on 5222", metadata: ["domain": "\(domain)", "reason": "\(error)"])
            }
        }
        let fallback = XMPPClientConfiguration.ServerAddress(host: domain, port: 5222)
        if !targets.contains(fallback) { targets.append(fallback) }
        return targets
    }

    private func connectionEnded(channel: Channel, error: XMPPError?, session: StreamManagement? = nil) {
        guard channel === self.channel else { return }
        self.channel = nil
        self.handler = nil
        live.withLockedValue { $0 = nil }
        connectionInfo = nil
        lastSession = userDisconnected ? nil : session
        eventSink.yield(.disconnected(error))
        guard error != nil, !userDisconnected, reconnectPolicy != nil else { return }
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        guard reconnectTask == nil, var policy = reconnectPolicy,
            let delay = policy.nextDelay(random: Double.random(in: 0..<1))
        else { return }
        reconnectPolicy = policy
        eventSink.yield(.reconnecting(attempt: policy.attempt, delay: delay))
        reconnectTask = Task { [weak self] in
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled, let self else { return }
            await self.reconnectAttempt()
        }
    }

    private func reconnectAttempt() async {
        reconnectTask = nil
        guard !userDisconnected, connectionInfo == nil else { return }
        do {
            _ = try await establish()
        } catch {
            logger.info("reconnect failed", metadata: ["error": "\(error)"])
            if case .sasl = error { return } // a wrong password does not get better by retrying
            scheduleReconnect()
        }
    }

    /// Ends the session with `</stream:stream>` and closes the connection; no reconnect follows.
    public func disconnect() async {
        userDisconnected = true
        lastSession = nil
        reconnectTask?.cancel()
        reconnectTask = nil
        guard let channel, let handler else { return }
        channel.eventLoop.execute { handler.closeStream() }
        _ = try? await handler.closed.futureResult.get()
        _ = try? await channel.closeFuture.get()
        connectionEnded(channel: channel, error: nil)
    }

    // MARK: Sending

    /// A fresh stanza id.
    public func makeID() -> String {
        nextRequestNumber += 1
        return "jk\(nextRequestNumber)-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Sends any top-level element (a stanza in `jabber:client`).
    public func send(_ element: XMLElement) async throws(XMPPError) {
        guard let channel, let handler else { throw .notConnected }
        let result: Result<Void, XMPPError>
        do {
            result = try await channel.eventLoop.submit { () -> Result<Void, XMPPError> in
                do throws(XMPPError) { try handler.send(element); return .success(()) } catch { return .failure(error) }
            }.get()
        } catch {
            throw .connectionLost(reason: "\(error)")
        }
        try result.get()
    }

    public func send(_ message: Message) async throws(XMPPError) { try await send(message.element) }
    public func send(_ presence: Presence) async throws(XMPPError) { try await send(presence.element) }

    /// Sends presence (RFC 6121 §4.2), available by default.
    public func sendPresence(_ presence: Presence = Presence()) async throws(XMPPError) {
        try await send(presence.element)
    }

    /// Sends an IQ request and returns its `result`. An `error` response throws
    /// `XMPPError.stanza`; no response in `timeout` throws `XMPPError.timeout`. An empty id is
    /// replaced by a fresh one. Responses are matched by id and sender (RFC 6120 §8.2.3).
    public func sendIQ(_ iq: IQ, timeout: Duration? = nil) async throws(XMPPError) -> IQ {
        guard let channel, let handler else { throw .notConnected }
        var request = iq
        if request.id.isEmpty { request.id = makeID() }
        let promise = channel.eventLoop.makePromise(of: IQ.self)
        let deadline = timeout ?? configuration.requestTimeout
        let sendable = request
        channel.eventLoop.execute { handler.sendIQ(sendable, timeout: deadline, promise: promise) }
        let response: IQ
        do {
            response = try await promise.futureResult.get()
        } catch {
            throw (error as? XMPPError) ?? .connectionLost(reason: "\(error)")
        }
        if response.type == .error { throw .stanza(response.error ?? StanzaError(.undefinedCondition)) }
        return response
    }

    /// Writes `element` without waiting for the write: it is queued on the connection's event
    /// loop, after everything queued before it by `enqueue` and `enqueueRequest`. `onFailure`
    /// runs (on the event loop) when there is no session to write it on.
    public nonisolated func enqueue(_ element: XMLElement, onFailure: @escaping @Sendable (XMPPError) -> Void) {
        guard let connection = live.withLockedValue({ $0 }) else { onFailure(.notConnected); return }
        connection.channel.eventLoop.execute {
            do throws(XMPPError) { try connection.handler.send(element) } catch { onFailure(error) }
        }
    }

    /// Writes an IQ request (`get` or `set` with an id) without waiting, exactly as `request`
    /// holds it, queued as `enqueue` queues, and hands `onResponse` (on the event loop) the
    /// response, `result` or `error`, or the failure (`timeout`, connection lost). False, with
    /// nothing written and `onResponse` never called, when `request` is not such an IQ (or an
    /// address in it does not parse): it cannot be tracked.
    @discardableResult
    public nonisolated func enqueueRequest(
        _ request: XMLElement, timeout: Duration,
        onResponse: @escaping @Sendable (Result<IQ, XMPPError>) -> Void
    ) -> Bool {
        guard let iq = IQ(element: request), iq.type == .get || iq.type == .set, !iq.id.isEmpty else { return false }
        guard let connection = live.withLockedValue({ $0 }) else { onResponse(.failure(.notConnected)); return true }
        let eventLoop = connection.channel.eventLoop
        if eventLoop.inEventLoop {
            connection.handler.sendIQ(iq, element: request, timeout: timeout, onResponse: onResponse)
        } else {
            eventLoop.execute { connection.handler.sendIQ(iq, element: request, timeout: timeout, onResponse: onResponse) }
        }
        return true
    }

    /// Stanzas not handled internally go to `handler`, called on the connection's event loop as
    /// each is read, instead of to `stanzas` (no task resumed per stanza); nil restores the stream.
    /// The handler gets each stanza's element exactly as it was read (a `Stanza` value's
    /// `element` is rebuilt from what it parsed: unknown attributes and extra children are gone).
    public nonisolated func receiveStanzas(_ handler: (@Sendable (XMLElement) -> Void)?) {
        outlet.setHandler(handler)
    }

    /// IQ get/set requests whose payload is in `namespace` arrive on `stanzas` (as `.iq`) or at
    /// the `receiveStanzas` handler, in order with the messages around them, instead of going to
    /// an IQ handler; the application
    /// answers each one itself (RFC 6120 §8.2.3). `false` restores the handler or the default.
    public func streamIQRequests(namespace: String, _ on: Bool = true) async {
        if on { streamedIQNamespaces.insert(namespace) } else { streamedIQNamespaces.remove(namespace) }
        if let channel, let current = self.handler {
            try? await channel.eventLoop.submit { current.streamIQRequests(namespace: namespace, on) }.get()
        }
    }

    /// Handles incoming IQ get/set whose payload is in `namespace`; the handler returns the
    /// response (use `request.result(payload:)` or `request.error(_:)`). Nil removes it.
    /// The handler is in force for requests that arrive after this returns.
    public func setIQHandler(namespace: String, _ handler: IQRequestHandler?) async {
        iqHandlers[namespace] = handler
        if let channel, let current = self.handler {
            try? await channel.eventLoop.submit { current.setIQHandler(namespace: namespace, handler) }.get()
        }
    }

    // MARK: Services

    /// XEP-0215: the STUN/TURN services the server announces (optionally only `type`), asking
    /// `urn:xmpp:extdisco:2` first and `urn:xmpp:extdisco:1` when the server does not know :2.
    public func fetchExternalServices(type: String? = nil, timeout: Duration? = nil) async throws(XMPPError) -> [ExternalService] {
        let server = JID(localpart: nil, domainpart: configuration.jid.domainpart)
        do {
            let result = try await sendIQ(ExternalServiceDiscovery.servicesRequest(id: makeID(), to: server, type: type), timeout: timeout)
            return try ExternalServiceDiscovery.parseServices(result)
        } catch {
            guard case .stanza(let stanzaError) = error, ExternalServiceDiscovery.shouldFallBack(from: stanzaError) else { throw error }
            let result = try await sendIQ(
                ExternalServiceDiscovery.servicesRequest(
                    id: makeID(), to: server, type: type,
                    namespace: XMPPNamespace.extdisco1), timeout: timeout)
            return try ExternalServiceDiscovery.parseServices(result)
        }
    }

    /// XEP-0215 §3.2: credentials for a `restricted` service.
    public func fetchCredentials(for service: ExternalService, timeout: Duration? = nil) async throws(XMPPError) -> [ExternalService] {
        let server = JID(localpart: nil, domainpart: configuration.jid.domainpart)
        let request = ExternalServiceDiscovery.credentialsRequest(
            id: makeID(), to: server, host: service.host,
            type: service.type, port: service.port)
        return try ExternalServiceDiscovery.parseServices(try await sendIQ(request, timeout: timeout))
    }

    /// XEP-0030: the identities and features of `entity` (nil: our server).
    public func discoInfo(of entity: JID? = nil, node: String? = nil, timeout: Duration? = nil) async throws(XMPPError) -> DiscoInfo {
        let target = entity ?? JID(localpart: nil, domainpart: configuration.jid.domainpart)
        let result = try await sendIQ(DiscoInfo.request(id: makeID(), to: target, node: node), timeout: timeout)
        guard let payload = result.payload, let info = DiscoInfo(element: payload) else {
            throw .protocolViolation("disco#info result without a disco#info query")
        }
        return info
    }

    /// XEP-0199: pings `entity` (nil: our server) and returns the round-trip time.
    @discardableResult
    public func ping(_ entity: JID? = nil, timeout: Duration? = nil) async throws(XMPPError) -> Duration {
        let start = ContinuousClock.now
        let target = entity ?? JID(localpart: nil, domainpart: configuration.jid.domainpart)
        _ = try await sendIQ(Ping.request(id: makeID(), to: target), timeout: timeout)
        return ContinuousClock.now - start
    }

    // MARK: Helpers

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// A short reason for a failed TCP connect: "connection refused", "cannot resolve host", "timed out".
    static func describe(_ error: Error) -> String {
        if let e = error as? NIOConnectionError {
            if e.dnsAError != nil || e.dnsAAAAError != nil, e.connectionErrors.isEmpty { return "cannot resolve host" }
            if let first = e.connectionErrors.first { return describe(first.error) }
        }
        if let e = error as? IOError { return String(cString: strerror(e.errnoCode)).lowercased() }
        if case ChannelError.connectTimeout = error { return "connect timed out" }
        return "\(error)"
    }
}

/// The channel and stream handler of the current connection.
private struct LiveConnection: Sendable {
    let channel: Channel
    let handler: XMPPStreamHandler
}
