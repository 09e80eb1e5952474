import CryptoPrimitives
import Testing
import XMLStream
@testable import XMPPCore

/// The negotiator driven through the real `XMLStreamParser`, with server bytes shaped like
/// Prosody 0.12's, delivered in chunks of every size from 1 byte up: checks that the parser
/// resets the negotiator asks for line up with the server's stream restarts.
@Suite struct ParserDrivenNegotiationTests {
    static let header =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xml:lang='en' xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='ID' version='1.0'>"

    /// What the server sends after each thing the client sends, keyed by the step.
    static func serverScript(_ v: SCRAMVector) -> [String] {
        [
            header.replacingID("s1")
                + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>",
            "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
            header.replacingID("s2")
                + "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>",
            "<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Base64.encode(Array(v.serverFirst.utf8)))</challenge>",
            "<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>\(Base64.encode(Array(v.serverFinal.utf8)))</success>",
            header.replacingID("s3")
                + "<stream:features><sub xmlns='urn:xmpp:features:pre-approval'/><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://prosody.im' ver='abc='/><ver xmlns='urn:xmpp:features:rosterver'/></stream:features>",
            "<iq id='bind_1' type='result'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>user@example.com/phone</jid></bind></iq>",
        ]
    }

    @Test(arguments: [1, 2, 3, 7, 64, 10_000])
    func prosodyShapedNegotiation(chunkSize: Int) throws {
        let v = try #require(SCRAMVector.all.first { $0.mechanism == "SCRAM-SHA-1" })
        let now = EngineInstant.zero
        var negotiator = ClientStreamNegotiator(
            configuration: .init(
                jid: JID("user@example.com/phone")!, password: v.password,
                clientNonce: v.clientNonce))
        let parser = XMLStreamParser()
        var sent: [String] = []
        var ready: JID? = nil
        var failure: XMPPError? = nil
        var resets = 0

        func carryOut(_ actions: [ClientStreamNegotiator.Action]) -> Bool {
            var reset = false
            for action in actions {
                switch action {
                case .send(let text): sent.append(text)
                case .startTLS: carryOut(negotiator.tlsEstablished(now: now)) ? (reset = true) : ()
                case .resetParser: parser.reset(); resets += 1; reset = true
                case .ready(let jid, _): ready = jid
                case .failed(let error): failure = error
                }
            }
            return reset
        }

        _ = carryOut(negotiator.start(now: now))
        for step in Self.serverScript(v) {
            let bytes = Array(step.utf8)
            var offset = 0
            while offset < bytes.count {
                let chunk = bytes[offset..<min(bytes.count, offset + chunkSize)]
                offset += chunk.count
                for event in try parser.feed(chunk) {
                    if carryOut(negotiator.handle(event, now: now)) { break }
                }
            }
        }
        #expect(failure == nil)
        #expect(ready == JID("user@example.com/phone"))
        #expect(resets == 2)
        #expect(negotiator.saslMechanism == .scramSHA1)
        #expect(negotiator.features?.featureNames.contains("bind (urn:ietf:params:xml:ns:xmpp-bind)") == true)
        // header, starttls, header, auth, response, header, bind
        #expect(sent.count == 7)
        #expect(sent.filter { $0.hasPrefix("<?xml") }.count == 3)
    }

    @Test func malformedServerBytesBecomeATypedError() {
        let parser = XMLStreamParser()
        #expect(throws: XMLStreamError.self) {
            _ = try parser.feed(Self.header.replacingID("x") + "<stream:features><a></b>")
        }
        do {
            _ = try parser.feed("more")
        } catch {
            let mapped = XMPPError.malformedXML(error.description)
            #expect(mapped.description.hasPrefix("malformed XML from server: "))
            #expect(error.streamErrorCondition == "not-well-formed")
        }
    }
}

extension String {
    fileprivate func replacingID(_ id: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: "id='ID'") {
            out += rest[..<r.lowerBound] + "id='\(id)'"
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
