#if canImport(Glibc)
    import Glibc
#endif
import DriverClock
import Logging
import NIOConcurrencyHelpers
import NIOCore
import TLS
import XMLStream
import XMPPCore

/// An incoming IQ request handler: gets the request, returns the response (a result or an error).
public typealias IQRequestHandler = @Sendable (IQ) async -> IQ

/// The driver of one XMPP connection (ARCHITECTURE.md, "driver contract"): feeds received bytes to
/// the `XMLStreamParser`, parser events to the `ClientStreamNegotiator` and then to stanza routing,
/// carries out every action, and keeps one timer at the engines' next deadline.
///
/// `@unchecked Sendable`: NIO calls the handler on the channel's event loop, and every other entry
/// point (`sendIQ`, `write`, `closeStream`, `setIQHandler`) is only called inside
/// `eventLoop.execute`/`submit` by `XMPPClient`, so all mutable state is touched on that loop only.
final class XMPPStreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let configuration: XMPPClientConfiguration
    private let host: String
    private let port: Int
    private let logger: Logger
    private let stanzaSink: StanzaOutlet
    private var iqHandlers: [String: IQRequestHandler]
    /// Each handler's requests in arrival order, answered one after the other by one task: a
    /// Jingle session's requests must reach it in the order they came (a transport-info right
    /// after its session-initiate, XEP-0176 §2.3), which a task per request did not guarantee.
    private var requestLanes: [String: AsyncStream<IQ>.Continuation] = [:]
    /// Payload namespaces whose IQ requests go to `stanzaSink` in order, for the application to answer.
    private var streamedIQNamespaces: Set<String>

    private let parser = XMLStreamParser()
    private var parserGeneration = 0
    private var negotiator: ClientStreamNegotiator
    private var tracker = IQTracker()
    private var pending: [String: IQWaiter] = [:]
    private var tlsInfo: TLSHandshakeCompleted?
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var timerDeadline: EngineInstant?
    /// The engines' clock: `now` counts from when this handler was made.
    private let clock = EngineClock()
    private var closeTimer: Scheduled<Void>?
    /// XEP-0198 state: carried in from the previous connection (to resume it) and out again
    /// when this one ends (`streamManagement`, read on the event loop once `closed` completes).
    private var previousSession: StreamManagement?
    private(set) var streamManagement = StreamManagement()
    /// XEP-0199 pings after silence, once the session is ready.
    private var keepAlive: KeepAlive?

    /// Completed with the connection's info once negotiated, or failed with an `XMPPError`.
    let ready: EventLoopPromise<ConnectionInfo>
    private var readyCompleted = false
    /// Completed when the connection ends: with the error, or nil after `closeStream()`.
    let closed: EventLoopPromise<XMPPError?>
    private var terminated = false
    /// Output of this loop tick not written yet (see `write(text:)`).
    private var pendingOutput: ByteBuffer?
    private var closingByUs = false

    /// - Parameters:
    ///   - previousSession: the stream management state of the connection before, to resume.
    ///   - resource: the resource to ask for at bind time (the one bound before), when not configured.
    init(
        configuration: XMPPClientConfiguration, host: String, port: Int, eventLoop: EventLoop,
        stanzaSink: StanzaOutlet, iqHandlers: [String: IQRequestHandler],
        streamedIQNamespaces: Set<String> = [], logger: Logger, previousSession: StreamManagement? = nil, bindJID: JID? = nil
    ) {
        self.configuration = configuration
        self.host = host
        self.port = port
        self.logger = logger
        self.stanzaSink = stanzaSink
        self.iqHandlers = iqHandlers
        self.streamedIQNamespaces = streamedIQNamespaces
        self.previousSession = configuration.streamManagement ? previousSession : nil
        self.negotiator = ClientStreamNegotiator(
            configuration: .init(
                jid: bindJID ?? configuration.jid, password: configuration.password, allowPlaintext: configuration.allowPlaintext,
                mechanisms: configuration.mechanisms, stepTimeout: configuration.negotiationStepTimeout,
                resumption: self.previousSession?.resumption))
        self.ready = eventLoop.makePromise(of: ConnectionInfo.self)
        self.closed = eventLoop.makePromise(of: XMPPError?.self)
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        terminate(.connectionLost(reason: "connection handler removed"), notifyServer: false)
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start()
        context.fireChannelActive()
    }

    private var started = false
    private func start() {
        guard !started else { return }
        started = true
        apply(negotiator.start(now: clock.now))
    }

    func channelInactive(context: ChannelHandlerContext) {
        terminate(closingByUs ? nil : .connectionLost(reason: "the server closed the connection"), notifyServer: false)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let tlsError = error as? TLSError {
            terminate(.tls(reason: "\(tlsError)"), notifyServer: false)
        } else {
            terminate(.connectionLost(reason: "\(error)"), notifyServer: false)
        }
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let completed = event as? TLSHandshakeCompleted {
            tlsInfo = completed
            logger.debug("TLS established", metadata: ["version": "\(completed.protocolVersion)", "cipher": "\(completed.cipherSuite)"])
            apply(negotiator.tlsEstablished(now: clock.now))
            rearmTimer()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !terminated else { return }
        let buffer = unwrapInboundIn(data)
        keepAlive?.heard(now: clock.now)
        let events: [XMLStreamEvent]
        do {
            events = try parser.feed(buffer.readableBytesView)
        } catch {
            logger.warning("malformed XML from server", metadata: ["error": "\(error)"])
            let condition = StreamError.Condition(rawValue: error.streamErrorCondition) ?? .notWellFormed
            terminate(.malformedXML(error.description), notifyServer: true, streamError: StreamError(condition))
            return
        }
        let generation = parserGeneration
        for event in events {
            // A restart discards what the old stream's parser still held.
            guard !terminated, generation == parserGeneration else { break }
            handle(event)
        }
        rearmTimer()
    }

    /// After each read, our ACK goes out at once (Linux TCP_QUICKACK; the kernel clears it again
    /// by itself). Servers that keep Nagle on, as Prosody does by default (`nagle = true`), hold
    /// a small stanza until the one before it is acknowledged, and a delayed ACK makes that wait
    /// 40 ms: a JMI `<proceed/>` right behind a `<ringing/>` arrived 40 ms late in most calls.
    func channelReadComplete(context: ChannelHandlerContext) {
        #if os(Linux)
            _ = try? context.channel.syncOptions?.setOption(Self.quickAck, value: 1)
        #endif
        context.fireChannelReadComplete()
    }

    #if os(Linux)
        private static let quickAck = ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: CInt(TCP_QUICKACK)))
    #endif

    // MARK: Events

    private func handle(_ event: XMLStreamEvent) {
        guard negotiator.isReady else {
            apply(negotiator.handle(event, now: clock.now))
            return
        }
        switch event {
        case .streamClosed:
            if closingByUs {
                terminate(nil, notifyServer: false)
            } else {
                terminate(.connectionLost(reason: "the server closed the stream"), notifyServer: true)
            }
        case .streamOpened:
            terminate(.protocolViolation("a second stream header"), notifyServer: true, streamError: StreamError(.invalidXML))
        case .element(let element):
            if element.name == "error", element.namespace == XMPPNamespace.stream {
                terminate(.stream(StreamError(element: element) ?? StreamError(.undefinedCondition)), notifyServer: true)
                return
            }
            if element.namespace == XMPPNamespace.streamManagement {
                carryOut(streamManagement.handle(element))
                return
            }
            guard let stanza = Stanza(element: element) else {
                logger.debug("ignoring non-stanza element", metadata: ["name": "\(element.name)", "ns": "\(element.namespace)"])
                return
            }
            streamManagement.received()
            route(stanza, element)
        }
    }

    private func carryOut(_ outputs: [StreamManagement.Output]) {
        for output in outputs {
            switch output {
            case .send(let text): write(text: text)
            case .enabled(let resumable): logger.debug("stream management enabled", metadata: ["resumable": "\(resumable)"])
            case .enableFailed: logger.info("the server refused stream management")
            }
        }
    }

    private func route(_ stanza: Stanza, _ element: XMLElement) {
        guard case .iq(let iq) = stanza else {
            stanzaSink.deliver(stanza, element)
            return
        }
        switch iq.type {
        case .result, .error:
            if KeepAlive.isAnswer(iq) { return }
            if let completion = tracker.match(iq), let waiter = pending.removeValue(forKey: completion.id) {
                waiter.succeed(iq)
            } else {
                logger.debug("ignoring unmatched IQ response", metadata: ["id": "\(iq.id)", "from": "\(iq.from?.description ?? "-")"])
            }
        case .get, .set:
            if let answer = Ping.answer(iq) ?? configuration.disco.answer(iq) {
                write(element: answer.element)
            } else if let namespace = iq.payload?.namespace, streamedIQNamespaces.contains(namespace) {
                stanzaSink.deliver(stanza, element)
            } else if let namespace = iq.payload?.namespace, let handler = iqHandlers[namespace] {
                lane(namespace, handler).yield(iq)
            } else if iq.payload != nil {
                // RFC 6120 §8.4: a request nobody here understands.
                write(element: iq.error(StanzaError(.serviceUnavailable)).element)
            } else {
                write(element: iq.error(StanzaError(.badRequest)).element)
            }
        }
    }

    private func apply(_ actions: [ClientStreamNegotiator.Action]) {
        for action in actions {
            guard !terminated else { return }
            switch action {
            case .send(let text):
                write(text: text)
            case .startTLS:
                guard let context else { return }
                do {
                    let tls = try NIOTLSHandler.client(
                        TLSClientConfiguration(
                            serverName: configuration.jid.domainpart,
                            trustedCAFile: configuration.trustedCAFile))
                    try context.pipeline.syncOperations.addHandler(tls, position: .first)
                } catch let error as TLSError {
                    terminate(.tls(reason: "\(error)"), notifyServer: false)
                } catch {
                    terminate(.tls(reason: "\(error)"), notifyServer: false)
                }
            case .resetParser:
                parser.reset()
                parserGeneration += 1
            case .ready(let jid, let features):
                tracker.ownJID = jid
                guard let mechanism = negotiator.saslMechanism else { return }
                var resend: [String] = []
                var resumed = false
                switch negotiator.resumeOutcome {
                case .resumed(let h)?:
                    if var previous = previousSession {
                        resend = previous.resumed(serverHandled: h)
                        streamManagement = previous
                        resumed = true
                    }
                case .failed(let reason)?:
                    let lost = previousSession?.abandon() ?? []
                    logger.info(
                        "stream resumption failed; new session", metadata: ["reason": "\(reason)", "unacknowledged": "\(lost.count)"])
                case nil:
                    break
                }
                previousSession = nil
                if !resumed, configuration.streamManagement, features.streamManagement {
                    streamManagement = StreamManagement()
                    carryOut(streamManagement.enable(resume: true))
                }
                streamManagement.boundJID = jid
                if let interval = configuration.pingInterval {
                    keepAlive = KeepAlive(interval: interval, timeout: configuration.pingTimeout, now: clock.now)
                }
                var info = ConnectionInfo(
                    host: host, port: port, tlsVersion: tlsInfo?.protocolVersion,
                    cipherSuite: tlsInfo?.cipherSuite, peerCertificateSubject: tlsInfo?.peerCertificateSubject,
                    saslMechanism: mechanism, boundJID: jid, features: features, streamID: negotiator.streamID)
                info.resumed = resumed
                info.streamManagement = streamManagement.state != .inactive
                logger.info("XMPP session ready", metadata: ["jid": "\(jid)", "sasl": "\(mechanism)", "resumed": "\(resumed)"])
                for text in resend { writeStanza(text: text) }
                if !readyCompleted {
                    readyCompleted = true
                    ready.succeed(info)
                }
            case .failed(let error):
                let notify: Bool
                switch error {
                case .connectionLost, .tls: notify = false
                default: notify = true
                }
                terminate(error, notifyServer: notify)
            }
        }
    }

    // MARK: Requests from XMPPClient (on the event loop)

    /// Sends a request and completes `promise` with its response (result or error); `element`,
    /// when given, is what is written (as the application built it), `iq` what is tracked.
    func sendIQ(_ iq: IQ, element: XMLElement? = nil, timeout: Duration, promise: EventLoopPromise<IQ>) {
        sendIQ(iq, element: element ?? iq.element, timeout: timeout, waiter: .promise(promise))
    }

    /// `sendIQ` for a caller on the event loop that takes the answer in `onResponse` (no promise
    /// and future per request: the load harness sends thousands a second).
    func sendIQ(_ iq: IQ, element: XMLElement, timeout: Duration, onResponse: @escaping @Sendable (Result<IQ, XMPPError>) -> Void) {
        sendIQ(iq, element: element, timeout: timeout, waiter: .callback(onResponse))
    }

    private func sendIQ(_ iq: IQ, element: XMLElement, timeout: Duration, waiter: IQWaiter) {
        guard negotiator.isReady, !terminated, !closingByUs else {
            waiter.fail(.notConnected)
            return
        }
        tracker.register(iq, deadline: clock.now + timeout)
        pending[iq.id] = waiter
        write(element: element)
        rearmTimer()
    }

    /// Sends a stanza or other element when the session is ready.
    func send(_ element: XMLElement) throws(XMPPError) {
        guard negotiator.isReady, !terminated, !closingByUs else { throw .notConnected }
        write(element: element)
    }

    func setIQHandler(namespace: String, _ handler: IQRequestHandler?) {
        iqHandlers[namespace] = handler
        // Requests already queued are still answered by the handler they came for.
        requestLanes.removeValue(forKey: namespace)?.finish()
    }

    /// The lane of `namespace`'s requests, made with its task on first use.
    private func lane(_ namespace: String, _ handler: @escaping IQRequestHandler) -> AsyncStream<IQ>.Continuation {
        if let lane = requestLanes[namespace] { return lane }
        let (requests, lane) = AsyncStream.makeStream(of: IQ.self)
        let eventLoop = context?.eventLoop
        Task {
            for await request in requests {
                let response = await handler(request)
                eventLoop?.execute { self.write(element: response.element) }
            }
        }
        requestLanes[namespace] = lane
        return lane
    }

    func streamIQRequests(namespace: String, _ on: Bool) {
        if on { streamedIQNamespaces.insert(namespace) } else { streamedIQNamespaces.remove(namespace) }
    }

    /// Ends the stream politely: `</stream:stream>`, then close when the server answers in kind or after 2 s.
    func closeStream() {
        guard !terminated, let context else { return }
        guard !closingByUs else { return }
        closingByUs = true
        write(text: XMLSerializer.streamFooter)
        closeTimer = context.eventLoop.scheduleTask(in: .seconds(2)) { [self] in
            terminate(nil, notifyServer: false)
        }
    }

    // MARK: Output, timer, termination

    private func write(element: XMLElement) {
        let text = XMLSerializer.serialize(element, parentNamespace: XMPPNamespace.client)
        let name = element.name
        if name == "iq" || name == "message" || name == "presence", element.namespace == XMPPNamespace.client || element.namespace.isEmpty {
            writeStanza(text: text)
        } else {
            write(text: text)
        }
    }

    /// Writes a stanza and counts it for stream management (which may ask for an ack).
    private func writeStanza(text: String) {
        write(text: text)
        carryOut(streamManagement.sent(text))
    }

    /// On a ready session, what one loop tick writes (a stanza and the `<r/>` after it, the
    /// answers to a batch of stanzas read) goes out together at the end of the tick: one TLS
    /// record and one system call. Before that (STARTTLS changes the pipeline between writes)
    /// and once ending, each write goes out at once.
    private func write(text: String) {
        guard let context, context.channel.isActive else { return }
        guard negotiator.isReady, !terminated else {
            flushOutput()
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: text)), promise: nil)
            return
        }
        if pendingOutput == nil {
            pendingOutput = context.channel.allocator.buffer(capacity: max(1024, text.utf8.count))
            context.eventLoop.execute { [self] in flushOutput() }
        }
        pendingOutput?.writeString(text)
    }

    private func flushOutput() {
        guard let buffer = pendingOutput else { return }
        pendingOutput = nil
        guard let context, context.channel.isActive else { return }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    private func rearmTimer() {
        guard !terminated, let context else { return }
        func earlier(_ a: EngineInstant?, _ b: EngineInstant?) -> EngineInstant? {
            guard let a else { return b }
            guard let b else { return a }
            return min(a, b)
        }
        guard let next = earlier(earlier(negotiator.nextDeadline, tracker.nextDeadline), keepAlive?.nextDeadline) else {
            timer?.cancel()
            timer = nil
            timerDeadline = nil
            return
        }
        // An earlier timer stays: when it fires, nothing is due yet and it is armed again for
        // `next`. Re-scheduling on every read (the keep-alive moves with each) cost a task each.
        if let armed = timerDeadline, timer != nil, armed <= next { return }
        timer?.cancel()
        timerDeadline = next
        let delay = next - clock.now
        let (seconds, attoseconds) = delay.components
        let nanos = max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        timer = context.eventLoop.scheduleTask(in: .nanoseconds(nanos)) { [self] in
            timer = nil
            timerDeadline = nil
            timerFired()
        }
    }

    private func timerFired() {
        guard !terminated else { return }
        let now = clock.now
        apply(negotiator.handleTimeout(now: now))
        for id in tracker.handleTimeout(now: now) {
            pending.removeValue(forKey: id)?.fail(XMPPError.timeout(what: "the answer to IQ '\(id)'"))
        }
        if negotiator.isReady, !closingByUs {
            switch keepAlive?.handleTimeout(now: now, server: JID(localpart: nil, domainpart: configuration.jid.domainpart)) {
            case .ping(let iq)?:
                logger.debug("silence: pinging the server", metadata: ["id": "\(iq.id)"])
                write(element: iq.element)
            case .dead(let silence)?:
                let tenths = silence.components.seconds * 10 + silence.components.attoseconds / 100_000_000_000_000_000
                terminate(
                    .connectionLost(reason: "no answer from the server for \(tenths / 10).\(tenths % 10) s"),
                    notifyServer: false)
                return
            case nil:
                break
            }
        }
        rearmTimer()
    }

    /// Ends the connection once: optionally tells the server (stream error and/or footer), closes
    /// the channel, fails everything waiting, and completes `closed`.
    private func terminate(_ error: XMPPError?, notifyServer: Bool, streamError: StreamError? = nil) {
        guard !terminated else { return }
        if notifyServer {
            if let streamError { write(text: streamError.serialized) }
            if !closingByUs { write(text: XMLSerializer.streamFooter) }
        }
        terminated = true
        requestLanes.values.forEach { $0.finish() }
        requestLanes = [:]
        timer?.cancel()
        timer = nil
        closeTimer?.cancel()
        closeTimer = nil
        if let error { logger.info("XMPP connection ended", metadata: ["reason": "\(error)"]) }
        let failure = error ?? .connectionLost(reason: "disconnected")
        for id in tracker.cancelAll() {
            pending.removeValue(forKey: id)?.fail(failure)
        }
        for (_, waiter) in pending { waiter.fail(failure) }
        pending.removeAll()
        if !readyCompleted {
            readyCompleted = true
            ready.fail(failure)
        }
        closed.succeed(error)
        flushOutput()
        if let context, context.channel.isActive { context.close(promise: nil) }
    }
}

/// Where the stanzas an application gets go: `XMPPClient.stanzas`, or a handler called on the
/// event loop with each one's element as it was read (`XMPPClient.receiveStanzas`).
final class StanzaOutlet: @unchecked Sendable {
    let stream: AsyncStream<Stanza>.Continuation
    private let lock = NIOLock()
    /// Guarded by `lock`. A concrete function type (not a generic box's value), so reading it
    /// does not wrap it in a reabstraction thunk for every stanza.
    private var handler: (@Sendable (XMLElement) -> Void)?

    init(_ stream: AsyncStream<Stanza>.Continuation) { self.stream = stream }

    func setHandler(_ handler: (@Sendable (XMLElement) -> Void)?) {
        lock.withLockVoid { self.handler = handler }
    }

    func deliver(_ stanza: Stanza, _ element: XMLElement) {
        lock.lock()
        let handler = self.handler
        lock.unlock()
        if let handler { handler(element) } else { stream.yield(stanza) }
    }
}

/// What waits for the answer to one of our IQ requests.
private enum IQWaiter {
    case promise(EventLoopPromise<IQ>)
    case callback(@Sendable (Result<IQ, XMPPError>) -> Void)

    func succeed(_ iq: IQ) {
        switch self {
        case .promise(let p): p.succeed(iq)
        case .callback(let c): c(.success(iq))
        }
    }

    func fail(_ error: XMPPError) {
        switch self {
        case .promise(let p): p.fail(error)
        case .callback(let c): c(.failure(error))
        }
    }
}
