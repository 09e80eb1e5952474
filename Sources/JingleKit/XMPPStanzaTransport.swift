import Jingle
import XMLStream
import XMPPClient
import XMPPCore

/// The part of an XMPP client session (RFC 6120 §8) a `CallManager` needs: send stanzas in order,
/// send IQ requests and learn their answers, answer IQ requests of one namespace, and receive
/// every other stanza. `XMPPClient` conforms; tests use an in-memory router.
public protocol XMPPStanzaTransport: Sendable {
    /// Stanzas not handled by the transport itself (messages, presences), in arrival order.
    /// The call manager is this stream's only consumer; it republishes what it does not use.
    var stanzas: AsyncStream<Stanza> { get }
    /// Sends one top-level stanza. Stanzas are written in the order the calls are made.
    func send(_ element: XMLElement) async throws
    /// Writes an IQ request (in order with `send`) and returns once it is written; `onResponse`
    /// gets the `result` or `error` IQ, or nil when none came (timeout, connection lost).
    func sendRequest(_ iq: IQ, timeout: Duration, onResponse: @escaping @Sendable (IQ?) -> Void) async
    /// Answers IQ get/set requests whose payload is in `namespace` (RFC 6120 §8.2.3).
    func setRequestHandler(namespace: String, _ handler: (@Sendable (IQ) async -> IQ)?) async
}

extension XMPPClient: XMPPStanzaTransport {
    public func sendRequest(_ iq: IQ, timeout: Duration, onResponse: @escaping @Sendable (IQ?) -> Void) async {
        // Started immediately on this actor, so the request is written before any later send.
        if #available(macOS 26.0, iOS 26.0, *) {
            Task.immediate { await self.issue(iq, timeout: timeout, onResponse: onResponse) }
        } else {
            Task { await self.issue(iq, timeout: timeout, onResponse: onResponse) }
        }
    }

    private func issue(_ iq: IQ, timeout: Duration, onResponse: @escaping @Sendable (IQ?) -> Void) async {
        do {
            onResponse(try await sendIQ(iq, timeout: timeout))
        } catch {
            if case .stanza(let e) = error {
                onResponse(IQ(type: .error, id: iq.id, from: iq.to, to: iq.from, error: e))
            } else {
                onResponse(nil)
            }
        }
    }

    public func setRequestHandler(namespace: String, _ handler: (@Sendable (IQ) async -> IQ)?) async {
        await setIQHandler(namespace: namespace, handler)
    }
}
