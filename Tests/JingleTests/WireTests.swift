import Jingle
import Testing
import XMLStream
import XMPPCore

@Suite struct WireTests {
    func jingle(_ xml: String) throws -> JingleElement {
        try JingleElement(element: TestXMLReader.parse(xml, defaultNamespace: ""))
    }

    func roundTrip(_ j: JingleElement) throws -> JingleElement {
        try JingleElement(element: TestXMLReader.parse(XMLSerializer.serialize(j.element), defaultNamespace: ""))
    }

    @Test func rtpModelReadsEveryExtension() throws {
        let j = try jingle(
            """
            <jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' initiator='a@b/c' sid='s1'>
              <group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'><content name='0'/></group>
              <content creator='initiator' name='0' senders='both'>
                <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio' ssrc='42'>
                  <payload-type id='111' name='opus' clockrate='48000' channels='2' maxptime='120' ptime='20'>
                    <parameter name='useinbandfec' value='1'/>
                    <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/>
                  </payload-type>
                  <rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='nack' subtype='pli'/>
                  <rtcp-fb-trr-int xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' value='100'/>
                  <rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1' uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level' senders='initiator'/>
                  <extmap-allow-mixed xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0'/>
                  <source xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' id='42'><parameter name='cname' value='x'/></source>
                  <ssrc-group xmlns='urn:xmpp:jingle:apps:rtp:ssma:0' semantics='FID'><source ssrc='42'/><source ssrc='43'/></ssrc-group>
                  <bandwidth type='AS'>64</bandwidth>
                  <rtcp-mux/>
                  <encryption required='1'><crypto crypto-suite='AES_CM_128_HMAC_SHA1_80' key-params='inline:abc' tag='1'/></encryption>
                </description>
                <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='u' pwd='p'>
                  <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>AB:CD</fingerprint>
                  <candidate component='1' foundation='f' generation='0' id='c1' ip='192.0.2.1' network='1' port='5000'
                             priority='2130706431' protocol='udp' rel-addr='10.0.0.1' rel-port='9' type='srflx'/>
                </transport>
              </content>
            </jingle>
            """)
        #expect(j.groups.first?.contents == ["0"])
        let c = try #require(j.contents.first)
        #expect(c.senders == .both)
        let d = try #require(c.rtp)
        #expect(d.ssrc == 42)
        #expect(d.payloadTypes.first?.parameter("useinbandfec") == "1")
        #expect(d.payloadTypes.first?.channelCount == 2)
        #expect(d.payloadTypes.first?.feedback.first?.type == "transport-cc")
        #expect(d.feedback == [RTCPFeedback(type: "nack", subtype: "pli")])
        #expect(d.feedbackTRRInterval?.value == 100)
        #expect(d.headerExtensions.first?.senders == .initiator)
        #expect(d.extmapAllowMixed)
        #expect(d.sources.first?.usesLegacyIDAttribute == true)
        #expect(d.sources.first?.parameter("cname") == "x")
        #expect(d.sourceGroups.first?.ssrcs == [42, 43])
        #expect(d.bandwidths.first?.value == "64")
        #expect(d.rtcpMux)
        #expect(d.encryption?.crypto.first?.cryptoSuite == "AES_CM_128_HMAC_SHA1_80")
        let t = try #require(c.transport?.iceUDP)
        #expect(t.fingerprints.first?.setup == .actpass)
        #expect(t.fingerprints.first?.value == "AB:CD")
        #expect(t.candidates.first?.relPort == 9)
        #expect(t.candidates.first?.type == .srflx)
        #expect(try roundTrip(j) == j)
        let again = XMLSerializer.serialize(try roundTrip(j).element)
        #expect(again.contains("id='42'"), "legacy source id is written back as id")
    }

    @Test func unknownElementsAndAttributesAreKeptVerbatim() throws {
        let j = try jingle(
            """
            <jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='s' x-custom='1'>
              <content creator='responder' name='a' foo='bar'>
                <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>
                  <payload-type id='0' name='PCMU' weird='yes'><vendor xmlns='urn:example'>k</vendor></payload-type>
                  <ssrc-info xmlns='http://jitsi.org/jitmeet' owner='x'/>
                </description>
                <transport xmlns='urn:example:transport'><thing/></transport>
              </content>
              <private xmlns='urn:example:p'/>
            </jingle>
            """)
        let text = XMLSerializer.serialize(j.element)
        for needle in [
            "x-custom='1'", "foo='bar'", "weird='yes'", "<vendor xmlns='urn:example'>k</vendor>",
            "<ssrc-info xmlns='http://jitsi.org/jitmeet' owner='x'/>", "<transport xmlns='urn:example:transport'><thing/></transport>",
            "<private xmlns='urn:example:p'/>",
        ] {
            #expect(text.contains(needle), "\(needle) lost in \(text)")
        }
        #expect(try roundTrip(j) == j)
    }

    @Test(arguments: [
        ("<payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' name='x'/>", "payload-type missing 'id'"),
        ("<payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='200'/>", "payload-type has invalid 'id' value '200'"),
        ("<payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='1' clockrate='fast'/>", "payload-type has invalid 'clockrate' value 'fast'"),
    ])
    func payloadTypeErrorsNameTheProblem(_ xml: String, _ message: String) throws {
        let e = try TestXMLReader.parse(xml, defaultNamespace: "")
        #expect { try PayloadType(element: e) } throws: { "\($0)" == message }
    }

    @Test(arguments: [
        ("<jingle xmlns='urn:xmpp:jingle:1' sid='s'/>", "jingle missing 'action'"),
        ("<jingle xmlns='urn:xmpp:jingle:1' action='session-dance' sid='s'/>", "jingle has invalid 'action' value 'session-dance'"),
        ("<jingle xmlns='urn:xmpp:jingle:1' action='session-accept'/>", "jingle missing 'sid'"),
        ("<jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='s' initiator='@x'/>", "jingle has invalid 'initiator' value '@x'"),
        ("<jingle xmlns='urn:xmpp:jingle:1' action='content-add' sid='s'><content name='a'/></jingle>", "content missing 'creator'"),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='content-add' sid='s'><content creator='me' name='a'/></jingle>",
            "content has invalid 'creator' value 'me'"
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='content-add' sid='s'><content creator='initiator' name='a' senders='all'/></jingle>",
            "content has invalid 'senders' value 'all'"
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s'><reason><text>x</text></reason></jingle>",
            "reason missing <condition/>"
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s'><reason><sleepy/></reason></jingle>",
            "reason has invalid <sleepy/>: not a reason condition"
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='s'><content creator='initiator' name='a'><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate component='1' foundation='1' generation='0' id='x' ip='1.2.3.4' port='70000' priority='1' protocol='udp' type='host'/></transport></content></jingle>",
            "candidate has invalid 'port' value '70000'"
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='s'><content creator='initiator' name='a'><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><candidate component='1' foundation='1' generation='0' id='x' ip='1.2.3.4' port='7' priority='1' protocol='udp' type='magic'/></transport></content></jingle>",
            "candidate has invalid 'type' value 'magic'"
        ),
        (
            "<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='s'><content creator='initiator' name='a'><transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='sideways'>AA</fingerprint></transport></content></jingle>",
            "fingerprint has invalid 'setup' value 'sideways'"
        ),
    ])
    func jingleErrorsNameTheProblem(_ xml: String, _ message: String) throws {
        #expect { try self.jingle(xml) } throws: { "\($0)" == message }
    }

    @Test func everyReasonConditionRoundTrips() throws {
        let all: [ReasonCondition] = [
            .alternativeSession(sid: "b"), .busy, .cancel, .connectivityError, .decline, .expired,
            .failedApplication, .failedTransport, .generalError, .gone, .incompatibleParameters,
            .mediaError, .securityError, .success, .timeout, .unsupportedApplications, .unsupportedTransports,
        ]
        for c in all {
            let j = JingleElement(action: .sessionTerminate, sid: "s", reason: Reason(c, text: "why"))
            #expect(try roundTrip(j) == j)
        }
    }

    @Test func everyActionAndSessionInfoRoundTrips() throws {
        for a in JingleAction.allCases {
            let j = JingleElement(action: a, sid: "s", initiator: JID("a@b/c"))
            #expect(try roundTrip(j) == j)
        }
        let infos: [RTPSessionInfo] = [
            .active, .hold, .unhold, .ringing, .mute(creator: .initiator, name: "voice"), .unmute(creator: .responder, name: nil),
        ]
        let j = JingleElement(action: .sessionInfo, sid: "s", info: infos.map { .rtp($0) })
        #expect(try roundTrip(j) == j)
    }

    @Test func jingleErrorConditionsMapToXEP0166Errors() throws {
        for c in JingleErrorCondition.allCases {
            let err = c.stanzaError
            #expect(err.condition == c.stanzaCondition)
            #expect(JingleErrorCondition(error: err) == c)
            let reparsed = try #require(
                StanzaError(element: TestXMLReader.parse(XMLSerializer.serialize(err.element), defaultNamespace: "")))
            #expect(JingleErrorCondition(error: reparsed) == c)
        }
        #expect(JingleErrorCondition.unknownSession.stanzaCondition == .itemNotFound)
        #expect(JingleErrorCondition.tieBreak.stanzaCondition == .conflict)
        #expect(JingleErrorCondition.outOfOrder.stanzaCondition == .unexpectedRequest)
        #expect(JingleErrorCondition.unsupportedInfo.stanzaCondition == .featureNotImplemented)
    }

    @Test func jingleMessageTieBreakAndReason() throws {
        let e = try TestXMLReader.parse(
            """
            <message xmlns='jabber:client' to='a@b'><reject xmlns='urn:xmpp:jingle-message:0' id='x'>
              <reason xmlns='urn:xmpp:jingle:1'><expired/><text>Tie-Break</text></reason><tie-break/></reject></message>
            """)
        let m = try #require(try JingleMessage.find(in: e))
        #expect(m.action == .reject)
        #expect(m.tieBreak)
        #expect(m.reason?.condition == .expired)
        #expect(try JingleMessage(element: TestXMLReader.parse(XMLSerializer.serialize(m.element), defaultNamespace: "")) == m)
        let bad = try TestXMLReader.parse("<propose xmlns='urn:xmpp:jingle-message:0'/>", defaultNamespace: "")
        #expect { try JingleMessage(element: bad) } throws: { "\($0)" == "propose missing 'id'" }
    }

    @Test func vectorValuesAreRead() throws {
        let els = try TestXMLReader.parseAll(Vectors.text("0320/example-01.xml"))
        guard case .jingle(_, let j) = try DecodedStanza.decode(els[0]) else { Issue.record("not jingle"); return }
        let fp = try #require(j.contents.first?.transport?.iceUDP?.fingerprints.first)
        #expect(fp.hash == "sha-256")
        #expect(fp.setup == .actpass)
        #expect(fp.value.hasPrefix("02:1A:CC"))
    }
}

@Suite struct ErrorVectorTests {
    /// The errors we send are the ones XEP-0166's examples show (condition and type).
    @Test(arguments: [
        ("0166/example-29.xml", JingleErrorCondition.unknownSession), ("0166/example-31.xml", .unsupportedInfo),
        ("0166/example-34.xml", .tieBreak), ("0166/example-37.xml", .securityRequired),
    ])
    func ourErrorsMatchTheExamples(_ path: String, _ condition: JingleErrorCondition) throws {
        let iq = try #require(IQ(element: TestXMLReader.parse(Vectors.text(path))))
        let error = try #require(iq.error)
        #expect(JingleErrorCondition(error: error) == condition)
        #expect(condition.stanzaError.condition == error.condition)
        #expect(condition.stanzaError.type == error.type)
    }
}
