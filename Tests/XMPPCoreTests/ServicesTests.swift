import Foundation
import Testing
import XMLStream
@testable import XMPPCore

@Suite struct DiscoTests {
    @Test func responderAnswersWithIdentityAndFeatures() throws {
        let responder = DiscoResponder(identityType: "phone", name: "Agent")
        let request = IQ(
            type: .get, id: "d1", from: JID("example.com"), to: JID("a@example.com/r"),
            payload: XMLElement("query", namespace: XMPPNamespace.discoInfo))
        let answer = try #require(responder.answer(request))
        #expect(answer.type == .result && answer.id == "d1" && answer.to == JID("example.com"))
        let info = try #require(answer.payload.flatMap(DiscoInfo.init(element:)))
        #expect(info.identities == [DiscoInfo.Identity(category: "client", type: "phone", name: "Agent")])
        for feature in [
            XMPPNamespace.discoInfo, XMPPNamespace.ping, "urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:rtp:1",
            "urn:xmpp:jingle:apps:rtp:audio", "urn:xmpp:jingle:transports:ice-udp:1",
            "urn:xmpp:jingle:apps:dtls:0", "urn:xmpp:jingle-message:0",
        ] {
            #expect(info.supports(feature), "missing \(feature)")
        }
    }

    @Test func unknownNodeIsItemNotFound() throws {
        let responder = DiscoResponder()
        let request = IQ(type: .get, id: "d2", payload: XMLElement("query", namespace: XMPPNamespace.discoInfo, ["node": "x#y"]))
        #expect(responder.answer(request)?.error?.condition == .itemNotFound)
        #expect(responder.answer(Ping.request(id: "p")) == nil)
    }

    @Test func parsesServerInfo() throws {
        var query = XMLElement("query", namespace: XMPPNamespace.discoInfo)
        query.append(XMLElement("identity", namespace: XMPPNamespace.discoInfo, ["category": "server", "type": "im", "name": "Prosody"]))
        query.append(XMLElement("identity", namespace: XMPPNamespace.discoInfo, ["type": "no-category"]))
        query.append(XMLElement("feature", namespace: XMPPNamespace.discoInfo, ["var": XMPPNamespace.extdisco2]))
        query.append(XMLElement("x", namespace: "jabber:x:data", ["type": "result"]))
        let info = try #require(DiscoInfo(element: query))
        #expect(info.identities.map(\.description) == ["server/im (Prosody)"])
        #expect(info.supports(XMPPNamespace.extdisco2) && info.extensions.count == 1)
        #expect(DiscoInfo(element: info.element) == info)
        let request = DiscoInfo.request(id: "q", to: JID("example.com"))
        #expect(
            XMLSerializer.serialize(request.element, parentNamespace: XMPPNamespace.client)
                == "<iq type='get' id='q' to='example.com'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
    }
}

@Suite struct PingTests {
    @Test func answersPing() throws {
        let ping = IQ(type: .get, id: "p1", from: JID("example.com"), payload: XMLElement("ping", namespace: XMPPNamespace.ping))
        #expect(Ping.answer(ping) == IQ(type: .result, id: "p1", to: JID("example.com")))
        #expect(Ping.answer(IQ(type: .set, id: "p1", payload: XMLElement("ping", namespace: XMPPNamespace.ping))) == nil)
        #expect(Ping.isPing(Ping.request(id: "x", to: JID("example.com"))))
    }
}

struct ProsodyExtdiscoVector: Decodable, Sendable, CustomStringConvertible {
    var name: String
    var services: [[String: String]]
    var description: String { name }

    static var all: [ProsodyExtdiscoVector] {
        (try? VectorLoader.load("prosody-extdisco", as: [ProsodyExtdiscoVector].self)) ?? []
    }

    /// The result IQ as Prosody shapes it: `<services xmlns='urn:xmpp:extdisco:2'>` with one `<service/>` each.
    func result(namespace: String = XMPPNamespace.extdisco2) -> IQ {
        var services = XMLElement("services", namespace: namespace)
        for attributes in self.services {
            var e = XMLElement("service", namespace: namespace)
            for key in attributes.keys.sorted() { e.setAttribute(key, attributes[key]) }
            services.append(e)
        }
        return IQ(type: .result, id: "ext1", from: JID("localhost"), payload: services)
    }
}

@Suite struct ExternalServicesTests {
    @Test func vectorsLoad() { #expect(ProsodyExtdiscoVector.all.count == 1) }

    @Test(arguments: ProsodyExtdiscoVector.all)
    func parsesProsodyShapedResponse(_ vector: ProsodyExtdiscoVector) throws {
        let services = try ExternalServiceDiscovery.parseServices(vector.result())
        #expect(services.count == 3)
        #expect(services[0] == ExternalService(type: "stun", host: "127.0.0.1", port: 3478, transport: "udp"))
        let turn = services[1]
        #expect(turn.type == "turn" && turn.username == "1795410000:alice" && turn.restricted)
        #expect(turn.password == "Wm9vQmFyQmF6cXV4MTIzNDU2Nzg5MA==" && turn.expires == "2026-11-23T03:00:00Z")
        #expect(services[2].name == "TLS relay" && services[2].port == 5349 && services[2].transport == "tcp")
        // The same in extdisco:1.
        #expect(try ExternalServiceDiscovery.parseServices(vector.result(namespace: XMPPNamespace.extdisco1)) == services)
    }

    @Test func passwordIsRedacted() {
        let turn = ExternalService(type: "turn", host: "h", port: 3478, username: "u", password: "s3cret")
        #expect(!turn.description.contains("s3cret") && turn.description.contains("password=***"))
        #expect(turn.summary(redacted: false).contains("password=s3cret"))
    }

    @Test(arguments: [
        ["host": "h", "port": "3478"],
        ["type": "turn", "port": "3478"],
        ["type": "turn", "host": "h", "port": "99999"],
        ["type": "turn", "host": "h", "port": "abc"],
        ["type": "turn", "host": "h", "port": "0"],
    ])
    func badServiceIsRejected(_ attributes: [String: String]) {
        var e = XMLElement("service", namespace: XMPPNamespace.extdisco2)
        for key in attributes.keys.sorted() { e.setAttribute(key, attributes[key]) }
        #expect(throws: XMPPError.self) { _ = try ExternalService(element: e) }
    }

    @Test func emptyAndErrorResults() throws {
        #expect(try ExternalServiceDiscovery.parseServices(IQ(type: .result, id: "x")) == [])
        let error = IQ(type: .error, id: "x", error: StanzaError(.featureNotImplemented))
        #expect(throws: XMPPError.stanza(StanzaError(.featureNotImplemented))) {
            _ = try ExternalServiceDiscovery.parseServices(error)
        }
        #expect(throws: XMPPError.self) {
            _ = try ExternalServiceDiscovery.parseServices(IQ(type: .result, id: "x", payload: XMLElement("query", namespace: "x")))
        }
    }

    @Test func fallbackConditions() {
        #expect(ExternalServiceDiscovery.shouldFallBack(from: StanzaError(.featureNotImplemented)))
        #expect(ExternalServiceDiscovery.shouldFallBack(from: StanzaError(.serviceUnavailable)))
        #expect(!ExternalServiceDiscovery.shouldFallBack(from: StanzaError(.forbidden)))
    }

    @Test func requestShapes() {
        let services = ExternalServiceDiscovery.servicesRequest(id: "s1", to: JID("example.com")!, type: "turn")
        #expect(
            XMLSerializer.serialize(services.element, parentNamespace: XMPPNamespace.client)
                == "<iq type='get' id='s1' to='example.com'><services xmlns='urn:xmpp:extdisco:2' type='turn'/></iq>")
        let credentials = ExternalServiceDiscovery.credentialsRequest(
            id: "c1", to: JID("example.com")!, host: "turn.example.com",
            type: "turn", port: 3478)
        #expect(
            XMLSerializer.serialize(credentials.element, parentNamespace: XMPPNamespace.client)
                == "<iq type='get' id='c1' to='example.com'><credentials xmlns='urn:xmpp:extdisco:2'><service host='turn.example.com' type='turn' port='3478'/></credentials></iq>"
        )
        let v1 = ExternalServiceDiscovery.servicesRequest(id: "s2", to: JID("example.com")!, namespace: XMPPNamespace.extdisco1)
        #expect(v1.payload?.namespace == "urn:xmpp:extdisco:1")
    }
}

@Suite struct ReconnectPolicyTests {
    @Test func exponentialWithCap() {
        var policy = ReconnectPolicy(initialDelay: .seconds(1), multiplier: 2, maxDelay: .seconds(10), jitter: 0.5)
        let delays = (0..<6).compactMap { _ in policy.nextDelay(random: 0) }
        #expect(delays == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10)])
        #expect(policy.attempt == 6)
    }

    @Test func jitterReducesWithinBounds() {
        var policy = ReconnectPolicy(initialDelay: .seconds(4), jitter: 0.5)
        #expect(policy.nextDelay(random: 0.5) == .seconds(3))
        var other = ReconnectPolicy(initialDelay: .seconds(4), jitter: 0.5)
        #expect(other.nextDelay(random: 0.999_999) ?? .zero > .seconds(2))
        var clamped = ReconnectPolicy(initialDelay: .seconds(4), jitter: 0.5)
        #expect(clamped.nextDelay(random: 7) == .seconds(2))
    }

    @Test func resetAndMaxAttempts() {
        var policy = ReconnectPolicy(initialDelay: .milliseconds(500), maxAttempts: 2)
        #expect(policy.nextDelay(random: 0) == .milliseconds(500))
        #expect(policy.nextDelay(random: 0) == .seconds(1))
        #expect(policy.nextDelay(random: 0) == nil)
        policy.reset()
        #expect(policy.nextDelay(random: 0) == .milliseconds(500))
    }
}

@Suite struct SRVCodecTests {
    @Test func queryEncoding() {
        let q = DNSSRVCodec.query(id: 0x1234, name: "_xmpp-client._tcp.example.com")
        #expect(Array(q.prefix(12)) == [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])
        #expect(q[12] == 12 && String(decoding: q[13..<25], as: UTF8.self) == "_xmpp-client")
        #expect(Array(q.suffix(4)) == [0, 33, 0, 1])
    }

    /// A response built by hand: the question, then two SRV answers whose names point back to it.
    func response(id: UInt16, rcode: UInt8 = 0) -> [UInt8] {
        var r = DNSSRVCodec.query(id: id, name: "_xmpp-client._tcp.example.com")
        r[2] = 0x81; r[3] = 0x80 | rcode
        r[7] = 2 // ANCOUNT
        func answer(priority: UInt16, weight: UInt16, port: UInt16, target: [UInt8]) -> [UInt8] {
            let rdata: [UInt8] =
                [
                    UInt8(priority >> 8), UInt8(priority & 0xFF), UInt8(weight >> 8), UInt8(weight & 0xFF),
                    UInt8(port >> 8), UInt8(port & 0xFF),
                ] + target
            return [0xC0, 12, 0, 33, 0, 1, 0, 0, 0x0E, 0x10, 0, UInt8(rdata.count)] + rdata
        }
        // "xmpp" + pointer to "example.com" inside the question (offset 12 + 13 + 5 = 30).
        r += answer(priority: 10, weight: 5, port: 5222, target: [4] + Array("xmpp".utf8) + [0xC0, 30])
        r += answer(priority: 5, weight: 0, port: 15222, target: [3] + Array("alt".utf8) + [0xC0, 30])
        return r
    }

    @Test func parsesCompressedAnswers() throws {
        let records = try DNSSRVCodec.parseResponse(response(id: 7), id: 7)
        #expect(
            records == [
                SRVRecord(priority: 10, weight: 5, port: 5222, target: "xmpp.example.com"),
                SRVRecord(priority: 5, weight: 0, port: 15222, target: "alt.example.com"),
            ])
        #expect(SRVRecord.connectionOrder(records).map(\.port) == [15222, 5222])
    }

    @Test func errorsAndTruncation() throws {
        #expect(throws: DNSError.idMismatch) { _ = try DNSSRVCodec.parseResponse(response(id: 7), id: 8) }
        #expect(try DNSSRVCodec.parseResponse(response(id: 7, rcode: 3), id: 7) == [])
        #expect(throws: DNSError.responseCode(2)) { _ = try DNSSRVCodec.parseResponse(response(id: 7, rcode: 2), id: 7) }
        let full = response(id: 7)
        for cut in stride(from: 0, to: full.count - 1, by: 3) {
            #expect(throws: DNSError.self) { _ = try DNSSRVCodec.parseResponse(Array(full.prefix(cut)), id: 7) }
        }
        var loop = full
        loop[loop.count - 2] = 0xC0; loop[loop.count - 1] = UInt8(loop.count - 2)
        #expect(throws: DNSError.self) { _ = try DNSSRVCodec.parseResponse(loop, id: 7) }
    }
}
