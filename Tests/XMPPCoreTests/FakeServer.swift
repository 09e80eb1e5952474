import CryptoPrimitives
import XMLStream
@testable import XMPPCore

/// Builds what a server sends during negotiation, for scripted negotiator tests.
enum FakeServer {
    /// Runs `n` against this server up to the point where it has sent `<auth/>` after TLS
    /// (offered `mechanisms`); the actions of that last step.
    static func negotiateThroughTLS(
        _ n: inout ClientStreamNegotiator, mechanisms: [String], now t0: EngineInstant
    ) -> [ClientStreamNegotiator.Action] {
        _ = n.start(now: t0)
        _ = n.handle(header(), now: t0)
        _ = n.handle(features([startTLS(required: true)]), now: t0)
        _ = n.handle(proceed, now: t0)
        _ = n.tlsEstablished(now: t0)
        _ = n.handle(header(id: "s2"), now: t0)
        return n.handle(features([self.mechanisms(mechanisms)]), now: t0)
    }

    /// Runs `n` through TLS and a successful PLAIN authentication, up to the post-SASL stream
    /// header; the features come next.
    static func negotiateThroughPLAIN(_ n: inout ClientStreamNegotiator, now t0: EngineInstant) {
        _ = negotiateThroughTLS(&n, mechanisms: ["PLAIN"], now: t0)
        _ = n.handle(sasl("success", nil), now: t0)
        _ = n.handle(header(id: "s3"), now: t0)
    }

    static func header(id: String = "s1", version: String = "1.0") -> XMLStreamEvent {
        .streamOpened(
            XMLElement(
                "stream", namespace: XMPPNamespace.stream,
                ["from": "example.com", "id": id, "version": version]))
    }

    static func features(_ children: [XMLElement]) -> XMLStreamEvent {
        .element(XMLElement("features", namespace: XMPPNamespace.stream, children: children))
    }

    static func startTLS(required: Bool = false) -> XMLElement {
        XMLElement(
            "starttls", namespace: XMPPNamespace.tls,
            children: required ? [XMLElement("required", namespace: XMPPNamespace.tls)] : [])
    }

    static func mechanisms(_ names: [String]) -> XMLElement {
        XMLElement(
            "mechanisms", namespace: XMPPNamespace.sasl,
            children: names.map { XMLElement("mechanism", namespace: XMPPNamespace.sasl, text: $0) })
    }

    static let bind = XMLElement("bind", namespace: XMPPNamespace.bind)

    static func session(optional: Bool) -> XMLElement {
        XMLElement(
            "session", namespace: XMPPNamespace.session,
            children: optional ? [XMLElement("optional", namespace: XMPPNamespace.session)] : [])
    }

    static let proceed = XMLStreamEvent.element(XMLElement("proceed", namespace: XMPPNamespace.tls))

    static func sasl(_ name: String, _ text: String?) -> XMLStreamEvent {
        .element(XMLElement(name, namespace: XMPPNamespace.sasl, text: text.map { Base64.encode(Array($0.utf8)) }))
    }

    static func saslFailure(_ condition: String, text: String? = nil) -> XMLStreamEvent {
        var e = XMLElement("failure", namespace: XMPPNamespace.sasl)
        e.append(XMLElement(condition, namespace: XMPPNamespace.sasl))
        if let text { e.append(XMLElement("text", namespace: XMPPNamespace.sasl, text: text)) }
        return .element(e)
    }

    static func bindResult(id: String = "bind_1", jid: String) -> XMLStreamEvent {
        let bind = XMLElement(
            "bind", namespace: XMPPNamespace.bind,
            children: [XMLElement("jid", namespace: XMPPNamespace.bind, text: jid)])
        return .element(IQ(type: .result, id: id, payload: bind).element)
    }

    static func streamError(_ condition: String, text: String? = nil) -> XMLStreamEvent {
        var e = XMLElement("error", namespace: XMPPNamespace.stream)
        e.append(XMLElement(condition, namespace: XMPPNamespace.streams))
        if let text { e.append(XMLElement("text", namespace: XMPPNamespace.streams, text: text)) }
        return .element(e)
    }

    /// The base64 text of what the client sent inside a SASL element, decoded.
    static func saslPayload(of sent: String) -> String? {
        guard let open = sent.firstIndex(of: ">"), let close = sent.lastIndex(of: "<"), open < close else { return nil }
        let text = String(sent[sent.index(after: open)..<close])
        return Base64.decode(text).map { String(decoding: $0, as: UTF8.self) }
    }
}
