import NIOCore
import Testing
import XMLStream
import XMPPClient
import XMPPCore

/// The runtime against a scripted loopback server: STARTTLS, PLAIN over TLS, binding, IQ routing,
/// spoofed responses, timeouts, malformed XML. Waits are bounded by request timeouts, never sleeps.
@Suite struct XMPPClientRuntimeTests {
    func configuration(_ server: FakeXMPPServer, port: Int, password: String = "secret") -> XMPPClientConfiguration {
        XMPPClientConfiguration(jid: JID("alice@localhost/fake")!, password: password,
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

    @Test func spoofedResponseIsIgnoredAndTheRealOneMatches() async throws {
        let server = try FakeXMPPServer(password: "secret") { element in
            guard let iq = IQ(element: element), iq.type == .get, let to = iq.to else { return [] }
            // First a forged answer from another entity with the same id, then the real one.
            let forged = IQ(type: .result, id: iq.id, from: JID("mallory@localhost/m"),
                            payload: XMLElement("query", namespace: "urn:example:q", ["who": "mallory"]))
            let real = IQ(type: .result, id: iq.id, from: to, payload: XMLElement("query", namespace: "urn:example:q", ["who": "bob"]))
            return [forged, real].map { XMLSerializer.serialize($0.element, parentNamespace: XMPPNamespace.client) }
        }
        let port = try await server.start()
        let client = XMPPClient(configuration: configuration(server, port: port))
        try await client.connect()
        let response = try await client.sendIQ(IQ(type: .get, id: "", to: JID("bob@localhost/b"),
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
            _ = try await client.sendIQ(IQ(type: .get, id: "silent-1", payload: XMLElement("quiet", namespace: "urn:example:q")),
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
        guard case .malformedXML(let message)? = error else { Issue.record("expected malformedXML, got \(String(describing: error))"); return }
        #expect(message.contains("mismatch"))
        // The client told the server why before closing.
        let streamError = await received.next()
        #expect(streamError?.name == "error" && streamError?.namespace == XMPPNamespace.stream)
        #expect(await client.isConnected == false)
        await #expect(throws: XMPPError.notConnected) { try await client.send(Message(body: "x")) }
        await server.stop()
    }

    @Test func unreachableServer() async throws {
        let client = XMPPClient(configuration: XMPPClientConfiguration(
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
