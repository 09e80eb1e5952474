import Testing
@testable import XMLStream

@Suite struct XMLSerializerTests {
    @Test func escapesTextAndAttributes() {
        var e = XMLElement("body", namespace: "jabber:client", ["a": "x'<\"&>"], text: "1 < 2 & 3 > ]]>")
        e.setAttribute("xml-lang-free", "y")
        let s = XMLSerializer.serialize(e, parentNamespace: "jabber:client")
        #expect(s == "<body a='x&apos;&lt;&quot;&amp;&gt;' xml-lang-free='y'>1 &lt; 2 &amp; 3 &gt; ]]&gt;</body>")
    }

    @Test func declaresNamespaceOnlyWhereItChanges() {
        let inner = XMLElement("jingle", namespace: "urn:xmpp:jingle:1", ["sid": "s1"])
        let iq = XMLElement("iq", namespace: "jabber:client", ["type": "set"], children: [inner])
        #expect(
            XMLSerializer.serialize(iq, parentNamespace: "jabber:client")
                == "<iq type='set'><jingle xmlns='urn:xmpp:jingle:1' sid='s1'/></iq>")
    }

    @Test func writesXMLLangWithItsPrefix() {
        var e = XMLElement("text", namespace: "urn:ietf:params:xml:ns:xmpp-stanzas")
        e.attributes.append(XMLAttribute(name: "lang", namespace: xmlNamespaceURI, value: "en"))
        #expect(e.description == "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'/>")
    }
}

@Suite struct XMLSerializerCarriageReturnTests {
    /// Found by fuzz-jingle: `&#13;` in text came back as LF after a round trip.
    @Test func carriageReturnInTextSurvivesARoundTrip() throws {
        let e = XMLElement("body", namespace: "jabber:client", text: "a\r\nb\rc")
        let written = XMLSerializer.serialize(e, parentNamespace: "jabber:client")
        #expect(written == "<body>a&#13;\nb&#13;c</body>")
        let parser = XMLStreamParser()
        let events = try parser.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" + written)
        #expect(events.last == .element(e))
    }
}
