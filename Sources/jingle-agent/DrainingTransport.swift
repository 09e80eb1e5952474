import JingleKit
import XMLStream
import XMPPClient
import XMPPCore

/// The XMPP client as the call manager's transport, counting what is still on its way out, so
/// the agent can wait until its last words (a retract, a terminate and its answer) have left
/// before it closes the stream. It also spots bounced JMI proposals (a `<message type='error'/>`
/// from the callee's server, RFC 6120 §8.3), which the call runtime does not act on.
actor DrainingTransport: XMPPStanzaTransport {
    /// A message error about a proposal: the peer it came from, the proposal id when the error
    /// carries the original payload, and the error.
    struct Bounce: Sendable {
        var from: JID?
        var proposalID: String?
        var error: String
    }

    let client: XMPPClient
    nonisolated let stanzas: AsyncStream<Stanza>
    nonisolated let bounces: AsyncStream<Bounce>
    private nonisolated let forwarding: Task<Void, Never>
    private var inFlight = 0
    private var lastActivity = ContinuousClock.now

    init(client: XMPPClient) {
        self.client = client
        let (stanzas, stanzaSink) = AsyncStream.makeStream(of: Stanza.self)
        let (bounces, bounceSink) = AsyncStream.makeStream(of: Bounce.self, bufferingPolicy: .bufferingNewest(64))
        self.stanzas = stanzas
        self.bounces = bounces
        let incoming = client.stanzas
        forwarding = Task {
            for await stanza in incoming {
                if case .message(let m) = stanza, m.type == .error {
                    let propose = m.payloads.first { $0.name == "propose" && $0.namespace == "urn:xmpp:jingle-message:0" }
                    if propose != nil || m.payloads.isEmpty || m.error != nil {
                        bounceSink.yield(
                            Bounce(
                                from: m.from, proposalID: propose?.attribute("id"),
                                error: m.error.map { "\($0)" } ?? "error"))
                    }
                }
                stanzaSink.yield(stanza)
            }
            stanzaSink.finish()
            bounceSink.finish()
        }
    }

    deinit { forwarding.cancel() }

    func send(_ element: XMLElement) async throws {
        begin()
        defer { end() }
        try await client.send(element)
    }

    func sendRequest(_ iq: IQ, timeout: Duration, onResponse: @escaping @Sendable (IQ?) -> Void) async {
        begin()
        let done: @Sendable (IQ?) -> Void = { [weak self] response in
            onResponse(response)
            Task { await self?.end() }
        }
        await client.sendRequest(iq, timeout: timeout, onResponse: done)
    }

    func setRequestHandler(namespace: String, _ handler: (@Sendable (IQ) async -> IQ)?) async {
        await client.setRequestHandler(namespace: namespace, handler)
    }

    private func begin() {
        inFlight += 1
        lastActivity = .now
    }

    private func end() {
        inFlight -= 1
        lastActivity = .now
    }

    /// Waits until nothing is in flight and nothing new started for `quiet`, counted from this
    /// call at the earliest (stanzas the call manager queued a moment ago reach us within it, even
    /// on a busy machine), giving up after `limit`.
    func drain(quiet: Duration = .milliseconds(300), limit: Duration = .seconds(5)) async {
        let start = ContinuousClock.now
        let deadline = start + limit
        while ContinuousClock.now < deadline {
            if inFlight > 0 {
                try? await Task.sleep(for: .milliseconds(20))
                continue
            }
            let idleFor = ContinuousClock.now - max(lastActivity, start)
            if idleFor >= quiet { return }
            try? await Task.sleep(for: quiet - idleFor)
        }
    }
}
