import Jingle
import Testing
import XMLStream
import XMPPCore

/// The Jingle <-> SDP forms beyond ICE-UDP basics: raw UDP, description ssrc, SDES `required`,
/// rtcp-fb parameters, clock-less payload types, ptime, and the lines reported as unmapped.
@Suite struct SDPGapTests {
    static func roundTrip(_ j: JingleElement, party: Creator = .initiator) throws -> (SessionDescription, JingleElement) {
        let sdp = try SessionDescription(parsing: SDPMapping.sessionDescription(from: j, party: party).description)
        let back = try SDPMapping.jingle(from: sdp, action: j.action, sid: j.sid, party: party, initiator: j.initiator)
        return (sdp, back)
    }

    static func session(_ rtp: RTPDescription, transport: ContentTransport? = nil, name: ContentName = "voice") -> JingleElement {
        JingleElement(
            action: .sessionInitiate, sid: "s1",
            contents: [
                Content(creator: .initiator, name: name, senders: .both, description: .rtp(rtp), transport: transport)
            ])
    }

    static let pcmu = PayloadType(id: 0, name: "PCMU", clockrate: 8000)

    // MARK: XEP-0177 raw UDP

    @Test func rawUDPMapsToConnectionPortAndRTCP() throws {
        let raw = RawUDPTransport(candidates: [
            RawUDPCandidate(component: 1, id: "voice-raw1", ip: "192.0.2.10", port: 49170),
            RawUDPCandidate(component: 2, id: "voice-raw2", ip: "192.0.2.10", port: 49171),
        ])
        let j = Self.session(RTPDescription(media: "audio", payloadTypes: [Self.pcmu]), transport: .rawUDP(raw))
        let (sdp, back) = try Self.roundTrip(j)
        let m = try #require(sdp.media.first)
        #expect(m.port == 49170)
        #expect(m.lines.contains(SDPLine("c", "IN IP4 192.0.2.10")))
        #expect(m.attributes("rtcp") == ["49171"])
        #expect(!m.hasAttribute("ice-ufrag") && !m.hasAttribute("candidate"))
        #expect(back == j)
    }

    @Test func rawUDPRTCPOnAnotherIPv6Address() throws {
        let raw = RawUDPTransport(candidates: [
            RawUDPCandidate(component: 1, id: "v-raw1", ip: "2001:db8::1", port: 5000),
            RawUDPCandidate(component: 2, id: "v-raw2", ip: "2001:db8::2", port: 5001),
        ])
        let j = Self.session(RTPDescription(media: "audio", payloadTypes: [Self.pcmu]), transport: .rawUDP(raw), name: "v")
        let (sdp, back) = try Self.roundTrip(j)
        #expect(sdp.media[0].lines.contains(SDPLine("c", "IN IP6 2001:db8::1")))
        #expect(sdp.media[0].attributes("rtcp") == ["5001 IN IP6 2001:db8::2"])
        #expect(back == j)
    }

    /// XEP-0177 example 3: candidate ids and generations have no SDP form; addresses and ports survive.
    @Test func xep0177ExampleKeepsAddressesAndPorts() throws {
        let iq = try #require(IQ(element: TestXMLReader.parse(Vectors.text("0177/example-03.xml"))))
        let j = try JingleElement(iq: iq)
        let (_, back) = try Self.roundTrip(j, party: .responder)
        guard case .rawUDP(let a)? = j.contents[0].transport, case .rawUDP(let b)? = back.contents[0].transport else {
            Issue.record("raw-udp transport lost")
            return
        }
        #expect(a.candidates.map(\.component) == b.candidates.map(\.component))
        #expect(a.candidates.map(\.ip) == b.candidates.map(\.ip))
        #expect(a.candidates.map(\.port) == b.candidates.map(\.port))
        #expect(b.candidates.map(\.id) == ["voice-raw1", "voice-raw2"])
    }

    /// A SIP-style offer: no ICE, a session-level c= and a static payload type without rtpmap.
    @Test func sipStyleOfferBecomesRawUDP() throws {
        let sdp = try SessionDescription(
            parsing:
                "v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 18\r\na=rtcp:40001\r\n")
        let r = try SDPMapping.map(sdp, action: .sessionInitiate, sid: "s", party: .initiator)
        let c = try #require(r.jingle.contents.first)
        #expect(c.rtp?.payloadTypes == [PayloadType(id: 0, name: "PCMU"), PayloadType(id: 18, name: "G729")])
        #expect(
            c.transport
                == .rawUDP(
                    RawUDPTransport(candidates: [
                        RawUDPCandidate(component: 1, id: "0-raw1", ip: "192.0.2.5", port: 40000),
                        RawUDPCandidate(component: 2, id: "0-raw2", ip: "192.0.2.5", port: 40001),
                    ])))
        #expect(r.unmappedLines.isEmpty)
    }

    @Test func unspecifiedAddressWithoutICEHasNoTransport() throws {
        let j = Self.session(RTPDescription(media: "audio", payloadTypes: [Self.pcmu]))
        let (sdp, back) = try Self.roundTrip(j)
        #expect(sdp.media[0].lines.contains(SDPLine("c", "IN IP4 0.0.0.0")))
        #expect(back == j)
    }

    // MARK: XEP-0167 description ssrc

    @Test func descriptionSSRCIsABareSSRCLineFirst() throws {
        let rtp = RTPDescription(
            media: "audio", ssrc: 4242, payloadTypes: [Self.pcmu],
            sources: [Source(ssrc: 4242, parameters: [Parameter(name: "cname", value: "x")])])
        let j = Self.session(rtp)
        let (sdp, back) = try Self.roundTrip(j)
        #expect(sdp.media[0].attributes("ssrc") == ["4242", "4242 cname:x"])
        #expect(back == j)
        var noSources = rtp
        noSources.sources = []
        let j2 = Self.session(noSources)
        #expect(try Self.roundTrip(j2).1 == j2)
        var withGroup = rtp
        withGroup.ssrc = nil
        withGroup.sources = [Source(ssrc: 1), Source(ssrc: 2)]
        withGroup.sourceGroups = [SourceGroup(semantics: "FID", ssrcs: [1, 2])]
        let j3 = Self.session(withGroup)
        #expect(try Self.roundTrip(j3).1 == j3)
    }

    // MARK: XEP-0167 §7 SDES

    @Test(arguments: [true, false])
    func encryptionRequiredIsTheSAVPProfile(_ required: Bool) throws {
        let crypto = Crypto(
            cryptoSuite: "AES_CM_128_HMAC_SHA1_80", keyParams: "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32",
            sessionParams: "KDR=1 UNENCRYPTED_SRTCP", tag: "1")
        let j = Self.session(
            RTPDescription(
                media: "audio", payloadTypes: [Self.pcmu],
                encryption: Encryption(required: required ? true : nil, crypto: [crypto])))
        let (sdp, back) = try Self.roundTrip(j)
        #expect(sdp.media[0].proto == (required ? "RTP/SAVPF" : "RTP/AVPF"))
        #expect(
            sdp.media[0].attributes("crypto") == [
                "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32 KDR=1 UNENCRYPTED_SRTCP"
            ])
        #expect(back == j)
    }

    @Test func requiredWithoutCryptoAndExplicitFalse() throws {
        let j = Self.session(RTPDescription(media: "audio", payloadTypes: [Self.pcmu], encryption: Encryption(required: true, crypto: [])))
        #expect(try Self.roundTrip(j).1 == j)
        // required='0' is the default value: it comes back absent.
        let f = Self.session(
            RTPDescription(
                media: "audio", payloadTypes: [Self.pcmu],
                encryption: Encryption(required: false, crypto: [Crypto(cryptoSuite: "S", keyParams: "inline:k", tag: "1")])))
        #expect(
            try Self.roundTrip(f).1.contents[0].rtp?.encryption
                == Encryption(crypto: [Crypto(cryptoSuite: "S", keyParams: "inline:k", tag: "1")]))
    }

    @Test func xep0167Example29MapsLosslessly() throws {
        let iq = try #require(IQ(element: TestXMLReader.parse(Vectors.text("0167/example-29.xml"))))
        let j = try JingleElement(iq: iq)
        let (sdp, back) = try Self.roundTrip(j)
        #expect(sdp.media[0].proto == "RTP/SAVPF")
        #expect(back == j)
    }

    // MARK: XEP-0293

    @Test func rtcpFeedbackParametersAndTRRInterval() throws {
        let vp8 = PayloadType(
            id: 98, name: "VP8", clockrate: 90000,
            feedback: [
                RTCPFeedback(type: "ccm", subtype: "tmmbr", parameters: [Parameter(name: "smaxpr", value: "120")]),
                RTCPFeedback(
                    type: "nack", subtype: "app", parameters: [Parameter(name: "flag", value: nil), Parameter(name: "e", value: "")]),
            ], feedbackTRRInterval: RTCPFeedbackTRRInterval(value: 100))
        let j = Self.session(
            RTPDescription(
                media: "video", payloadTypes: [vp8], feedback: [RTCPFeedback(type: "nack", subtype: "pli")],
                feedbackTRRInterval: RTCPFeedbackTRRInterval(value: 0)))
        let (sdp, back) = try Self.roundTrip(j)
        #expect(
            sdp.media[0].attributes("rtcp-fb") == [
                "* nack pli", "* trr-int 0", "98 ccm tmmbr smaxpr=120", "98 nack app flag e=", "98 trr-int 100",
            ])
        #expect(back == j)
    }

    /// XEP-0293 example 4 (SDP): wildcard and per-codec feedback and trr-int.
    @Test func xep0293ExampleSDP() throws {
        let sdp = try SessionDescription(parsing: Vectors.text("0293/example-04.sdp"))
        let j = try SDPMapping.jingle(from: sdp, action: .sessionInitiate, sid: "s", party: .initiator)
        let video = try #require(j.contents.last?.rtp)
        #expect(video.feedback == [RTCPFeedback(type: "nack")])
        let h263 = try #require(video.payloadTypes.first { $0.id == 98 })
        #expect(h263.feedback == [RTCPFeedback(type: "nack", subtype: "rpsi")])
        #expect(h263.feedbackTRRInterval == RTCPFeedbackTRRInterval(value: 100))
        // No ICE, real addresses: raw UDP.
        #expect(
            j.contents.last?.transport
                == .rawUDP(RawUDPTransport(candidates: [RawUDPCandidate(component: 1, id: "1-raw1", ip: "10.0.1.1", port: 59172)])))
    }

    // MARK: XEP-0167 payload types without clock rate, ptime

    @Test func payloadTypesWithoutClockRate() throws {
        let pts = [
            PayloadType(id: 18, name: "G729"), PayloadType(id: 98, name: "H263-1998"), PayloadType(id: 0, name: "pcmu"),
            PayloadType(id: 103, name: "L16", channels: 2), PayloadType(id: 99),
        ]
        let j = Self.session(RTPDescription(media: "audio", payloadTypes: pts))
        let (sdp, back) = try Self.roundTrip(j)
        #expect(sdp.media[0].attributes("rtpmap") == ["98 H263-1998", "0 pcmu", "103 L16//2"])
        #expect(back == j)
    }

    @Test func unnamedStaticPayloadTypeGainsItsRFC3551Name() throws {
        let j = Self.session(RTPDescription(media: "audio", payloadTypes: [PayloadType(id: 8)]))
        #expect(try Self.roundTrip(j).1.contents[0].rtp?.payloadTypes == [PayloadType(id: 8, name: "PCMA")])
    }

    @Test func ptimeAndMaxptime() throws {
        let pts = [
            PayloadType(id: 111, name: "opus", clockrate: 48000, channels: 2, maxptime: 120, ptime: 20),
            PayloadType(id: 0, name: "PCMU", clockrate: 8000, maxptime: 120, ptime: 20),
        ]
        let j = Self.session(RTPDescription(media: "audio", payloadTypes: pts))
        let (sdp, back) = try Self.roundTrip(j)
        #expect(sdp.media[0].attributes("ptime") == ["20"] && sdp.media[0].attributes("maxptime") == ["120"])
        #expect(back == j)
    }

    @Test func invalidPtimeIsNamed() throws {
        let sdp = try SessionDescription(parsing: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\na=ptime:x\r\n")
        #expect { try SDPMapping.jingle(from: sdp, action: .sessionInitiate, sid: "s", party: .initiator) } throws: {
            "\($0)".contains("invalid ptime 'x'")
        }
    }

    // MARK: Browser lines

    @Test func chromeLinesWithoutJingleFormAreReported() throws {
        let sdp = try SessionDescription(parsing: Vectors.text("sdp/chrome-offer.sdp"))
        let r = try SDPMapping.map(sdp, action: .sessionInitiate, sid: "s", party: .initiator)
        let lines = r.unmappedLines.map(\.description)
        #expect(lines.contains("session: a=msid-semantic: WMS 9f2a1c"))
        #expect(lines.contains("m[0] mid 0: a=ice-options:trickle"))
        #expect(lines.contains("m[0] mid 0: a=rtcp:9 IN IP4 0.0.0.0"))
        #expect(lines.contains("m[1] mid 1: a=rtcp-rsize"))
        let names = Set(r.unmappedLines.compactMap { $0.line.attribute?.name })
        #expect(names.isDisjoint(with: ["rtcp-mux", "extmap-allow-mixed", "msid", "ssrc", "candidate", "rtpmap", "mid", "group"]))
        #expect(names == ["msid-semantic", "ice-options", "rtcp", "rtcp-rsize"])
    }

    /// Unified-plan `a=msid` without `a=ssrc ... msid:` becomes the XEP-0339 msid parameter.
    @Test func msidMapsToTheSourceParameter() throws {
        let sdp = try SessionDescription(parsing: Vectors.text("sdp/firefox-offer.sdp"))
        let r = try SDPMapping.map(sdp, action: .sessionInitiate, sid: "s", party: .initiator)
        let audio = try #require(r.jingle.contents.first?.rtp)
        #expect(audio.sources.first?.parameter("msid") == "{4f1e0c2a} {7b3d9e11}")
        #expect(!r.unmappedLines.contains { $0.line.attribute?.name == "msid" })
        let back = SDPMapping.sessionDescription(from: r.jingle, party: .initiator)
        #expect(back.media[0].attributes("msid") == ["{4f1e0c2a} {7b3d9e11}"])
        // Without sources there is no Jingle form for it.
        let bare = try SessionDescription(parsing: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\na=msid:s t\r\n")
        let r2 = try SDPMapping.map(bare, action: .sessionInitiate, sid: "s", party: .initiator)
        #expect(r2.unmappedLines == [UnmappedSDPLine(mediaIndex: 0, mid: nil, line: .attribute("msid", "s t"))])
    }

    /// Everything the RTP description can carry at once survives Jingle -> SDP -> Jingle.
    @Test(arguments: [Creator.initiator, .responder])
    func richSessionIsLossless(_ party: Creator) throws {
        var j = SDPTests.fullSession()
        guard case .rtp(var audio)? = j.contents[0].description else { Issue.record("no rtp"); return }
        audio.ssrc = 1234
        audio.encryption = Encryption(crypto: [Crypto(cryptoSuite: "AES_CM_128_HMAC_SHA1_80", keyParams: "inline:abc", tag: "1")])
        audio.feedbackTRRInterval = RTCPFeedbackTRRInterval(value: 5)
        for i in audio.payloadTypes.indices { audio.payloadTypes[i].ptime = 20; audio.payloadTypes[i].maxptime = 60 }
        audio.payloadTypes.append(PayloadType(id: 18, name: "G729", maxptime: 60, ptime: 20))
        audio.payloadTypes[0].feedback.append(
            RTCPFeedback(type: "ccm", subtype: "tmmbr", parameters: [Parameter(name: "smaxpr", value: "120")]))
        j.contents[0].description = .rtp(audio)
        let (_, back) = try Self.roundTrip(j, party: party)
        #expect(back == j)
    }
}

/// `SDPMapping.notCarried(by:)` names what the SDP would lose, and nothing for lossless input.
@Suite struct SDPLimitTests {
    @Test func losslessSessionsReportNothing() throws {
        #expect(SDPMapping.notCarried(by: SDPTests.fullSession()).isEmpty)
    }

    @Test func lossesAreNamed() throws {
        let rtp = RTPDescription(
            media: "audio",
            payloadTypes: [
                PayloadType(id: 111, name: "opus", clockrate: 48000, ptime: 20), PayloadType(id: 8),
            ], encryption: Encryption(required: false, crypto: [Crypto(cryptoSuite: "S", keyParams: "inline:k", tag: "1")]),
            sources: [Source(ssrc: 5)])
        let raw = RawUDPTransport(candidates: [RawUDPCandidate(component: 1, id: "a9j3mnbtu1", ip: "10.0.1.1", port: 49170)])
        let j = SDPGapTests.session(rtp, transport: .rawUDP(raw))
        let lost = SDPMapping.notCarried(by: j)
        #expect(
            lost == [
                "content 'voice': raw-udp candidate 'a9j3mnbtu1' id, generation or type",
                "content 'voice': payload types with different ptime or maxptime",
                "content 'voice': payload type 8 without name (comes back named PCMA)",
                "content 'voice': encryption required='0' (comes back absent)",
                "content 'voice': first source without parameters (reads back as the description ssrc)",
            ])
        // Each reported loss is real: the round trip differs.
        #expect(try SDPGapTests.roundTrip(j).1 != j)
    }
}
