import Testing
import XMLStream
@testable import XMPPCore

@Suite struct StanzaTests {
    @Test func messageRoundTripKeepsUnknownPayload() throws {
        let extra = XMLElement("x", namespace: "urn:example:extra", ["a": "1"], text: "kept")
        let message = Message(
            type: .chat, id: "m1", from: JID("a@example.com/r"), to: JID("b@example.com"),
            body: "hello <world> & co", thread: "t1", payloads: [extra])
        let parsed = try #require(Message(element: message.element))
        #expect(parsed == message)
        #expect(parsed.payload("x", namespace: "urn:example:extra")?.text == "kept")
        #expect(
            XMLSerializer.serialize(message.element, parentNamespace: XMPPNamespace.client)
                == "<message type='chat' id='m1' from='a@example.com/r' to='b@example.com'><body>hello &lt;world&gt; &amp; co</body><thread>t1</thread><x xmlns='urn:example:extra' a='1'>kept</x></message>"
        )
    }

    @Test func messageWithoutTypeIsNormal() throws {
        let m = try #require(Message(element: XMLElement("message", namespace: XMPPNamespace.client)))
        #expect(m.type == .normal)
        #expect(Message(element: XMLElement("message", namespace: XMPPNamespace.client, ["to": "@bad"])) == nil)
        #expect(Message(element: XMLElement("message", namespace: "jabber:server")) == nil)
    }

    @Test func presenceFields() throws {
        let p = Presence(show: .dnd, status: "in a call", priority: -5)
        let parsed = try #require(Presence(element: p.element))
        #expect(parsed == p)
        #expect(parsed.type == .available)
        #expect(
            XMLSerializer.serialize(p.element, parentNamespace: XMPPNamespace.client)
                == "<presence><show>dnd</show><status>in a call</status><priority>-5</priority></presence>")
    }

    @Test func presenceTypesAndBadPriority() throws {
        let e = XMLElement(
            "presence", namespace: XMPPNamespace.client, ["type": "unavailable"],
            children: [XMLElement("priority", namespace: XMPPNamespace.client, text: "500")])
        let p = try #require(Presence(element: e))
        #expect(p.type == .unavailable && p.priority == 0)
        #expect(Presence(element: XMLElement("presence", namespace: XMPPNamespace.client, ["type": "bogus"])) == nil)
    }

    @Test func stanzaClassification() {
        #expect(Stanza(element: Message(body: "x").element) == .message(Message(body: "x")))
        #expect(Stanza(element: IQ(type: .get, id: "1").element) == .iq(IQ(type: .get, id: "1")))
        #expect(Stanza(element: XMLElement("iq", namespace: XMPPNamespace.client, ["type": "get"])) == nil)
        #expect(Stanza(element: XMLElement("features", namespace: XMPPNamespace.stream)) == nil)
    }

    @Test func streamErrorParsing() throws {
        var e = XMLElement("error", namespace: XMPPNamespace.stream)
        e.append(XMLElement("see-other-host", namespace: XMPPNamespace.streams, text: "other.example.com:5222"))
        e.append(XMLElement("text", namespace: XMPPNamespace.streams, text: "moved"))
        let error = try #require(StreamError(element: e))
        #expect(error.condition == .seeOtherHost && error.conditionText == "other.example.com:5222" && error.text == "moved")
        var unknown = XMLElement("error", namespace: XMPPNamespace.stream)
        unknown.append(XMLElement("made-up", namespace: XMPPNamespace.streams))
        #expect(StreamError(element: unknown)?.condition == .undefinedCondition)
        #expect(
            StreamError(.conflict).serialized
                == "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>")
    }

    @Test func errorDescriptionsAreOneLine() {
        let errors: [XMPPError] = [
            .stream(StreamError(.conflict, text: "replaced")), .sasl(SASLFailure(.notAuthorized)),
            .noUsableMechanism(offered: [], reason: "x"), .authentication(reason: "r"), .tlsRequiredButNotOffered,
            .tls(reason: "certificate verify failed"), .bind(reason: "b"), .session(reason: "s"),
            .stanza(StanzaError(.serviceUnavailable)), .timeout(what: "IQ reply"), .connectionLost(reason: "EOF"),
            .unreachable(reason: "refused"), .malformedXML("line 1"), .protocolViolation("p"), .notConnected,
        ]
        for error in errors {
            #expect(!error.description.isEmpty && !error.description.contains("\n"))
        }
        #expect(XMPPError.sasl(SASLFailure(.notAuthorized)).description == "authentication failed: not-authorized (wrong password?)")
    }
}

@Suite struct JIDTests {
    @Test(
        arguments: [
            ("juliet@example.com/balcony", "juliet", "example.com", "balcony"),
            ("example.com", nil, "example.com", nil),
            ("EXAMPLE.com.", nil, "example.com", nil),
            ("a@b/c/d", "a", "b", "c/d"),
            ("a@b/c@d", "a", "b", "c@d"),
            ("b/res", nil, "b", "res"),
            ("[::1]", nil, "[::1]", nil),
        ] as [(String, String?, String, String?)])
    func valid(_ input: String, _ local: String?, _ domain: String, _ resource: String?) throws {
        let jid = try #require(JID(input))
        #expect(jid.localpart == local && jid.domainpart == domain && jid.resourcepart == resource)
    }

    @Test(arguments: [
        "", "@example.com", "user@", "example.com/", "a@b@c", "a b@c", "user@exa mple.com", "/res",
        String(repeating: "a", count: 1024) + "@example.com",
    ])
    func invalid(_ input: String) {
        #expect(JID(input) == nil)
    }

    @Test func bareAndFull() throws {
        let jid = try #require(JID("romeo@example.net/orchard"))
        #expect(jid.bare.description == "romeo@example.net" && jid.isFull && jid.bare.isBare)
        #expect(jid.with(resource: "x").description == "romeo@example.net/x")
    }
}
