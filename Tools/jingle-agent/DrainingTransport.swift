import JingleKit
import XMLStream
import XMPPClient
import XMPPCore

/// The XMPP client as the call manager's transport, counting what is still on its way out, so
/// the agent can wait until its last words (a retract, a terminate and its answer) have left
/// before it closes the stream.
actor DrainingTransport: XMPPStanzaTransport {
    let client: XMPPClient
    nonisolated let stanzas: AsyncStream<Stanza>
    private var inFlight = 0
    private var lastActivity = ContinuousClock.now

    init(client: XMPPClient) {
        self.client = client
        stanzas = client.stanzas
    }

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

    /// Waits until nothing is in flight and nothing new started for `quiet` (stanzas the call
    /// manager queued a moment ago are handed over within it), giving up after `limit`.
    func drain(quiet: Duration = .milliseconds(100), limit: Duration = .seconds(3)) async {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if inFlight > 0 {
                try? await Task.sleep(for: .milliseconds(20))
                continue
            }
            let idleFor = ContinuousClock.now - lastActivity
            if idleFor >= quiet { return }
            try? await Task.sleep(for: quiet - idleFor)
        }
    }
}
