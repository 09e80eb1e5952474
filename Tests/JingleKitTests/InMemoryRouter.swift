import Jingle
import JingleKit
import XMLStream
import XMPPCore

/// An in-memory XMPP server for paired call managers: routes messages like Prosody (bare-JID
/// messages to every resource, XEP-0280 carbons to resources that enabled them), IQ requests to
/// the addressee's handler, and stamps `from` on everything. It keeps every stanza it routed.
actor InMemoryRouter {
    private var clients: [JID: InMemoryClient] = [:]
    private var carbons: Set<JID> = []
    private(set) var routed: [XMLElement] = []

    func client(_ jid: String) -> InMemoryClient {
        let full = JID(jid)!
        let c = InMemoryClient(jid: full, router: self)
        clients[full] = c
        return c
    }

    /// Every routed Jingle IQ request, parsed.
    var jingleRequests: [JingleElement] {
        routed.compactMap { e in IQ(element: e).flatMap { try? JingleElement(iq: $0) } }
    }

    func route(_ element: XMLElement, from: JID) {
        var e = element
        e.setAttribute("from", from.description)
        routed.append(e)
        guard e.name == "message", let to = e.attribute("to").flatMap(JID.init) else { return }
        let isChat = e.attribute("type") == "chat"
        if to.resourcepart != nil {
            clients[to]?.deliver(e)
            if isChat {
                for (jid, c) in clients where jid.bare == to.bare && jid != to && carbons.contains(jid) {
                    c.deliver(carbon("received", e, to: jid))
                }
            }
        } else {
            for (jid, c) in clients where jid.bare == to {
                c.deliver(e)
            }
        }
        if isChat && to.bare != from.bare {
            for (jid, c) in clients where jid.bare == from.bare && jid != from && carbons.contains(jid) {
                c.deliver(carbon("sent", e, to: jid))
            }
        }
    }

    private func carbon(_ kind: String, _ m: XMLElement, to: JID) -> XMLElement {
        var outer = XMLElement("message", namespace: XMPPNamespace.client, ["from": to.bare.description, "to": to.description])
        var wrapper = XMLElement(kind, namespace: XMPPNamespace.carbons)
        var forwarded = XMLElement("forwarded", namespace: XMPPNamespace.forward)
        forwarded.append(m)
        wrapper.append(forwarded)
        outer.append(wrapper)
        return outer
    }

    func request(_ iq: IQ, from: JID) async -> IQ? {
        var request = iq
        request.from = from
        routed.append(request.element)
        guard let to = iq.to else {
            if iq.payload?.name == "enable", iq.payload?.namespace == XMPPNamespace.carbons {
                carbons.insert(from)
                return IQ(type: .result, id: iq.id, to: from)
            }
            return IQ(type: .error, id: iq.id, to: from, error: StanzaError(.serviceUnavailable))
        }
        guard let target = clients[to] else {
            return IQ(type: .error, id: iq.id, from: to, to: from, error: StanzaError(.serviceUnavailable))
        }
        var response = await target.handle(request)
        response.from = to
        response.to = from
        routed.append(response.element)
        return response
    }
}

/// One resource's connection to the `InMemoryRouter`.
actor InMemoryClient: XMPPStanzaTransport {
    let jid: JID
    let router: InMemoryRouter
    nonisolated let stanzas: AsyncStream<Stanza>
    private let sink: AsyncStream<Stanza>.Continuation
    private var handler: (@Sendable (IQ) async -> IQ)?

    init(jid: JID, router: InMemoryRouter) {
        self.jid = jid
        self.router = router
        (stanzas, sink) = AsyncStream.makeStream(of: Stanza.self)
    }

    nonisolated func deliver(_ e: XMLElement) {
        if let s = Stanza(element: e) { sink.yield(s) }
    }

    func handle(_ iq: IQ) async -> IQ {
        guard let handler, iq.payload?.namespace == JingleNamespace.jingle else {
            return iq.error(StanzaError(.serviceUnavailable))
        }
        return await handler(iq)
    }

    func send(_ element: XMLElement) async throws { await router.route(element, from: jid) }

    func sendRequest(_ iq: IQ, timeout: Duration, onResponse: @escaping @Sendable (IQ?) -> Void) async {
        let router = self.router, jid = self.jid
        Task { onResponse(await router.request(iq, from: jid)) }
    }

    func setRequestHandler(namespace: String, _ handler: (@Sendable (IQ) async -> IQ)?) async {
        self.handler = handler
    }
}
