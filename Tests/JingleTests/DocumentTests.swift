import Jingle
import JingleJSON
import Testing
import XMLStream
import XMPPCore

/// `JingleDocument`, the decode API behind `jingle-harness decode`: JSON of IQs and JMI
/// messages, `--sdp`, `--from-sdp`, and errors that name what was wrong.
@Suite struct DocumentTests {
    static let ringingIQ = """
        <?xml version='1.0'?>
        <iq from='juliet@capulet.lit/balcony' id='tgr515bt' to='romeo@montague.lit/orchard' type='set'>
          <jingle xmlns='urn:xmpp:jingle:1' action='session-info' initiator='romeo@montague.lit/orchard' sid='a73sjjvkla37jfea'>
            <ringing xmlns='urn:xmpp:jingle:apps:rtp:info:1'/>
          </jingle>
        </iq>
        """

    @Test func jsonOfAnIQIsStableAndSorted() throws {
        let d = try JingleDocument.decode(xml: Self.ringingIQ)
        #expect(d.kind == .iq)
        let expected = """
            {
              "from": "juliet@capulet.lit/balcony",
              "id": "tgr515bt",
              "jingle": {
                "action": "session-info",
                "info": [
                  {
                    "rtp": "ringing"
                  }
                ],
                "initiator": "romeo@montague.lit/orchard",
                "sid": "a73sjjvkla37jfea"
              },
              "kind": "iq",
              "to": "romeo@montague.lit/orchard",
              "type": "set"
            }
            """
        #expect(d.json.description == expected)
        // Decoding twice gives the same text.
        #expect(try JingleDocument.decode(xml: Self.ringingIQ).json.description == expected)
    }

    @Test func jsonOfASessionInitiateNamesEveryPart() throws {
        let d = try JingleDocument.decode(xml: Vectors.text("0167/example-29.xml"))
        let content = try #require(d.json["jingle"]?["contents"]?[0])
        #expect(content["name"]?.stringValue == "voice")
        #expect(content["creator"]?.stringValue == "initiator")
        let rtp = try #require(content["description"]?["rtp"])
        #expect(rtp["media"]?.stringValue == "audio")
        #expect(rtp["payloadTypes"]?[0] == .object(["id": .number(96), "name": .string("speex"), "clockrate": .number(16000)]))
        #expect(rtp["encryption"]?["required"] == .bool(true))
        #expect(rtp["encryption"]?["crypto"]?[0]?["cryptoSuite"]?.stringValue == "AES_CM_128_HMAC_SHA1_80")
        let candidate = try #require(content["transport"]?["iceUDP"]?["candidates"]?[1])
        #expect(candidate["type"]?.stringValue == "srflx" && candidate["relPort"] == .number(8998))
        // Keys come out sorted at every level.
        let text = d.json.description
        #expect(text.range(of: "\"contents\"")!.lowerBound < text.range(of: "\"initiator\"")!.lowerBound)
    }

    @Test func jsonOfAJMIMessageWithDelay() throws {
        let xml = """
            <message from='romeo@montague.example/orchard' to='juliet@capulet.example' type='chat' id='m1'>
              <propose xmlns='urn:xmpp:jingle-message:0' id='ca3cf894-5325-482f-a412-a6e9f832298d'>
                <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'/>
              </propose>
              <delay xmlns='urn:xmpp:delay' from='capulet.example' stamp='2002-09-10T23:08:25.5+01:00'/>
            </message>
            """
        let d = try JingleDocument.decode(xml: xml)
        #expect(d.kind == .message)
        let expected = """
            {
              "delay": {
                "from": "capulet.example",
                "stamp": "2002-09-10T22:08:25.500Z"
              },
              "from": "romeo@montague.example/orchard",
              "id": "m1",
              "jingleMessage": {
                "action": "propose",
                "descriptions": [
                  {
                    "rtp": {
                      "media": "audio"
                    }
                  }
                ],
                "id": "ca3cf894-5325-482f-a412-a6e9f832298d"
              },
              "kind": "message",
              "to": "juliet@capulet.example",
              "type": "chat"
            }
            """
        #expect(d.json.description == expected)
        #expect { try d.sdp() } throws: { "\($0)".contains("SDP needs a Jingle action; this is a JMI <propose/> message") }
    }

    @Test func jsonEscapesAndKeepsUnknownXML() throws {
        let xml = """
            <jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s"1'>
              <reason><alternative-session><sid>b\\c</sid></alternative-session><text>line1
            line2</text></reason>
              <x xmlns='urn:example'/>
            </jingle>
            """
        let text = try JingleDocument.decode(xml: xml).json.description
        #expect(text.contains(#""sid": "s\"1""#))
        #expect(text.contains(#""alternative-session": {"#) && text.contains(#""sid": "b\\c""#))
        #expect(text.contains(#""text": "line1\nline2""#))
        #expect(text.contains(#""extraChildren": ["#) && text.contains("urn:example"))
    }

    @Test func sdpOfASessionInitiate() throws {
        let d = try JingleDocument.decode(xml: Vectors.text("0167/example-29.xml"))
        let sdp = try d.sdp()
        #expect(sdp.media.first?.proto == "RTP/SAVPF" && sdp.media.first?.formats == ["96", "97", "18", "103", "98"])
        #expect(sdp.media.first?.attributes("ice-ufrag") == ["8hhy"])
        #expect(sdp.media.first?.attributes("crypto").count == 1)
        // The text form parses back.
        #expect(try SessionDescription(parsing: sdp.description) == sdp)
        // session-accept defaults to the responder's view: senders='initiator' is recvonly there.
        var accept = try #require(d.jingle)
        accept.action = .sessionAccept
        accept.contents[0].senders = .initiator
        let ad = JingleDocument(kind: .jingle, jingle: accept)
        #expect(try ad.sdp().media[0].hasAttribute("recvonly"))
        #expect(try ad.sdp(party: .initiator).media[0].hasAttribute("sendonly"))
    }

    @Test func fromSDPGivesAnIQAndTheUnmappedLines() throws {
        let (iq, unmapped) = try JingleDocument.fromSDP(Vectors.text("sdp/chrome-offer.sdp"), action: .sessionInitiate, sid: "abc")
        #expect(iq.type == .set && iq.id == "abc-1")
        let j = try JingleElement(iq: iq)
        #expect(j.action == .sessionInitiate && j.sid == "abc" && j.contents.count == 2)
        #expect(unmapped.contains { $0.line.attribute?.name == "ice-options" })
        // The IQ text decodes back to the same Jingle.
        let again = try JingleDocument.decode(xml: XMLSerializer.serialize(iq.element))
        #expect(again.jingle == j)
    }

    @Test(arguments: [
        ("<iq type='set' id='1'><jingle xmlns='urn:xmpp:jingle:1' sid='s'/></iq>", "invalid Jingle: jingle missing 'action'"),
        (
            "<iq type='set' id='1'><jingle xmlns='urn:xmpp:jingle:1' action='bogus' sid='s'/></iq>",
            "invalid Jingle: jingle has invalid 'action' value 'bogus'"
        ),
        (
            "<iq type='set' id='1'><query xmlns='jabber:iq:roster'/></iq>",
            "not a Jingle IQ or JMI message: <query xmlns='jabber:iq:roster'>"
        ),
        ("<message><body>hi</body></message>", "not a Jingle IQ or JMI message: <message xmlns='jabber:client'>"),
        ("<presence/>", "not a Jingle IQ or JMI message: <presence xmlns='jabber:client'>"),
        ("<iq type='set'", "invalid XML"),
        ("<a/><b/>", "invalid XML: expected one element, found 2"),
        ("", "invalid XML: expected one element, found 0"),
        ("<message from='r@m/o'><propose xmlns='urn:xmpp:jingle-message:0'/></message>", "invalid Jingle: propose missing 'id'"),
        (
            """
            <iq type='set' id='1'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'>\
            <content creator='initiator' name='a'><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'>\
            <candidate component='1' foundation='1' generation='0' id='c' ip='1.2.3.4' port='99999' priority='1' protocol='udp' type='host'/>\
            </transport></content></jingle></iq>
            """, "invalid Jingle: candidate has invalid 'port' value '99999'"
        ),
    ])
    func invalidInputNamesTheProblem(_ xml: String, _ expected: String) {
        #expect { try JingleDocument.decode(xml: xml) } throws: { error in
            let text = "\(error)"
            return text.hasPrefix(expected) || text.contains(expected)
        }
    }

    @Test(arguments: [
        ("v=0\r\no=- 1 2 IN\r\ns=-\r\n", "invalid SDP: SDP line 2: o= needs 6 fields"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nm=audio 9 RTP/AVP 200\r\n", "invalid payload type '200'"),
        ("v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:5 X/8000\r\n", "attribute for unknown payload type '5'"),
    ])
    func invalidSDPNamesTheProblem(_ sdp: String, _ expected: String) {
        #expect { try JingleDocument.fromSDP(sdp) } throws: { "\($0)".contains(expected) }
    }
}
