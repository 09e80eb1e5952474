import Jingle
import Testing
import XMLStream
import XMPPCore

/// The SDP <-> Jingle forms chosen to match Conversations (libwebrtc underneath):
/// - TCP candidates (RFC 6544) have no XEP-0176 form: SDP -> Jingle reports them unmapped,
///   Jingle -> SDP never writes them (Conversations gathers none and ignores received ones).
/// - an `a=fmtp` value without `name=` (RFC 2198 RED `111/111`, RFC 4733 `0-15`) is
///   `<parameter name='' value='…'/>`, which Conversations writes back as `a=fmtp:<id> <value>`.
/// SDP lines are as libwebrtc / Chromium 156 writes them.
@Suite struct SDPConversationsMappingTests {
    static let ufrag = "Xk3q"
    static let pwd = "6b2cG9mUj8vQbN4yHr1sT0aL"
    static let fingerprint = "7A:1F:0C:55:3E:9B:42:D8:6E:11:A0:C7:93:2B:5F:E4:08:DD:71:3C:9A:B6:24:F0:5D:8E:C1:37:A9:62:4B:10"

    /// A Chromium audio-only offer with `candidates` before the ICE credentials and `codecLines`
    /// (rtpmap, rtcp-fb, fmtp) after `a=rtcp-rsize`, as Chromium orders them.
    static func chromiumAudioOffer(formats: [UInt8] = [111], candidates: [String] = [], codecLines: [String]) -> String {
        var lines = [
            "v=0", "o=- 4611731400430051336 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0", "a=extmap-allow-mixed",
            "a=msid-semantic: WMS 9f2a1c",
            "m=audio 9 UDP/TLS/RTP/SAVPF " + formats.map { String($0) }.joined(separator: " "),
            "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0",
        ]
        lines += candidates.map { "a=" + $0 }
        lines += [
            "a=ice-ufrag:\(ufrag)", "a=ice-pwd:\(pwd)", "a=ice-options:trickle", "a=fingerprint:sha-256 \(fingerprint)",
            "a=setup:actpass", "a=mid:0", "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
            "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
            "a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
            "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid", "a=sendrecv", "a=msid:9f2a1c 5d7e0b", "a=rtcp-mux", "a=rtcp-rsize",
        ]
        lines += codecLines
        lines += ["a=ssrc:3735928559 cname:q1w2e3r4t5y6u7i8", "a=ssrc:3735928559 msid:9f2a1c 5d7e0b"]
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static let opusLines = ["a=rtpmap:111 opus/48000/2", "a=rtcp-fb:111 transport-cc", "a=fmtp:111 minptime=10;useinbandfec=1"]

    static func map(_ text: String) throws -> SDPToJingleResult {
        try SDPMapping.map(SessionDescription(parsing: text), action: .sessionInitiate, sid: "s", party: .initiator)
    }

    /// The Jingle survives its XML form; then the SDP written for it, parsed again.
    static func sdpBack(_ j: JingleElement) throws -> SessionDescription {
        let xml = XMLSerializer.serialize(j.element)
        #expect(try JingleElement(element: TestXMLReader.parse(xml, defaultNamespace: "")) == j, "\(xml)")
        return try SessionDescription(parsing: SDPMapping.sessionDescription(from: j, party: .initiator).description)
    }

    // MARK: ICE candidates

    /// UDP candidates map to XEP-0176 candidates (Chromium's `ufrag` and `network-cost` have no
    /// Jingle form); the SDP written back is the candidate with its Jingle id.
    @Test(arguments: [
        (
            "candidate:2999745851 1 udp 2122260223 192.0.2.10 54321 typ host generation 0 ufrag Xk3q network-id 1 network-cost 10",
            Candidate(
                component: 1, foundation: "2999745851", id: "0-c0", ip: "192.0.2.10", network: 1, port: 54321,
                priority: 2122260223, type: .host),
            "2999745851 1 udp 2122260223 192.0.2.10 54321 typ host generation 0 network-id 1 id 0-c0"
        ),
        (
            "candidate:3471623853 1 udp 2122262783 2001:db8::10 54322 typ host generation 0 ufrag Xk3q network-id 2",
            Candidate(
                component: 1, foundation: "3471623853", id: "0-c0", ip: "2001:db8::10", network: 2, port: 54322,
                priority: 2122262783, type: .host),
            "3471623853 1 udp 2122262783 2001:db8::10 54322 typ host generation 0 network-id 2 id 0-c0"
        ),
        (
            "candidate:1467250027 1 udp 1686052607 198.51.100.7 61000 typ srflx raddr 192.0.2.10 rport 54321 generation 0 ufrag Xk3q network-id 1 network-cost 10",
            Candidate(
                component: 1, foundation: "1467250027", id: "0-c0", ip: "198.51.100.7", network: 1, port: 61000,
                priority: 1686052607, relAddr: "192.0.2.10", relPort: 54321, type: .srflx),
            "1467250027 1 udp 1686052607 198.51.100.7 61000 typ srflx raddr 192.0.2.10 rport 54321 generation 0 network-id 1 id 0-c0"
        ),
        (
            "candidate:3845591142 1 udp 41885439 203.0.113.5 50123 typ relay raddr 198.51.100.7 rport 61000 generation 0 ufrag Xk3q network-id 1",
            Candidate(
                component: 1, foundation: "3845591142", id: "0-c0", ip: "203.0.113.5", network: 1, port: 50123,
                priority: 41885439, relAddr: "198.51.100.7", relPort: 61000, type: .relay),
            "3845591142 1 udp 41885439 203.0.113.5 50123 typ relay raddr 198.51.100.7 rport 61000 generation 0 network-id 1 id 0-c0"
        ),
    ])
    func udpCandidatesMapUnchanged(_ line: String, _ expected: Candidate, _ written: String) throws {
        let r = try Self.map(Self.chromiumAudioOffer(candidates: [line], codecLines: Self.opusLines))
        #expect(r.jingle.contents.first?.transport?.iceUDP?.candidates == [expected])
        #expect(!r.unmappedLines.contains { $0.line.attribute?.name == "candidate" })
        let back = try Self.sdpBack(r.jingle)
        #expect(back.media[0].attributes("candidate") == [written])
    }

    /// TCP candidates (active, passive, simultaneous-open; host and relayed) are not carried:
    /// they are reported unmapped, the UDP ones next to them are kept, and none is written back.
    @Test(arguments: [
        "candidate:4233069003 1 tcp 1518280447 192.0.2.10 9 typ host tcptype active generation 0 ufrag Xk3q network-id 1",
        "candidate:4233069003 1 tcp 1518280447 192.0.2.10 50000 typ host tcptype passive generation 0 ufrag Xk3q network-id 1 network-cost 10",
        "candidate:4233069003 1 tcp 1518280447 192.0.2.10 50001 typ host tcptype so generation 0 ufrag Xk3q network-id 1",
        "candidate:2165431902 1 tcp 1518282751 2001:db8::10 9 typ host tcptype active generation 0 ufrag Xk3q network-id 2",
        "candidate:2401863570 1 TCP 1686052863 198.51.100.7 443 typ srflx raddr 192.0.2.10 rport 50000 tcptype passive generation 0 ufrag Xk3q network-id 1",
    ])
    func tcpCandidatesAreNotCarried(_ tcp: String) throws {
        let udp = "candidate:2999745851 1 udp 2122260223 192.0.2.10 54321 typ host generation 0 ufrag Xk3q network-id 1 network-cost 10"
        let r = try Self.map(Self.chromiumAudioOffer(candidates: [tcp, udp], codecLines: Self.opusLines))
        let ice = try #require(r.jingle.contents.first?.transport?.iceUDP)
        #expect(ice.candidates.map(\.protocol) == ["udp"])
        #expect(ice.candidates.map(\.port) == [54321])
        #expect(
            r.unmappedLines == [
                UnmappedSDPLine(mediaIndex: nil, mid: nil, line: .attribute("msid-semantic", " WMS 9f2a1c")),
                UnmappedSDPLine(mediaIndex: 0, mid: "0", line: SDPLine("a", tcp)),
                UnmappedSDPLine(mediaIndex: 0, mid: "0", line: .attribute("ice-options", "trickle")),
                UnmappedSDPLine(mediaIndex: 0, mid: "0", line: .attribute("rtcp-rsize")),
                UnmappedSDPLine(mediaIndex: 0, mid: "0", line: .attribute("rtcp", "9 IN IP4 0.0.0.0")),
            ])
        let back = try Self.sdpBack(r.jingle)
        #expect(back.media[0].attributes("candidate").map { $0.split(separator: " ")[2] } == ["udp"])
    }

    /// A candidate whose `ufrag` is not the section's is of an older ICE generation: not carried
    /// (Conversations drops it too); without a `ufrag` extension a candidate belongs to the section.
    @Test(
        arguments: [
            ("Xk3q", true), ("0ldU", false), (nil, true),
        ] as [(String?, Bool)])
    func candidateOfAnotherICEGenerationIsNotCarried(_ ufrag: String?, _ kept: Bool) throws {
        let line =
            "candidate:2999745851 1 udp 2122260223 192.0.2.10 54321 typ host generation 0"
            + (ufrag.map { " ufrag \($0)" } ?? "") + " network-id 1 network-cost 10"
        let current =
            "candidate:1467250027 1 udp 1686052607 198.51.100.7 61000 typ srflx raddr 192.0.2.10 rport 54321 generation 0 ufrag Xk3q network-id 1"
        let r = try Self.map(Self.chromiumAudioOffer(candidates: [line, current], codecLines: Self.opusLines))
        let ice = try #require(r.jingle.contents.first?.transport?.iceUDP)
        #expect(ice.candidates.map(\.port) == (kept ? [54321, 61000] : [61000]))
        #expect(r.unmappedLines.contains { $0.line == SDPLine("a", line) } == !kept)
    }

    /// A Jingle TCP candidate (JingleKit's ICE agent writes `protocol='tcp' tcptype='…'`) is not
    /// written to SDP and is named by `notCarried`; the UDP candidate next to it is.
    @Test(arguments: ["active", "passive", "so"])
    func jingleTCPCandidateIsNotWritten(_ tcptype: String) throws {
        let tcp = Candidate(
            component: 1, foundation: "4233069003", id: "t1", ip: "192.0.2.10", port: 9, priority: 1518280447,
            protocol: "tcp", type: .host, extraAttributes: [XMLAttribute(name: "tcptype", value: tcptype)])
        let udp = Candidate(
            component: 1, foundation: "2999745851", id: "u1", ip: "192.0.2.10", network: 1, port: 54321,
            priority: 2122260223, type: .host)
        let rtp = RTPDescription(media: "audio", payloadTypes: [PayloadType(id: 111, name: "opus", clockrate: 48000, channels: 2)])
        let j = JingleElement(
            action: .sessionInitiate, sid: "s",
            contents: [
                Content(
                    creator: .initiator, name: "0", senders: .both, description: .rtp(rtp),
                    transport: .iceUDP(ICEUDPTransport(ufrag: Self.ufrag, pwd: Self.pwd, candidates: [tcp, udp])))
            ])
        let back = try Self.sdpBack(j)
        #expect(
            back.media[0].attributes("candidate") == [
                "2999745851 1 udp 2122260223 192.0.2.10 54321 typ host generation 0 network-id 1 id u1"
            ])
        #expect(SDPMapping.notCarried(by: j) == ["content '0': tcp candidate 't1' (XEP-0176 is UDP only, not written)"])
    }

    /// The candidate line on its own keeps RFC 6544's `tcptype` as the `tcptype` attribute.
    @Test(arguments: ["active", "passive", "so"])
    func candidateLineKeepsTCPType(_ tcptype: String) throws {
        let line = "candidate:4233069003 1 tcp 1518280447 192.0.2.10 9 typ host tcptype \(tcptype) generation 0 ufrag Xk3q network-id 1"
        let c = try Candidate(sdpValue: line, fallbackID: "x")
        #expect(c.protocol == "tcp")
        #expect(c.extraAttributes == [XMLAttribute(name: "tcptype", value: tcptype)])
        #expect(c.sdpValue == "4233069003 1 tcp 1518280447 192.0.2.10 9 typ host tcptype \(tcptype) generation 0 network-id 1 id x")
    }

    // MARK: fmtp without name=value

    /// Chromium's fmtp values map to payload-type parameters; a value without `name=` is a
    /// parameter with an empty name, and the same `a=fmtp` line is written back.
    @Test(arguments: [
        (UInt8(63), "a=rtpmap:63 red/48000/2", "63 111/111", [Parameter(name: "", value: "111/111")]),
        (UInt8(63), "a=rtpmap:63 red/48000/2", "63 111/111/111", [Parameter(name: "", value: "111/111/111")]),
        (UInt8(101), "a=rtpmap:101 telephone-event/8000", "101 0-15", [Parameter(name: "", value: "0-15")]),
        (UInt8(110), "a=rtpmap:110 telephone-event/48000", "110 0-16", [Parameter(name: "", value: "0-16")]),
        (
            UInt8(111), "a=rtpmap:111 opus/48000/2", "111 minptime=10;useinbandfec=1",
            [Parameter(name: "minptime", value: "10"), Parameter(name: "useinbandfec", value: "1")]
        ),
        (
            UInt8(111), "a=rtpmap:111 opus/48000/2", "111 minptime=10;useinbandfec=1;usedtx=1;stereo=1;sprop-stereo=1",
            [
                Parameter(name: "minptime", value: "10"), Parameter(name: "useinbandfec", value: "1"),
                Parameter(name: "usedtx", value: "1"),
                Parameter(name: "stereo", value: "1"), Parameter(name: "sprop-stereo", value: "1"),
            ]
        ),
    ])
    func fmtpMapsAndComesBack(_ id: UInt8, _ rtpmap: String, _ fmtp: String, _ parameters: [Parameter]) throws {
        let codecLines =
            id == 111 ? [rtpmap, "a=rtcp-fb:111 transport-cc", "a=fmtp:\(fmtp)"] : Self.opusLines + [rtpmap, "a=fmtp:\(fmtp)"]
        let r = try Self.map(Self.chromiumAudioOffer(formats: id == 111 ? [111] : [111, id], codecLines: codecLines))
        let rtp = try #require(r.jingle.contents.first?.rtp)
        #expect(rtp.payloadTypes.first { $0.id == id }?.parameters == parameters)
        #expect(!r.unmappedLines.contains { $0.line.attribute?.name == "fmtp" })
        let back = try Self.sdpBack(r.jingle)
        #expect(back.media[0].attributes("fmtp").filter { $0.hasPrefix("\(id) ") } == [fmtp])
    }

    /// Jingle as Conversations, Dino and lib-jitsi-meet send it (`name=''` for a value without
    /// name) gives the `a=fmtp` line libwebrtc wrote, and survives SDP unchanged.
    @Test(arguments: [
        (
            "<payload-type id='101' name='telephone-event' clockrate='8000'><parameter name='' value='0-15'/></payload-type>",
            "101 0-15"
        ),
        (
            "<payload-type id='110' name='telephone-event' clockrate='48000'><parameter name='' value='0-16'/></payload-type>",
            "110 0-16"
        ),
        (
            "<payload-type id='63' name='red' clockrate='48000' channels='2'><parameter name='' value='111/111'/></payload-type>",
            "63 111/111"
        ),
        (
            "<payload-type id='111' name='opus' clockrate='48000' channels='2'><parameter name='minptime' value='10'/>"
                + "<parameter name='useinbandfec' value='1'/></payload-type>", "111 minptime=10;useinbandfec=1"
        ),
    ])
    func peerJingleParametersWriteLibwebrtcFmtp(_ payloadType: String, _ fmtp: String) throws {
        let xml = """
            <jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='a73sjjvkla37jfea' initiator='romeo@montague.lit/orchard'>\
            <content creator='initiator' name='0' senders='both'>\
            <description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>\(payloadType)<rtcp-mux/></description>\
            <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='\(Self.ufrag)' pwd='\(Self.pwd)'>\
            <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>\(Self.fingerprint)</fingerprint>\
            </transport></content></jingle>
            """
        let j = try JingleElement(element: TestXMLReader.parse(xml, defaultNamespace: ""))
        let sdp = try Self.sdpBack(j)
        #expect(sdp.media[0].attributes("fmtp") == [fmtp])
        let again = try SDPMapping.map(
            SessionDescription(parsing: sdp.description), action: j.action, sid: j.sid,
            party: .initiator, initiator: j.initiator)
        #expect(again.jingle == j)
        #expect(again.unmappedLines.isEmpty)
    }

    /// The shape `Negotiation.defaultAudioCodecs` used to send, `<parameter name='0-15' value=''/>`,
    /// is a name with an empty value: it is written as `0-15=`, as Conversations writes it too.
    @Test func nameWithEmptyValueKeepsItsEqualsSign() throws {
        let rtp = RTPDescription(
            media: "audio",
            payloadTypes: [
                PayloadType(id: 101, name: "telephone-event", clockrate: 8000, parameters: [Parameter(name: "0-15", value: "")])
            ])
        let j = JingleElement(
            action: .sessionInitiate, sid: "s",
            contents: [
                Content(creator: .initiator, name: "0", senders: .both, description: .rtp(rtp))
            ])
        let sdp = try Self.sdpBack(j)
        #expect(sdp.media[0].attributes("fmtp") == ["101 0-15="])
        #expect(try SDPMapping.jingle(from: sdp, action: j.action, sid: j.sid, party: .initiator) == j)
    }
}
