import Testing
import XMLStream
@testable import XMPPCore

/// A server's side of XEP-0198, enough to exercise the client engine: counts the stanzas that
/// reach it, answers `<r/>`, keeps a session to resume, and can lose what is in flight (a
/// connection cut: bytes written by the client after `cut()` never arrive).
struct FakeSMServer {
    var received: [String] = []
    var sentToClient = 0
    var connected = true
    var resumable = true

    /// Feeds what the client wrote; returns the elements the server answers with.
    mutating func deliver(_ outputs: [StreamManagement.Output]) -> [XMLElement] {
        var answers: [XMLElement] = []
        for case .send(let text) in outputs {
            guard connected else { continue }
            if text.hasPrefix("<enable") {
                var enabled = XMLElement("enabled", namespace: XMPPNamespace.streamManagement, ["id": "sm-1"])
                if resumable, text.contains("resume='true'") { enabled.setAttribute("resume", "true") }
                answers.append(enabled)
            } else if text.hasPrefix("<r ") || text.hasPrefix("<r/") {
                answers.append(XMLElement("a", namespace: XMPPNamespace.streamManagement, ["h": String(received.count)]))
            } else if text.hasPrefix("<a ") {
                // The client's ack of our stanzas: checked by the tests directly.
            } else {
                received.append(text)
            }
        }
        return answers
    }

    mutating func stanza(_ text: String, _ engine: inout StreamManagement) -> [StreamManagement.Output] {
        received.append(text)
        return engine.sent(text)
    }

    mutating func cut() { connected = false }
}

@Suite struct StreamManagementTests {
    static let jid = JID("alice@example.com/agent")!

    /// Runs the client engine against the fake server until nothing more is said.
    func exchange(_ outputs: [StreamManagement.Output], _ sm: inout StreamManagement, _ server: inout FakeSMServer) -> [StreamManagement
        .Output]
    {
        var all: [StreamManagement.Output] = []
        var pending = outputs
        while !pending.isEmpty {
            all += pending
            let answers = server.deliver(pending)
            pending = answers.flatMap { sm.handle($0) }
        }
        return all
    }

    func enabled(_ server: inout FakeSMServer) -> StreamManagement {
        var sm = StreamManagement()
        sm.boundJID = Self.jid
        let outputs = exchange(sm.enable(resume: true), &sm, &server)
        #expect(outputs.contains(.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")))
        #expect(outputs.contains(.enabled(resumable: true)))
        return sm
    }

    @Test func enableAcksAndQueue() {
        var server = FakeSMServer()
        var sm = enabled(&server)
        #expect(sm.isEnabled && sm.resumptionID == "sm-1")
        // The first stanza asks for an ack; the next ones wait for it.
        let first = sm.sent("<message id='1'/>")
        #expect(first == [.send("<r xmlns='urn:xmpp:sm:3'/>")])
        #expect(sm.sent("<message id='2'/>") == [])
        #expect(sm.sent("<message id='3'/>") == [])
        #expect(sm.unacknowledged.count == 3 && sm.sentCount == 3)
        // The server got one before answering the request: one acked, and a new request follows.
        #expect(sm.handle(XMLElement("a", namespace: XMPPNamespace.streamManagement, ["h": "1"])) == [.send("<r xmlns='urn:xmpp:sm:3'/>")])
        #expect(sm.unacknowledged == ["<message id='2'/>", "<message id='3'/>"])
        #expect(sm.handle(XMLElement("a", namespace: XMPPNamespace.streamManagement, ["h": "3"])) == [])
        #expect(sm.unacknowledged.isEmpty && !sm.ackRequested)
        // An h beyond what we sent is ignored.
        #expect(sm.handle(XMLElement("a", namespace: XMPPNamespace.streamManagement, ["h": "9"])) == [])
        #expect(sm.acknowledged == 3)
    }

    @Test func anAckThatCoversNothingNewDoesNotAskAgain() {
        var server = FakeSMServer()
        var sm = enabled(&server)
        #expect(sm.sent("<message id='1'/>") == [.send("<r xmlns='urn:xmpp:sm:3'/>")])
        #expect(sm.handle(XMLElement("a", namespace: XMPPNamespace.streamManagement, ["h": "0"])) == [])
        #expect(sm.unacknowledged.count == 1 && !sm.ackRequested)
        // The next stanza asks again.
        #expect(sm.sent("<message id='2'/>") == [.send("<r xmlns='urn:xmpp:sm:3'/>")])
    }

    @Test func answersTheServersRequestWithHandledCount() {
        var server = FakeSMServer()
        var sm = enabled(&server)
        for _ in 0..<5 { sm.received() }
        #expect(sm.handle(XMLElement("r", namespace: XMPPNamespace.streamManagement)) == [.send("<a xmlns='urn:xmpp:sm:3' h='5'/>")])
        #expect(sm.resumption == StreamManagement.Resumption(id: "sm-1", handled: 5, boundJID: Self.jid))
    }

    @Test func stanzasBeforeEnabledAreCountedAndAcked() {
        var server = FakeSMServer()
        var sm = StreamManagement()
        let enable = sm.enable(resume: true)
        _ = sm.sent("<presence/>")
        let outputs = exchange(enable, &sm, &server)
        #expect(outputs.contains(.send("<r xmlns='urn:xmpp:sm:3'/>")))
        // The fake server saw <enable/> only; the presence was written outside `exchange`, so h=0
        // leaves it unacknowledged, as it should be.
        #expect(sm.unacknowledged == ["<presence/>"])
    }

    @Test func resumeResendsWhatTheServerDidNotGet() {
        var server = FakeSMServer()
        var sm = enabled(&server)
        // Two stanzas reach the server and are acked, then the connection breaks with two in flight.
        _ = exchange(server.stanza("<message id='1'/>", &sm), &sm, &server)
        server.received.append("<message id='2'/>")
        _ = sm.sent("<message id='2'/>")
        server.cut()
        _ = sm.sent("<message id='3'/>")
        _ = sm.sent("<iq id='4'/>")
        sm.received()
        let resumption = try! #require(sm.resumption)
        #expect(resumption.handled == 1)
        #expect(StreamManagement.resumeRequest(resumption) == "<resume xmlns='urn:xmpp:sm:3' previd='sm-1' h='1'/>")
        // The server says it had two of ours: the other two are written again, in order.
        let resend = sm.resumed(serverHandled: UInt32(server.received.count))
        #expect(resend == ["<message id='3'/>", "<iq id='4'/>"])
        #expect(sm.isEnabled && sm.handled == 1)
        var counted: [StreamManagement.Output] = []
        for text in resend { counted += sm.sent(text) }
        #expect(counted == [.send("<r xmlns='urn:xmpp:sm:3'/>")])
        #expect(sm.handle(XMLElement("a", namespace: XMPPNamespace.streamManagement, ["h": "4"])) == [])
        #expect(sm.unacknowledged.isEmpty)
    }

    @Test func refusedEnableAndAbandon() {
        var sm = StreamManagement()
        _ = sm.enable(resume: true)
        #expect(sm.handle(XMLElement("failed", namespace: XMPPNamespace.streamManagement)) == [.enableFailed])
        #expect(sm.resumption == nil)
        #expect(sm.sent("<message/>") == [])
        var server = FakeSMServer()
        var on = enabled(&server)
        server.cut()
        _ = on.sent("<message id='lost'/>")
        #expect(on.abandon() == ["<message id='lost'/>"])
        #expect(on.state == .inactive && on.resumption == nil)
    }

    @Test func notResumableWithoutResumeAttribute() {
        var server = FakeSMServer()
        server.resumable = false
        var sm = StreamManagement()
        sm.boundJID = Self.jid
        let outputs = exchange(sm.enable(resume: true), &sm, &server)
        #expect(outputs.contains(.enabled(resumable: false)))
        #expect(sm.isEnabled && sm.resumption == nil)
    }

    // MARK: Keep-alive

    @Test func keepAlivePingsAfterSilenceAndDeclaresDeath() {
        let t0 = EngineInstant.zero
        let server = JID(localpart: nil, domainpart: "example.com")
        var k = KeepAlive(interval: .seconds(30), timeout: .seconds(10), now: t0)
        #expect(k.nextDeadline == t0 + .seconds(30))
        #expect(k.handleTimeout(now: t0 + .seconds(29), server: server) == nil)
        // Traffic postpones the ping.
        k.heard(now: t0 + .seconds(20))
        #expect(k.handleTimeout(now: t0 + .seconds(30), server: server) == nil)
        guard case .ping(let iq)? = k.handleTimeout(now: t0 + .seconds(50), server: server) else {
            Issue.record("no ping"); return
        }
        #expect(Ping.isPing(iq) && iq.to == server && iq.id.hasPrefix(KeepAlive.idPrefix))
        #expect(KeepAlive.isAnswer(iq.result()))
        #expect(k.nextDeadline == t0 + .seconds(60))
        // An answer (any bytes) in time: the next ping is an interval later.
        k.heard(now: t0 + .seconds(51))
        #expect(k.nextDeadline == t0 + .seconds(81))
        guard case .ping? = k.handleTimeout(now: t0 + .seconds(81), server: server) else { Issue.record("no ping"); return }
        #expect(k.handleTimeout(now: t0 + .seconds(90), server: server) == nil)
        #expect(k.handleTimeout(now: t0 + .seconds(91), server: server) == .dead(silence: .seconds(40)))
    }

    // MARK: Negotiation with resumption

    func negotiatedToBind(resumption: StreamManagement.Resumption?, sm: Bool = true) -> (
        ClientStreamNegotiator, [ClientStreamNegotiator.Action]
    ) {
        let t0 = EngineInstant.zero
        var n = ClientStreamNegotiator(configuration: .init(jid: Self.jid, password: "pw", resumption: resumption))
        FakeServer.negotiateThroughPLAIN(&n, now: t0)
        var features = [FakeServer.bind]
        if sm { features.append(XMLElement("sm", namespace: XMPPNamespace.streamManagement)) }
        let actions = n.handle(FakeServer.features(features), now: t0)
        return (n, actions)
    }

    @Test func negotiatorResumesInsteadOfBinding() {
        let resumption = StreamManagement.Resumption(id: "sm-1", handled: 7, boundJID: Self.jid)
        var (n, actions) = negotiatedToBind(resumption: resumption)
        #expect(actions == [.send("<resume xmlns='urn:xmpp:sm:3' previd='sm-1' h='7'/>")])
        let ready = n.handle(
            .element(XMLElement("resumed", namespace: XMPPNamespace.streamManagement, ["previd": "sm-1", "h": "3"])),
            now: .zero)
        guard case .ready(let jid, let features)? = ready.first else { Issue.record("\(ready)"); return }
        #expect(jid == Self.jid && features.streamManagement)
        #expect(n.resumeOutcome == .resumed(serverHandled: 3))
        #expect(n.isReady)
    }

    @Test func negotiatorBindsAfreshWhenResumptionFails() {
        let resumption = StreamManagement.Resumption(id: "gone", handled: 7, boundJID: Self.jid)
        var (n, _) = negotiatedToBind(resumption: resumption)
        var failed = XMLElement("failed", namespace: XMPPNamespace.streamManagement)
        failed.append(XMLElement("item-not-found", namespace: XMPPNamespace.stanzas))
        let bind = n.handle(.element(failed), now: .zero)
        #expect(
            bind == [
                .send("<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>agent</resource></bind></iq>")
            ])
        #expect(n.resumeOutcome == .failed(reason: "item-not-found"))
        let ready = n.handle(FakeServer.bindResult(jid: "alice@example.com/agent"), now: .zero)
        #expect(ready.count == 1 && n.isReady)
    }

    @Test func negotiatorBindsWhenTheServerDoesNotOfferSM() {
        let resumption = StreamManagement.Resumption(id: "sm-1", handled: 7, boundJID: Self.jid)
        let (n, actions) = negotiatedToBind(resumption: resumption, sm: false)
        guard case .send(let text)? = actions.first else { Issue.record("\(actions)"); return }
        #expect(text.contains("bind_1") && n.resumeOutcome == nil)
    }
}
