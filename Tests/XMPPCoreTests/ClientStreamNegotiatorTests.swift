import CryptoPrimitives
import Testing
import XMLStream
@testable import XMPPCore

@Suite struct ClientStreamNegotiatorTests {
    let t0 = EngineInstant.zero
    let sha1 = SCRAMVector.all.first { $0.mechanism == "SCRAM-SHA-1" }

    func negotiator(
        jid: String = "user@example.com/phone", password: String = "pencil",
        allowPlaintext: Bool = false, nonce: String? = "fyko+d2lbbFgONRv9qkxdawL"
    ) -> ClientStreamNegotiator {
        ClientStreamNegotiator(
            configuration: .init(
                jid: JID(jid)!, password: password, allowPlaintext: allowPlaintext,
                clientNonce: nonce))
    }

    /// Runs the negotiator up to the point where it has sent `<auth/>` after TLS.
    func throughTLS(_ n: inout ClientStreamNegotiator, mechanisms: [String]) -> [ClientStreamNegotiator.Action] {
        FakeServer.negotiateThroughTLS(&n, mechanisms: mechanisms, now: t0)
    }

    @Test func fullNegotiationWithSCRAMSHA1Vector() throws {
        let v = try #require(sha1)
        var n = negotiator()
        #expect(n.start(now: t0) == [.send(XMLSerializer.streamHeader(to: "example.com"))])
        #expect(n.handle(FakeServer.header(), now: t0) == [])
        #expect(n.nextDeadline == t0 + .seconds(30))
        #expect(
            n.handle(FakeServer.features([FakeServer.startTLS(), FakeServer.mechanisms(["PLAIN"])]), now: t0)
                == [.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")])
        #expect(n.handle(FakeServer.proceed, now: t0) == [.startTLS])
        #expect(
            n.tlsEstablished(now: t0) == [.resetParser, .send(XMLSerializer.streamHeader(to: "example.com", from: "user@example.com"))])
        #expect(n.isTLSEstablished)
        _ = n.handle(FakeServer.header(id: "s2"), now: t0)

        let auth = n.handle(FakeServer.features([FakeServer.mechanisms(["SCRAM-SHA-1", "PLAIN"])]), now: t0)
        guard case .send(let authText)? = auth.first, auth.count == 1 else { Issue.record("no auth sent: \(auth)"); return }
        #expect(authText.hasPrefix("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>"))
        #expect(FakeServer.saslPayload(of: authText) == v.clientFirst)

        let response = n.handle(FakeServer.sasl("challenge", v.serverFirst), now: t0)
        guard case .send(let responseText)? = response.first else { Issue.record("no response: \(response)"); return }
        #expect(FakeServer.saslPayload(of: responseText) == v.clientFinal)

        #expect(
            n.handle(FakeServer.sasl("success", v.serverFinal), now: t0)
                == [.resetParser, .send(XMLSerializer.streamHeader(to: "example.com", from: "user@example.com"))])
        #expect(n.saslMechanism == .scramSHA1)
        _ = n.handle(FakeServer.header(id: "s3"), now: t0)
        let bind = n.handle(FakeServer.features([FakeServer.bind, FakeServer.session(optional: true)]), now: t0)
        #expect(
            bind == [
                .send("<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>phone</resource></bind></iq>")
            ])

        let ready = n.handle(FakeServer.bindResult(jid: "user@example.com/phone"), now: t0)
        guard case .ready(let jid, let features)? = ready.first else { Issue.record("not ready: \(ready)"); return }
        #expect(jid == JID("user@example.com/phone"))
        #expect(features.bind && features.sessionOptional)
        #expect(n.isReady && n.nextDeadline == nil && n.streamID == "s3")
    }

    @Test func serverAssignedResourceWhenNoneRequested() {
        var n = negotiator(jid: "user@example.com")
        FakeServer.negotiateThroughPLAIN(&n, now: t0)
        #expect(
            n.handle(FakeServer.features([FakeServer.bind]), now: t0)
                == [.send("<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")])
        let ready = n.handle(FakeServer.bindResult(jid: "user@example.com/4f2a"), now: t0)
        #expect(ready.count == 1)
        #expect(n.boundJID == JID("user@example.com/4f2a"))
        #expect(n.saslMechanism == .plain)
    }

    @Test func wrongServerSignatureFailsNegotiation() throws {
        let v = try #require(sha1)
        var n = negotiator()
        _ = throughTLS(&n, mechanisms: ["SCRAM-SHA-1"])
        _ = n.handle(FakeServer.sasl("challenge", v.serverFirst), now: t0)
        let actions = n.handle(FakeServer.sasl("success", "v=rmF9pqV8S7suAoZWja4dJRkFsKA="), now: t0)
        guard case .failed(let error)? = actions.first, actions.count == 1 else { Issue.record("\(actions)"); return }
        guard case .authentication = error else { Issue.record("\(error)"); return }
        #expect(n.isFinished && !n.isReady)
        #expect(n.handle(FakeServer.header(), now: t0) == [])
    }

    @Test func noStartTLSOfferedIsRefused() {
        var n = negotiator()
        _ = n.start(now: t0)
        _ = n.handle(FakeServer.header(), now: t0)
        #expect(n.handle(FakeServer.features([FakeServer.mechanisms(["SCRAM-SHA-1"])]), now: t0) == [.failed(.tlsRequiredButNotOffered)])
        #expect(XMPPError.tlsRequiredButNotOffered.description == "TLS required but the server does not offer STARTTLS")
    }

    @Test func plainRefusedWithoutTLSEvenWhenPlaintextAllowed() {
        var n = negotiator(allowPlaintext: true)
        _ = n.start(now: t0)
        _ = n.handle(FakeServer.header(), now: t0)
        let actions = n.handle(FakeServer.features([FakeServer.mechanisms(["PLAIN"])]), now: t0)
        #expect(actions == [.failed(.noUsableMechanism(offered: ["PLAIN"], reason: "PLAIN is refused without TLS"))])
    }

    @Test func scramWithoutTLSWhenPlaintextAllowed() throws {
        let v = try #require(sha1)
        var n = negotiator(allowPlaintext: true)
        _ = n.start(now: t0)
        _ = n.handle(FakeServer.header(), now: t0)
        let auth = n.handle(FakeServer.features([FakeServer.mechanisms(["PLAIN", "SCRAM-SHA-1"])]), now: t0)
        guard case .send(let text)? = auth.first else { Issue.record("\(auth)"); return }
        #expect(FakeServer.saslPayload(of: text) == v.clientFirst)
        #expect(!n.isTLSEstablished)
    }

    @Test func saslFailureNotAuthorized() {
        var n = negotiator()
        _ = throughTLS(&n, mechanisms: ["SCRAM-SHA-256"])
        let actions = n.handle(FakeServer.saslFailure("not-authorized"), now: t0)
        guard case .failed(let error)? = actions.first else { Issue.record("\(actions)"); return }
        #expect(error.description == "authentication failed: not-authorized (wrong password?)")
    }

    @Test func saslFailureWithText() {
        var n = negotiator()
        _ = throughTLS(&n, mechanisms: ["SCRAM-SHA-256"])
        let actions = n.handle(FakeServer.saslFailure("account-disabled", text: "Banned"), now: t0)
        #expect(actions.map(\.description) == ["failed: authentication failed: account-disabled (the account is disabled): Banned"])
    }

    @Test func bindConflict() {
        var n = negotiator()
        FakeServer.negotiateThroughPLAIN(&n, now: t0)
        _ = n.handle(FakeServer.features([FakeServer.bind]), now: t0)
        let error = IQ(type: .error, id: "bind_1", error: StanzaError(.conflict))
        let actions = n.handle(.element(error.element), now: t0)
        #expect(actions == [.failed(.bind(reason: "cancel/conflict"))])
        #expect(actions.first?.description == "failed: resource binding failed: cancel/conflict")
    }

    @Test func bindNotOffered() {
        var n = negotiator()
        FakeServer.negotiateThroughPLAIN(&n, now: t0)
        #expect(n.handle(FakeServer.features([]), now: t0) == [.failed(.bind(reason: "the server does not offer resource binding"))])
    }

    @Test func bindResultWithoutJID() {
        var n = negotiator()
        FakeServer.negotiateThroughPLAIN(&n, now: t0)
        _ = n.handle(FakeServer.features([FakeServer.bind]), now: t0)
        let actions = n.handle(.element(IQ(type: .result, id: "bind_1").element), now: t0)
        #expect(actions.count == 1 && actions.first?.isFailure == true)
    }

    @Test func requiredLegacySessionIsEstablished() {
        var n = negotiator()
        FakeServer.negotiateThroughPLAIN(&n, now: t0)
        _ = n.handle(FakeServer.features([FakeServer.bind, FakeServer.session(optional: false)]), now: t0)
        #expect(
            n.handle(FakeServer.bindResult(jid: "user@example.com/phone"), now: t0)
                == [.send("<iq type='set' id='sess_1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")])
        #expect(!n.isReady)
        let ready = n.handle(.element(IQ(type: .result, id: "sess_1").element), now: t0)
        #expect(ready.count == 1 && n.isReady)
    }

    @Test func streamErrorDuringNegotiation() {
        var n = negotiator()
        _ = n.start(now: t0)
        _ = n.handle(FakeServer.header(), now: t0)
        let actions = n.handle(FakeServer.streamError("host-unknown", text: "no such domain"), now: t0)
        #expect(actions == [.failed(.stream(StreamError(.hostUnknown, text: "no such domain")))])
        #expect(actions.first?.description == "failed: stream error from server: host-unknown: no such domain")
    }

    @Test func serverClosesStream() {
        var n = negotiator()
        _ = n.start(now: t0)
        _ = n.handle(FakeServer.header(), now: t0)
        let actions = n.handle(.streamClosed, now: t0)
        #expect(actions.count == 1 && actions.first?.isFailure == true)
    }

    @Test func timeoutAtDeadline() {
        var n = negotiator()
        _ = n.start(now: t0)
        #expect(n.nextDeadline == t0 + .seconds(30))
        #expect(n.handleTimeout(now: t0 + .seconds(29)) == [])
        #expect(n.handleTimeout(now: t0 + .seconds(30)) == [.failed(.timeout(what: "the server's stream header"))])
        #expect(n.nextDeadline == nil)
    }

    @Test func oldStreamVersionRefused() {
        var n = negotiator()
        _ = n.start(now: t0)
        let actions = n.handle(FakeServer.header(version: "0.9"), now: t0)
        #expect(actions.count == 1 && actions.first?.isFailure == true)
    }

    @Test func unexpectedElementDuringSASL() {
        var n = negotiator()
        _ = throughTLS(&n, mechanisms: ["PLAIN"])
        let actions = n.handle(.element(Message(body: "hi").element), now: t0)
        #expect(actions.count == 1 && actions.first?.isFailure == true)
    }

    @Test func tlsFailureFromServer() {
        var n = negotiator()
        _ = n.start(now: t0)
        _ = n.handle(FakeServer.header(), now: t0)
        _ = n.handle(FakeServer.features([FakeServer.startTLS()]), now: t0)
        let actions = n.handle(.element(XMLElement("failure", namespace: XMPPNamespace.tls)), now: t0)
        #expect(actions == [.failed(.tls(reason: "the server refused STARTTLS"))])
    }

    @Test func invalidBase64Challenge() {
        var n = negotiator()
        _ = throughTLS(&n, mechanisms: ["SCRAM-SHA-256"])
        let actions = n.handle(.element(XMLElement("challenge", namespace: XMPPNamespace.sasl, text: "***")), now: t0)
        #expect(actions.count == 1 && actions.first?.isFailure == true)
    }
}

extension ClientStreamNegotiator.Action: CustomStringConvertible {
    public var description: String {
        switch self {
        case .send(let s): "send: \(s)"
        case .startTLS: "startTLS"
        case .resetParser: "resetParser"
        case .ready(let jid, _): "ready: \(jid)"
        case .failed(let e): "failed: \(e)"
        }
    }

    var isFailure: Bool { if case .failed = self { true } else { false } }
}
