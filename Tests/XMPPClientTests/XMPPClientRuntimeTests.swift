import Synchronization
import NIOCore
import Testing
import XMLStream
import XMPPClient
import XMPPCore

/// The runtime against a scripted loopback server: STARTTLS, PLAIN over TLS, binding, IQ routing,
/// spoofed responses, timeouts, malformed XML. Waits are bounded by request timeouts, never sleeps.
@Suite struct XMPPClientRuntimeTests {
    func configuration(_ server: FakeXMPPServer, port: Int, password: String = "secret") -> XMPPClientConfiguration {
        XMPPClientConfiguration(
            jid: JID("alice@localhost/fake")!, password: password,
            server: .init(host: "127.0.0.1", port: port), trustedCAFile: server.certificateFile,
            connectTimeout: .seconds(5), negotiationStepTimeout: .seconds(5), requestTimeout: .seconds(5))
    }

    @Test func connectsOverSTARTTLSAndAnswersServerRequests() async throws {
        let server = try FakeXMPPServer(password: "secret")
        let port = try await server.start()
        let client = XMPPClient(configuration: configuration(server, port: port))
        let info = try await client.connect()
        #expect(info.boundJID == JID("alice@localhost/fake"))
        #expect(info.saslMechanism == .plain)
        #expect(info.tlsVersion?.hasPrefix("TLSv1.") == true)
        #expect(info.peerCertificateSubject?.contains("localhost") == true)

        // The server asks us things: ping, disco, and something nobody handles.
        var replies = server.received.makeAsyncIterator()
        server.send("<iq type='get' id='p1' from='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        let pong = try #require(await replies.next().flatMap(IQ.init(element:)))
        #expect(pong.type == .result && pong.id == "p1")
        server.send("<iq type='get' id='d1' from='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        let disco = try #require(await replies.next().flatMap(IQ.init(element:)))
        #expect(disco.payload.flatMap(DiscoInfo.init(element:))?.supports("urn:xmpp:jingle:1") == true)
        server.send("<iq type='set' id='u1' from='localhost'><thing xmlns='urn:example:unknown'/></iq>")
        let unknown = try #require(await replies.next().flatMap(IQ.init(element:)))
        #expect(unknown.type == .error && unknown.error?.condition == .serviceUnavailable)

        // A registered handler answers its namespace.
        await client.setIQHandler(namespace: "urn:example:echo") { $0.result(payload: $0.payload) }
        server.send("<iq type='get' id='e1' from='localhost'><echo xmlns='urn:example:echo' v='7'/></iq>")
        let echo = try #require(await replies.next().flatMap(IQ.init(element:)))
        #expect(echo.type == .result && echo.payload?.attribute("v") == "7")

        // Messages reach the stanza stream.
        var stanzas = client.stanzas.makeAsyncIterator()
        server.send("<message from='bob@localhost/x' type='chat'><body>hi</body></message>")
        guard case .message(let message)? = await stanzas.next() else { Issue.record("no message"); return }
        #expect(message.body == "hi" && message.from == JID("bob@localhost/x"))

        await client.disconnect()
        #expect(await client.isConnected == false)
        await server.stop()
    }

    /// The harness's path: requests of a namespace given to `streamIQRequests` come to the
    /// `receiveStanzas` handler in order with the messages around them (a transport-info never
    /// overtakes its session-initiate), nothing answers them for us, and `enqueue` /
    /// `enqueueRequest` write in order and hand back the response as it came, errors included.
    @Test func streamedRequestsComeInOrderAndTheApplicationAnswersThem() async throws {
        let server = try FakeXMPPServer(password: "secret") { element in
            guard let iq = IQ(element: element), iq.type == .set, iq.payload?.namespace == "urn:example:q" else { return [] }
            let refusal = iq.error(StanzaError(.itemNotFound))
            return [XMLSerializer.serialize(refusal.element, parentNamespace: XMPPNamespace.client)]
        }
        let port = try await server.start()
        let client = XMPPClient(configuration: configuration(server, port: port))
        try await client.connect()
        await client.streamIQRequests(namespace: "urn:xmpp:jingle:1")
        let (seen, seenSink) = AsyncStream.makeStream(of: XMLElement.self)
        client.receiveStanzas { seenSink.yield($0) }
        var replies = server.received.makeAsyncIterator()
        server.send(
            "<iq type='set' id='j1' from='bob@localhost/b' extra='kept'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'/>"
                + "<second xmlns='urn:example:x'/></iq>"
                + "<message from='bob@localhost/b' type='chat'><body>between</body></message>"
                + "<iq type='set' id='j2' from='bob@localhost/b'><jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='s'/></iq>")
        var elements: [XMLElement] = []
        for await element in seen {
            elements.append(element)
            if elements.count == 3 { break }
        }
        #expect(
            elements.map { $0.attribute("id") ?? $0.child("body", namespace: XMPPNamespace.client)?.text ?? "?" } == [
                "j1", "between", "j2",
            ])
        // Each element as it was read: nothing the parsed IQ has no field for is lost.
        #expect(elements.first?.attribute("extra") == "kept" && elements.first?.elements.count == 2)
        // Nothing was answered for us: the first thing the server gets is our own answer.
        client.enqueue(IQ(type: .result, id: "j1", to: JID("bob@localhost/b")).element) { Issue.record("\($0)") }
        let answer = try #require(await replies.next().flatMap(IQ.init(element:)))
        #expect(answer.type == .result && answer.id == "j1")
        var request = IQ(type: .set, id: "q1", to: JID("bob@localhost/b"), payload: XMLElement("query", namespace: "urn:example:q")).element
        request.setAttribute("extra", "as-built")
        let response: Result<IQ, XMPPError> = await withCheckedContinuation { done in
            client.enqueueRequest(request, timeout: .seconds(5)) { done.resume(returning: $0) }
        }
        #expect((try? response.get())?.type == .error && (try? response.get())?.error?.condition == .itemNotFound)
        // Written exactly as built, not rebuilt from the parsed IQ.
        #expect(await replies.next()?.attribute("extra") == "as-built")
        client.receiveStanzas(nil)
        await client.disconnect()
        await server.stop()
    }

    /// A handler's requests are answered one after the other in arrival order: a transport-info
    /// right behind its session-initiate is not handled until the initiate has been (before, each
    /// request ran in a task of its own and the second could overtake the first).
    @Test func handledRequestsRunOneAfterTheOtherInArrivalOrder() async throws {
        let server = try FakeXMPPServer(password: "secret") { _ in [] }
        let port = try await server.start()
        let client = XMPPClient(configuration: configuration(server, port: port))
        try await client.connect()
        let log = Mutex<[String]>([])
        let (started, startedSink) = AsyncStream.makeStream(of: String.self)
        await client.setIQHandler(namespace: "urn:xmpp:jingle:1") { iq in
            log.withLock { $0.append("start \(iq.id)") }
            startedSink.yield(iq.id)
            if iq.id == "j1" {
                // Would j2 start while j1 is still being handled? Wait for it, at most half a second.
                await withTaskGroup(of: Void.self) { group in
                    group.addTask { try? await Task.sleep(for: .milliseconds(500)) }
                    group.addTask { for await id in started where id == "j2" { return } }
                    await group.next()
                    group.cancelAll()
                }
            }
            log.withLock { $0.append("end \(iq.id)") }
            return IQ(type: .result, id: iq.id, to: iq.from)
        }
        var replies = server.received.makeAsyncIterator()
        server.send(
            "<iq type='set' id='j1' from='bob@localhost/b'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'/></iq>"
                + "<iq type='set' id='j2' from='bob@localhost/b'><jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='s'/></iq>")
        var answered: [String] = []
        while answered.count < 2, let element = await replies.next() {
            if let iq = IQ(element: element), iq.type == .result { answered.append(iq.id) }
        }
        #expect(answered == ["j1", "j2"])
        #expect(log.withLock { $0 } == ["start j1", "end j1", "start j2", "end j2"])
        await client.disconnect()
        await server.stop()
    }

    @Test func spoofedResponseIsIgnoredAndTheRealOneMatches() async throws {
        let server = try FakeXMPPServer(password: "secret") { element in
            guard let iq = IQ(element: element), iq.type == .get, let to = iq.to else { return [] }
            // First a forged answer from another entity with the same id, then the real one.
            let forged = IQ(
                type: .result, id: iq.id, from: JID("mallory@localhost/m"),
                payload: XMLElement("query", namespace: "urn:example:q", ["who": "mallory"]))
            let real = IQ(type: .result, id: iq.id, from: to, payload: XMLElement("query", namespace: "urn:example:q", ["who": "bob"]))
            return [forged, real].map { XMLSerializer.serialize($0.element, parentNamespace: XMPPNamespace.client) }
        }
        let port = try await server.start()
        let client = XMPPClient(configuration: configuration(server, port: port))
        try await client.connect()
        let response = try await client.sendIQ(
            IQ(
                type: .get, id: "", to: JID("bob@localhost/b"),
                payload: XMLElement("query", namespace: "urn:example:q")))
        #expect(response.payload?.attribute("who") == "bob")
        await client.disconnect()
        await server.stop()
    }

    @Test func unansweredRequestTimesOutAndErrorsAreTyped() async throws {
        let server = try FakeXMPPServer(password: "secret") { element in
            guard let iq = IQ(element: element), iq.payload?.name == "fail" else { return [] }
            return [XMLSerializer.serialize(iq.error(StanzaError(.itemNotFound)).element, parentNamespace: XMPPNamespace.client)]
        }
        let port = try await server.start()
        let client = XMPPClient(configuration: configuration(server, port: port))
        try await client.connect()
        await #expect(throws: XMPPError.timeout(what: "the answer to IQ 'silent-1'")) {
            _ = try await client.sendIQ(
                IQ(type: .get, id: "silent-1", payload: XMLElement("quiet", namespace: "urn:example:q")),
                timeout: .milliseconds(200))
        }
        await #expect(throws: XMPPError.stanza(StanzaError(.itemNotFound))) {
            _ = try await client.sendIQ(IQ(type: .get, id: "", payload: XMLElement("fail", namespace: "urn:example:q")))
        }
        await client.disconnect()
        await server.stop()
    }

    @Test func wrongPasswordIsAnAuthenticationError() async throws {
        let server = try FakeXMPPServer(password: "secret")
        let port = try await server.start()
        let client = XMPPClient(configuration: configuration(server, port: port, password: "wrong"))
        await #expect(throws: XMPPError.sasl(SASLFailure(.notAuthorized))) { try await client.connect() }
        #expect(await client.isConnected == false)
        await server.stop()
    }

    @Test func untrustedCertificateIsATLSError() async throws {
        let server = try FakeXMPPServer(password: "secret")
        let port = try await server.start()
        var config = configuration(server, port: port)
        config.trustedCAFile = nil
        let client = XMPPClient(configuration: config)
        do {
            try await client.connect()
            Issue.record("connected without trusting the certificate")
        } catch {
            guard case .tls = error else { Issue.record("expected a TLS error, got \(error)"); return }
        }
        await server.stop()
    }

    @Test func malformedXMLEndsTheSessionWithTheParserMessage() async throws {
        let server = try FakeXMPPServer(password: "secret")
        let port = try await server.start()
        let client = XMPPClient(configuration: configuration(server, port: port))
        try await client.connect()
        var events = client.connectionEvents.makeAsyncIterator()
        guard case .connected? = await events.next() else { Issue.record("no connected event"); return }
        var received = server.received.makeAsyncIterator()
        server.send("<message><a></b></message>")
        guard case .disconnected(let error)? = await events.next() else { Issue.record("no disconnected event"); return }
        guard case .malformedXML(let message)? = error else {
            Issue.record("expected malformedXML, got \(String(describing: error))"); return
        }
        #expect(message.contains("mismatch"))
        // The client told the server why before closing.
        let streamError = await received.next()
        #expect(streamError?.name == "error" && streamError?.namespace == XMPPNamespace.stream)
        #expect(await client.isConnected == false)
        await #expect(throws: XMPPError.notConnected) { try await client.send(Message(body: "x")) }
        await server.stop()
    }

    @Test func unreachableServer() async throws {
        let client = XMPPClient(
            configuration: XMPPClientConfiguration(
                jid: JID("alice@localhost")!, password: "x", server: .init(host: "127.0.0.1", port: 1), connectTimeout: .seconds(2)))
        do {
            try await client.connect()
            Issue.record("connected to port 1")
        } catch {
            guard case .unreachable(let reason) = error else { Issue.record("\(error)"); return }
            #expect(reason.contains("127.0.0.1:1"))
        }
    }

    @Test func serverAddressParsing() {
        #expect(XMPPClientConfiguration.ServerAddress("h:15222") == .init(host: "h", port: 15222))
        #expect(XMPPClientConfiguration.ServerAddress("h") == .init(host: "h", port: 5222))
        #expect(XMPPClientConfiguration.ServerAddress("[::1]:5") == .init(host: "::1", port: 5))
        #expect(XMPPClientConfiguration.ServerAddress("h:0") == nil)
        #expect(XMPPClientConfiguration.ServerAddress("h:x") == nil)
        #expect(XMPPClientConfiguration.ServerAddress(":5") == nil)
    }
}
