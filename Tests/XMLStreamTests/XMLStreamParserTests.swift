import Foundation
import Testing
@testable import XMLStream

private let header =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    + "xmlns:stream='http://etherx.jabber.org/streams' to='example.test' version='1.0'>"

private func transcript() throws -> [UInt8] {
    let url = try #require(
        Bundle.module.url(
            forResource: "c2s-server-session", withExtension: "xml",
            subdirectory: "Transcripts"))
    return try [UInt8](Data(contentsOf: url))
}

private func parse<S: Sequence<[UInt8]>>(_ pieces: S) throws -> [XMLStreamEvent] {
    let parser = XMLStreamParser()
    var events: [XMLStreamEvent] = []
    for piece in pieces { events += try parser.feed(piece) }
    return events
}

/// The stanzas of a stream, in order.
private func stanzas(_ events: [XMLStreamEvent]) -> [XMLElement] {
    events.compactMap { if case .element(let e) = $0 { e } else { nil } }
}

@Suite struct XMLStreamParserTests {
    // MARK: Chunking does not change what is parsed.

    @Test func transcriptGivesTheSameEventsWholeAndOneByteAtATime() throws {
        let bytes = try transcript()
        let whole = try parse([bytes])
        #expect(whole.count == 9)
        #expect(whole.first.map { if case .streamOpened = $0 { true } else { false } } == true)
        #expect(whole.last == .streamClosed)
        let byByte = try parse(bytes.map { [$0] })
        #expect(byByte == whole)
    }

    @Test func transcriptGivesTheSameEventsSplitInTwoAtEveryOffset() throws {
        let bytes = try transcript()
        let whole = try parse([bytes])
        var mismatches: [Int] = []
        for offset in 0...bytes.count {
            let events = try parse([Array(bytes[..<offset]), Array(bytes[offset...])])
            if events != whole { mismatches.append(offset) }
        }
        #expect(mismatches.isEmpty)
    }

    @Test func stanzaCompletesInTheFeedThatDeliversItsClosingBracket() throws {
        let parser = XMLStreamParser()
        #expect(try parser.feed(header).count == 1)
        #expect(parser.isStreamOpen)
        #expect(try parser.feed("<message to='a@b'><body>hi</body></message").isEmpty)
        let events = try parser.feed(">")
        #expect(
            events == [
                .element(
                    XMLElement(
                        "message", namespace: "jabber:client", ["to": "a@b"],
                        children: [XMLElement("body", namespace: "jabber:client", text: "hi")]))
            ])
        #expect(try parser.feed("<presence/").isEmpty)
        #expect(try parser.feed(">") == [.element(XMLElement("presence", namespace: "jabber:client"))])
        #expect(try parser.feed("</stream:stream>") == [.streamClosed])
        #expect(!parser.isStreamOpen)
    }

    // MARK: Content

    @Test func streamHeaderCarriesItsAttributes() throws {
        let events = try parse([try transcript()])
        guard case .streamOpened(let root) = events.first else {
            Issue.record("no stream header")
            return
        }
        #expect(root.name == "stream")
        #expect(root.namespace == "http://etherx.jabber.org/streams")
        #expect(root.attribute("id") == "c2s-4f2a9b")
        #expect(root.attribute("version") == "1.0")
        #expect(root.attribute("lang", namespace: xmlNamespaceURI) == "en")
        #expect(root.children.isEmpty)
    }

    @Test func featuresResolvePrefixedAndDefaultNamespaces() throws {
        let features = try #require(stanzas(try parse([try transcript()])).first)
        #expect(features.name == "features")
        #expect(features.namespace == "http://etherx.jabber.org/streams")
        let tls = try #require(features.child("starttls"))
        #expect(tls.namespace == "urn:ietf:params:xml:ns:xmpp-tls")
        #expect(tls.child("required")?.namespace == "urn:ietf:params:xml:ns:xmpp-tls")
        let mechanisms = try #require(features.child("mechanisms", namespace: "urn:ietf:params:xml:ns:xmpp-sasl"))
        #expect(mechanisms.children("mechanism").map(\.text) == ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"])
    }

    @Test func jingleSessionInitiateKeepsNestedNamespacesAndAttributes() throws {
        let iq = stanzas(try parse([try transcript()]))[1]
        #expect(iq.name == "iq" && iq.namespace == "jabber:client")
        #expect(iq.attribute("type") == "set")
        let jingle = try #require(iq.child("jingle", namespace: "urn:xmpp:jingle:1"))
        #expect(jingle.attribute("action") == "session-initiate")
        #expect(jingle.attribute("sid") == "a73sjjvkla37jfea")
        let content = try #require(jingle.child("content"))
        #expect(content.namespace == "urn:xmpp:jingle:1")
        let description = try #require(content.child("description", namespace: "urn:xmpp:jingle:apps:rtp:1"))
        let payloads = description.children("payload-type")
        #expect(payloads.map { $0.attribute("name") } == ["opus", "G722", "PCMU", "telephone-event"])
        #expect(payloads.allSatisfy { $0.namespace == "urn:xmpp:jingle:apps:rtp:1" })
        #expect(payloads[0].child("rtcp-fb")?.namespace == "urn:xmpp:jingle:apps:rtp:rtcp-fb:0")
        #expect(payloads[0].children("parameter").map { $0.attribute("value") } == ["10", "1"])
        let transport = try #require(content.child("transport", namespace: "urn:xmpp:jingle:transports:ice-udp:1"))
        #expect(transport.attribute("ufrag") == "8hhy")
        let candidates = transport.children("candidate")
        #expect(candidates.map { $0.attribute("type") } == ["host", "srflx", "relay"])
        #expect(candidates[2].attribute("ip") == "2001:db8::9")
        #expect(candidates[1].attribute("rel-port") == "8998")
        let fingerprint = try #require(transport.child("fingerprint", namespace: "urn:xmpp:jingle:apps:dtls:0"))
        #expect(fingerprint.attribute("setup") == "actpass")
        #expect(fingerprint.text.hasPrefix("02:1A:CC:54") && fingerprint.text.count == 95)
        #expect(jingle.child("group")?.child("content")?.namespace == "urn:xmpp:jingle:apps:grouping:0")
    }

    @Test func entitiesLanguageCDATAAndPrefixedPayloads() throws {
        let all = stanzas(try parse([try transcript()]))
        let first = all[2], second = all[3]
        #expect(first.attribute("lang", namespace: xmlNamespaceURI) == "en")
        let bodies = first.children("body")
        #expect(bodies.first?.text == "Tom & Jerry say hi \u{263A} <3")
        #expect(bodies.last?.attribute("lang", namespace: xmlNamespaceURI) == "fr")
        #expect(bodies.last?.text == "Salut, ça va ?")
        #expect(second.child("body")?.text == #"if (a < b && c > d) { return "<ok/>"; }"#)
        let bar = try #require(second.child("bar"))
        #expect(bar.namespace == "urn:x")
        #expect(bar.attribute("kind", namespace: "urn:x") == "demo")
        #expect(bar.attribute("note") == "x & y 'quoted'")
        #expect(bar.child("baz")?.namespace == "urn:x")
        #expect(bar.child("baz")?.text == "prefixed")
    }

    @Test func whitespaceBetweenStanzasIsDroppedAndTextInsideIsKept() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(header)
        let events = try parser.feed("\n  \n<message><body> two  spaces \n</body>\n</message> \t ")
        let message = try #require(stanzas(events).first)
        #expect(events.count == 1)
        #expect(message.children.count == 2)
        #expect(message.child("body")?.text == " two  spaces \n")
        #expect(message.children.last == .text("\n"))
    }

    @Test func acceptsAnUnprefixedStreamRootAndNonContiguousInput() throws {
        let parser = XMLStreamParser()
        let input = "<stream xmlns='http://etherx.jabber.org/streams'><features/></stream>"
        let events = try parser.feed(Array(input.utf8).lazy.map { $0 })
        #expect(
            events == [
                .streamOpened(XMLElement(name: "stream", namespace: "http://etherx.jabber.org/streams")),
                .element(XMLElement(name: "features", namespace: "http://etherx.jabber.org/streams")),
                .streamClosed,
            ])
    }

    @Test func buildsWideAndDeepTreesInOrder() throws {
        let items = (0..<300).map { "<item n='\($0)'>t\($0)</item>" }.joined()
        let parser = XMLStreamParser()
        _ = try parser.feed(header)
        let events = try parser.feed("<iq type='result'><query xmlns='urn:x'>" + items + "</query><after/></iq>")
        let iq = try #require(stanzas(events).first)
        let query = try #require(iq.child("query"))
        #expect(query.children("item").count == 300)
        #expect(query.children("item").map(\.text) == (0..<300).map { "t\($0)" })
        #expect(query.children("item").last?.attribute("n") == "299")
        #expect(iq.elements.map(\.name) == ["query", "after"])
        #expect(iq.child("after")?.namespace == "jabber:client")
        // A parser dropped in the middle of a stanza releases what it built.
        _ = try parser.feed("<iq><query xmlns='urn:x'>" + items)
    }

    @Test(arguments: ["", "\n", "  \n\t ", "\r\n"])
    func stanzaLimitCountsExactlyTheStanzaBytes(_ gap: String) throws {
        let stanza = "<message to='romeo@example.test'><body>\(String(repeating: "z", count: 100))</body></message>"
        let size = stanza.utf8.count
        let exact = XMLStreamParser(limits: XMLStreamLimits(maxStanzaBytes: size))
        #expect(try exact.feed(header + gap + stanza + gap + stanza).count == 3)
        #expect(try exact.feed(gap + stanza).count == 1)

        let first = XMLStreamParser(limits: XMLStreamLimits(maxStanzaBytes: size - 1))
        #expect(throws: XMLStreamError.stanzaTooLarge(limit: size - 1)) { try first.feed(header + gap + stanza) }
        let later = XMLStreamParser(limits: XMLStreamLimits(maxStanzaBytes: size - 1))
        _ = try later.feed(header + "<presence/>")
        #expect(throws: XMLStreamError.stanzaTooLarge(limit: size - 1)) { try later.feed(gap + stanza) }
    }

    // MARK: Errors

    @Test(arguments: [
        BadInput("DOCTYPE", "<?xml version='1.0'?><!DOCTYPE stream:stream><stream:stream/>", .restrictedXML),
        BadInput("internal subset", "<!DOCTYPE x [<!ELEMENT x ANY>]><x/>", .restrictedXML),
        BadInput("entity declaration", "<!DOCTYPE s [<!ENTITY boom 'lol'>]><stream:stream/>", .restrictedXML),
        BadInput("entity declaration in the stream", header + "<!ENTITY boom 'lol'>", .notWellFormed),
        BadInput("undeclared entity", header + "<message><body>&boom;</body></message>", .restrictedXML),
        BadInput("processing instruction", header + "<?xml-stylesheet href='a.xsl'?>", .restrictedXML),
        BadInput("processing instruction in a stanza", header + "<message><?php x ?></message>", .restrictedXML),
        BadInput("comment", header + "<message><!-- hi --></message>", .restrictedXML),
        BadInput("malformed tag", header + "<message to='a></message>", .notWellFormed),
        BadInput("mismatched close", header + "<message><body></message>", .notWellFormed),
        BadInput("undefined prefix", header + "<x:message/>", .notWellFormed),
        BadInput(
            "wrong root name", "<?xml version='1.0'?><stream:features xmlns:stream='http://etherx.jabber.org/streams'>",
            .invalidStreamHeader),
        BadInput("wrong root namespace", "<stream:stream xmlns:stream='urn:not-streams'>", .invalidStreamHeader),
        BadInput("unprefixed root in jabber:client", "<stream xmlns='jabber:client'>", .invalidStreamHeader),
    ])
    func refusesBadInputWithTheRightError(_ bad: BadInput) {
        let parser = XMLStreamParser()
        do {
            let events = try parser.feed(bad.input)
            Issue.record("no error, events \(events)")
        } catch {
            #expect(BadInput.Kind(error) == bad.kind, "\(error)")
        }
    }

    @Test func encodingDeclarationsDoNotSwitchAwayFromUTF8() throws {
        let latin1Header =
            "<?xml version='1.0' encoding='ISO-8859-1'?>"
            + "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
        let parser = XMLStreamParser()
        _ = try parser.feed(latin1Header)
        // "café" in UTF-8 is read as UTF-8 whatever the declaration says...
        let utf8 = try parser.feed(Array("<message><body>café</body></message>".utf8))
        #expect(stanzas(utf8).first?.child("body")?.text == "café")
        // ...and a lone Latin-1 byte is not UTF-8.
        #expect {
            _ = try parser.feed(Array("<message><body>caf".utf8) + [0xE9] + Array("</body></message>".utf8))
        } throws: { error in
            if case .notWellFormed = error as? XMLStreamError { true } else { false }
        }
    }

    @Test func notWellFormedCarriesLibxmlMessageWithPosition() {
        let parser = XMLStreamParser()
        #expect {
            _ = try parser.feed(header + "\n<message><body></message>")
        } throws: { error in
            guard case .notWellFormed(let detail) = error as? XMLStreamError else { return false }
            return detail.contains("mismatch") && detail.contains("line 2")
        }
    }

    @Test func tooLargeStanzaIsRefusedWholeAndInSmallChunksBeforeItCompletes() throws {
        let limits = XMLStreamLimits(maxStanzaBytes: 1000, maxDepth: 8)
        let big = "<message><body>" + String(repeating: "x", count: 2000) + "</body></message>"

        let whole = XMLStreamParser(limits: limits)
        _ = try whole.feed(header)
        #expect(throws: XMLStreamError.stanzaTooLarge(limit: 1000)) { try whole.feed(big) }

        let chunked = XMLStreamParser(limits: limits)
        _ = try chunked.feed(header)
        let incomplete = Array(big.utf8.prefix(1500))
        var thrown: XMLStreamError?
        var delivered = 0
        for start in stride(from: 0, to: incomplete.count, by: 16) {
            do {
                _ = try chunked.feed(incomplete[start..<min(start + 16, incomplete.count)])
                delivered = start + 16
            } catch {
                thrown = error
                break
            }
        }
        #expect(thrown == .stanzaTooLarge(limit: 1000))
        #expect(delivered <= 1016)

        // A stanza just under the limit, and the same traffic many times, is fine.
        let fits = XMLStreamParser(limits: limits)
        _ = try fits.feed(header)
        let small = "<message><body>" + String(repeating: "y", count: 900) + "</body></message>"
        for _ in 0..<20 { #expect(try fits.feed(small).count == 1) }
    }

    @Test func tooDeepNestingIsRefused() throws {
        let parser = XMLStreamParser(limits: XMLStreamLimits(maxStanzaBytes: 10_000, maxDepth: 4))
        _ = try parser.feed(header)
        #expect(try parser.feed("<a><b><c><d/></c></b></a>").count == 1)
        #expect(throws: XMLStreamError.tooDeep(limit: 4)) {
            try parser.feed("<a><b><c><d><e/></d></c></b></a>")
        }
    }

    @Test func failedParserKeepsFailingUntilReset() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(header)
        var first: XMLStreamError?
        do { _ = try parser.feed("<message></iq>") } catch { first = error }
        let error = try #require(first)
        #expect(throws: error) { try parser.feed("<presence/>") }
        #expect(throws: error) { try parser.feed(header) }
        parser.reset()
        #expect(try parser.feed(header + "<presence/>").count == 2)
    }

    @Test func resetStartsANewStreamAfterStartTLS() throws {
        let parser = XMLStreamParser()
        let opening = try parser.feed(
            header + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
                + "</stream:features><proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        #expect(opening.count == 3)
        #expect(parser.isStreamOpen)
        parser.reset()
        #expect(!parser.isStreamOpen)
        // The restarted stream sends a second XML declaration and header: fine only on a fresh context.
        let restarted = try parser.feed(
            header + "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
                + "</stream:features>")
        #expect(restarted.count == 2)
        #expect(stanzas(restarted).first?.child("bind")?.namespace == "urn:ietf:params:xml:ns:xmpp-bind")
        #expect(parser.isStreamOpen)
    }

    // MARK: Round trip

    @Test func parseSerializeParseGivesEqualElements() throws {
        let original = stanzas(try parse([try transcript()]))
        let written = original.map { XMLSerializer.serialize($0, parentNamespace: "jabber:client") }.joined()
        let reparsed = stanzas(try parse([Array((header + written + "</stream:stream>").utf8)]))
        #expect(reparsed == original)
    }
}

/// One malformed or forbidden input and the error case it must give.
struct BadInput: Sendable, CustomTestStringConvertible {
    enum Kind: Sendable, Equatable {
        case notWellFormed, restrictedXML, stanzaTooLarge, tooDeep, invalidStreamHeader

        init(_ error: XMLStreamError) {
            switch error {
            case .notWellFormed: self = .notWellFormed
            case .restrictedXML: self = .restrictedXML
            case .stanzaTooLarge: self = .stanzaTooLarge
            case .tooDeep: self = .tooDeep
            case .invalidStreamHeader: self = .invalidStreamHeader
            }
        }
    }

    let name: String
    let input: String
    let kind: Kind
    var testDescription: String { name }

    init(_ name: String, _ input: String, _ kind: Kind) {
        self.name = name
        self.input = input
        self.kind = kind
    }
}
