import DriverClock
import Jingle
import Logging
import XMLStream
import XMPPCore

/// The call runtime for one XMPP session: it owns the session's Jingle traffic (XEP-0166 IQs,
/// XEP-0353 JMI messages including XEP-0280 carbons) and drives the sans-IO `CallEngine` by the
/// driver contract: feed one input with `now` from the runtime's clock, carry out every action
/// (stanzas, media-transport calls, call events), re-arm one timer at the engine's deadline.
///
/// ```swift
/// let calls = CallManager(transport: client, local: info.boundJID)
/// try await calls.start()
/// let call = try await calls.placeCall(to: JID("bob@example.com")!, timeout: .seconds(30))
/// for await event in call.events { print(event) }
/// ```
public actor CallManager {
    public let local: JID
    public let configuration: CallConfiguration
    let transport: any XMPPStanzaTransport
    private let logger: Logger
    /// The engine's clock: `now` counts from when this manager was made.
    let clock = EngineClock()

    /// The decisions; this actor only moves stanzas, time and media-transport calls.
    var engine: CallEngine
    /// The handles given out, the media transports made, and the tasks reading their reports, by sid.
    var calls: [String: Call] = [:]
    var media: [String: any MediaTransport] = [:]
    var mediaEvents: [String: Task<Void, Never>] = [:]
    var timer: Task<Void, Never>?
    var stanzaLoop: Task<Void, Never>?
    var outboxTask: Task<Void, Never>?
    let outbox: AsyncStream<Outgoing>.Continuation
    let outboxStream: AsyncStream<Outgoing>

    /// Calls that arrive here, ringing (direct session-initiates and JMI proposals).
    public nonisolated let incomingCalls: AsyncStream<Call>
    let incomingSink: AsyncStream<Call>.Continuation
    /// Stanzas the manager does not use (other messages, presences), newest 256 kept.
    public nonisolated let otherStanzas: AsyncStream<Stanza>
    let otherSink: AsyncStream<Stanza>.Continuation

    enum Outgoing: Sendable {
        case stanza(XMLElement)
        /// A request; its answer goes to `onResponse`, or to the session engine when nil.
        case request(IQ, (@Sendable (IQ?) -> Void)?)
    }

    public init(
        transport: any XMPPStanzaTransport, local: JID, configuration: CallConfiguration = .init(),
        logger: Logger = Logger(label: "jinglekit.calls")
    ) {
        self.transport = transport
        self.local = local
        self.configuration = configuration
        self.logger = logger
        engine = CallEngine(
            local: local, policy: configuration.policy, sessionTimeouts: configuration.sessionTimeouts,
            proposalLifetime: configuration.proposalLifetime, maximumCalls: configuration.maximumConcurrentCalls,
            endedCallRetention: configuration.endedCallRetention)
        (incomingCalls, incomingSink) = AsyncStream.makeStream(of: Call.self)
        (otherStanzas, otherSink) = AsyncStream.makeStream(of: Stanza.self, bufferingPolicy: .bufferingNewest(256))
        (outboxStream, outbox) = AsyncStream.makeStream(of: Outgoing.self)
    }

    deinit {
        timer?.cancel()
        stanzaLoop?.cancel()
        outboxTask?.cancel()
        for task in mediaEvents.values { task.cancel() }
        outbox.finish()
        incomingSink.finish()
        otherSink.finish()
    }

    // MARK: Lifecycle

    /// Registers the Jingle IQ handler, starts reading stanzas, sends presence and enables carbons
    /// (per `configuration`). Returns whether carbons were enabled.
    @discardableResult
    public func start() async -> Bool {
        guard stanzaLoop == nil else { return false }
        let stream = outboxStream
        let transport = self.transport
        let timeout = configuration.sessionTimeouts.response
        let weakSelf = WeakCallManager(self)
        outboxTask = Task {
            for await item in stream {
                switch item {
                case .stanza(let e):
                    do { try await transport.send(e) } catch { await weakSelf.value?.log("send failed: \(error)") }
                case .request(let iq, let onResponse):
                    await transport.sendRequest(iq, timeout: timeout) { response in
                        if let onResponse { return onResponse(response) }
                        guard let response else { return }
                        Task { await weakSelf.value?.receiveResponse(response) }
                    }
                }
            }
        }
        await transport.setRequestHandler(namespace: JingleNamespace.jingle) { [weak self] iq in
            guard let self else { return iq.error(StanzaError(.serviceUnavailable)) }
            return await self.receiveRequest(iq)
        }
        let stanzas = transport.stanzas
        stanzaLoop = Task { [weak self] in
            for await stanza in stanzas {
                guard let self else { return }
                await self.receive(stanza)
            }
        }
        return await announce()
    }

    /// After the transport reconnected with a new XMPP session (not a XEP-0198 resumption, which
    /// keeps them): sends presence and enables carbons again, per `configuration`, so calls reach
    /// this device once more. The Jingle handler and calls need nothing. Returns whether carbons
    /// were enabled.
    @discardableResult
    public func reannounce() async -> Bool {
        guard stanzaLoop != nil else { return false }
        return await announce()
    }

    /// Sends presence and enables carbons (XEP-0280), per `configuration`; returns whether
    /// carbons were enabled.
    private func announce() async -> Bool {
        if configuration.sendPresence {
            outbox.yield(.stanza(XMLElement("presence", namespace: XMPPNamespace.client)))
        }
        guard configuration.enableCarbons else { return false }
        let enable = IQ(
            type: .set, id: "carbons-\(UInt32.random(in: 0...UInt32.max))",
            payload: XMLElement("enable", namespace: XMPPNamespace.carbons))
        return await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            outbox.yield(.request(enable, { response in c.resume(returning: response?.type == .result) }))
        }
    }

    /// Stops reading stanzas and removes the Jingle handler; ongoing calls end with `<gone/>`.
    public func stop() async {
        for sid in engine.calls.keys.sorted() { hangUp(sid: sid, reason: Reason(.gone)) }
        await transport.setRequestHandler(namespace: JingleNamespace.jingle, nil)
        stanzaLoop?.cancel()
        timer?.cancel()
    }

    func enqueue(_ item: Outgoing) { outbox.yield(item) }

    func log(_ s: String) { logger.warning("\(s)") }

    /// Something the engine wants the operator to see (a refusal of an action the call's state
    /// had made moot, a transport that cannot restart): nothing went out, the reason is logged.
    func notice(sid: String, _ text: String) {
        logger.notice("\(text)", metadata: ["sid": "\(sid)"])
    }

    var now: EngineInstant { clock.now }
}

/// A weak reference that can cross tasks.
final class WeakCallManager: Sendable {
    weak let value: CallManager?
    init(_ value: CallManager) { self.value = value }
}
