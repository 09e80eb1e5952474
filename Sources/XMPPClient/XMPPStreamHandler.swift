import Logging
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
    private let stanzaSink: AsyncStream<Stanza>.Continuation
    private var iqHandlers: [String: IQRequestHandler]

    private let parser = XMLStreamParser()
    private var parserGeneration = 0
    private var negotiator: ClientStreamNegotiator
    private var tracker = IQTracker()
    private var pending: [String: EventLoopPromise<IQ>] = [:]
    private var tlsInfo: TLSHandshakeCompleted?
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var timerDeadline: ContinuousClock.Instant?
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
    private var closingByUs = false

    /// - Parameters:
    ///   - previousSession: the stream management state of the connection before, to resume.
    ///   - resource: the resource to ask for at bind time (the one bound before), when not configured.
    init(configuration: XMPPClientConfiguration, host: String, port: Int, eventLoop: EventLoop,
         stanzaSink: AsyncStream<Stanza>.Continuation, iqHandlers: [String: IQRequestHandler], logger: Logger,
         previousSession: StreamManagement? = nil, bindJID: JID? = nil) {
        self.configuration = configuration
        self.host = host
        self.port = port
        self.logger = logger
        self.stanzaSink = stanzaSink
        self.iqHandlers = iqHandlers
        self.previousSession = configuration.streamManagement ? previousSession : nil
        self.negotiator = ClientStreamNegotiator(configuration: .init(
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
        apply(negotiator.start(now: .now))
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
            apply(negotiator.tlsEstablished(now: .now))
            rearmTimer()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !terminated else { return }
        let buffer = unwrapInboundIn(data)
        keepAlive?.heard(now: .now)
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

    // MARK: Events

    private func handle(_ event: XMLStreamEvent) {
        guard negotiator.isReady else {
            apply(negotiator.handle(event, now: .now))
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
            route(stanza)
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

    private func route(_ stanza: Stanza) {
        guard case .iq(let iq) = stanza else {
            stanzaSink.yield(stanza)
            return
        }
        switch iq.type {
        case .result, .error:
            if KeepAlive.isAnswer(iq) { return }
            if let completion = tracker.match(iq), let promise = pending.removeValue(forKey: completion.id) {
                promise.succeed(iq)
            } else {
                logger.debug("ignoring unmatched IQ response", metadata: ["id": "\(iq.id)", "from": "\(iq.from?.description ?? "-")"])
            }
        case .get, .set:
            if let answer = Ping.answer(iq) ?? configuration.disco.answer(iq) {
                write(element: answer.element)
            } else if let namespace = iq.payload?.namespace, let handler = iqHandlers[namespace] {
                let eventLoop = context?.eventLoop
                Task {
                    let response = await handler(iq)
                    eventLoop?.execute { self.write(element: response.element) }
                }
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
                    let tls = try NIOTLSHandler.client(TLSClientConfiguration(serverName: configuration.jid.domainpart,
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
                    logger.info("stream resumption failed; new session", metadata: ["reason": "\(reason)", "unacknowledged": "\(lost.count)"])
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
                    keepAlive = KeepAlive(interval: interval, timeout: configuration.pingTimeout, now: .now)
                }
                var info = ConnectionInfo(host: host, port: port, tlsVersion: tlsInfo?.protocolVersion,
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

    /// Sends a request and completes `promise` with its response (result or error).
    func sendIQ(_ iq: IQ, timeout: Duration, promise: EventLoopPromise<IQ>) {
        guard negotiator.isReady, !terminated, !closingByUs else {
            promise.fail(XMPPError.notConnected)
            return
        }
        tracker.register(iq, deadline: .now + timeout)
        pending[iq.id] = promise
        write(element: iq.element)
        rearmTimer()
    }

    /// Sends a stanza or other element when the session is ready.
    func send(_ element: XMLElement) throws(XMPPError) {
        guard negotiator.isReady, !terminated, !closingByUs else { throw .notConnected }
        write(element: element)
    }

    func setIQHandler(namespace: String, _ handler: IQRequestHandler?) {
        iqHandlers[namespace] = handler
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
        if ["message", "presence", "iq"].contains(element.name), element.namespace == XMPPNamespace.client || element.namespace.isEmpty {
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

    private func write(text: String) {
        guard let context, context.channel.isActive else { return }
        let buffer = context.channel.allocator.buffer(string: text)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    private func rearmTimer() {
        guard !terminated, let context else { return }
        let deadlines = [negotiator.nextDeadline, tracker.nextDeadline, keepAlive?.nextDeadline].compactMap { $0 }
        guard let next = deadlines.min() else {
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
        let delay = ContinuousClock.now.duration(to: next)
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
        let now = ContinuousClock.now
        apply(negotiator.handleTimeout(now: now))
        for id in tracker.expire(now: now) {
            pending.removeValue(forKey: id)?.fail(XMPPError.timeout(what: "the answer to IQ '\(id)'"))
        }
        if negotiator.isReady, !closingByUs {
            switch keepAlive?.handleTimeout(now: now, server: JID(localpart: nil, domainpart: configuration.jid.domainpart)) {
            case .ping(let iq)?:
                logger.debug("silence: pinging the server", metadata: ["id": "\(iq.id)"])
                write(element: iq.element)
            case .dead(let silence)?:
                let tenths = silence.components.seconds * 10 + silence.components.attoseconds / 100_000_000_000_000_000
                terminate(.connectionLost(reason: "no answer from the server for \(tenths / 10).\(tenths % 10) s"),
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
        timer?.cancel()
        timer = nil
        closeTimer?.cancel()
        closeTimer = nil
        if let error { logger.info("XMPP connection ended", metadata: ["reason": "\(error)"]) }
        let failure = error ?? .connectionLost(reason: "disconnected")
        for id in tracker.cancelAll() {
            pending.removeValue(forKey: id)?.fail(failure)
        }
        for (_, promise) in pending { promise.fail(failure) }
        pending.removeAll()
        if !readyCompleted {
            readyCompleted = true
            ready.fail(failure)
        }
        closed.succeed(error)
        if let context, context.channel.isActive { context.close(promise: nil) }
    }
}
