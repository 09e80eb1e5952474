import Foundation
import Jingle
import Testing
import XMLStream
import XMPPCore

@Suite struct SDPTests {
    static let alice = JID("alice@example.com/desk")!
    static let bob = JID("bob@example.net/phone")!

    func load(_ name: String) throws -> String { try Vectors.text("sdp/\(name)") }

    @Test(arguments: ["chrome-offer.sdp", "firefox-offer.sdp", "firefox121-captured-offer.sdp"])
    func parseSerialiseKeepsEveryLine(_ name: String) throws {
        let text = try load(name)
        let sdp = try SessionDescription(parsing: text)
        #expect(sdp.description == text)
        #expect(try SessionDescription(parsing: sdp.description) == sdp)
    }

    @Test(arguments: [
        ("", "missing v="), ("v=0\r\no=- 1 2 IN IP4 1.2.3.4\r\n", "missing v=, o= or s="),
        ("v=x\r\no=- 1 2 IN IP4 1.2.3.4\r\ns=-\r\n", "first line must be"),
        ("v=0\r\no=- 1 2 IN\r\ns=-\r\n", "o= needs 6 fields"),
        ("v=0\r\no=- 1 2 IN IP4 a\r\ns=-\r\nm=audio x RTP/AVP 0\r\n", "invalid port 'x'"),
        ("v=0\r\no=- 1 2 IN IP4 a\r\ns=-\r\nbogus\r\n", "expected '<type>=<value>'"),
    ])
    func sdpErrorsNameTheProblem(_ text: String, _ expected: String) {
        #expect { try SessionDescription(parsing: text) } throws: { "\($0)".contains(expected) }
    }

    static func fullSession() -> JingleElement {
        let fp = Fingerprint(hash: "sha-256", setup: .actpass, value: "AA:BB:CC")
        func ice(_ n: Int) -> ContentTransport {
            .iceUDP(
                ICEUDPTransport(
                    ufrag: "uf", pwd: "pwdpwdpwdpwdpwdpwdpwdpwd",
                    candidates: [
                        Candidate(
                            component: 1, foundation: "1", generation: 0, id: "c\(n)a", ip: "192.0.2.1", network: 1, port: 5000,
                            priority: 2130706431, protocol: "udp", type: .host),
                        Candidate(
                            component: 1, foundation: "2", generation: 1, id: "c\(n)b", ip: "198.51.100.1", port: 6000,
                            priority: 1694498815, protocol: "udp", relAddr: "192.0.2.1", relPort: 5000, type: .srflx),
                    ], fingerprints: [fp]))
        }
        let audio = RTPDescription(
            media: "audio",
            payloadTypes: [
                PayloadType(
                    id: 111, name: "opus", clockrate: 48000, channels: 2,
                    parameters: [Parameter(name: "minptime", value: "10"), Parameter(name: "useinbandfec", value: "1")],
                    feedback: [RTCPFeedback(type: "transport-cc")]),
                PayloadType(id: 0, name: "PCMU", clockrate: 8000),
                PayloadType(id: 101, name: "telephone-event", clockrate: 8000, parameters: [Parameter(name: "", value: "0-15")]),
            ], rtcpMux: true,
            headerExtensions: [
                HeaderExtension(id: 1, uri: "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
                HeaderExtension(id: 2, uri: "urn:ietf:params:rtp-hdrext:csrc-audio-level", senders: .responder),
            ], extmapAllowMixed: true,
            sources: [
                Source(
                    ssrc: 1234,
                    parameters: [
                        Parameter(name: "cname", value: "abc"),
                        Parameter(name: "msid", value: "s t"),
                    ])
            ])
        let video = RTPDescription(
            media: "video",
            payloadTypes: [
                PayloadType(
                    id: 96, name: "VP8", clockrate: 90000,
                    feedback: [RTCPFeedback(type: "nack", subtype: "pli"), RTCPFeedback(type: "ccm", subtype: "fir")],
                    feedbackTRRInterval: RTCPFeedbackTRRInterval(value: 100)),
                PayloadType(id: 97, name: "rtx", clockrate: 90000, parameters: [Parameter(name: "apt", value: "96")]),
            ], bandwidths: [Bandwidth(type: "AS", value: "512")], rtcpMux: true, feedback: [RTCPFeedback(type: "nack")],
            sources: [
                Source(ssrc: 1, parameters: [Parameter(name: "cname", value: "abc")]),
                Source(ssrc: 2, parameters: [Parameter(name: "cname", value: "abc")]),
            ],
            sourceGroups: [SourceGroup(semantics: "FID", ssrcs: [1, 2])])
        return JingleElement(
            action: .sessionInitiate, sid: "sid-1", initiator: alice,
            contents: [
                Content(creator: .initiator, name: "audio0", senders: .both, description: .rtp(audio), transport: ice(0)),
                Content(creator: .initiator, name: "video1", senders: .initiator, description: .rtp(video), transport: ice(1)),
            ], groups: [Group(semantics: "BUNDLE", contents: ["audio0", "video1"])])
    }

    @Test(arguments: [Creator.initiator, .responder])
    func jingleToSDPToJingleIsLossless(_ party: Creator) throws {
        let j = Self.fullSession()
        let sdp = SDPMapping.sessionDescription(from: j, party: party)
        let reparsed = try SessionDescription(parsing: sdp.description)
        let back = try SDPMapping.jingle(from: reparsed, action: .sessionInitiate, sid: "sid-1", party: party, initiator: Self.alice)
        #expect(back == j)
    }

    @Test func directionsFollowTheDescribedParty() throws {
        let j = Self.fullSession()
        let offer = SDPMapping.sessionDescription(from: j, party: .initiator)
        #expect(offer.media[1].hasAttribute("sendonly"))
        #expect(offer.media[0].attributes("extmap").contains("2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level"))
        let answer = SDPMapping.sessionDescription(from: j, party: .responder)
        #expect(answer.media[1].hasAttribute("recvonly"))
        #expect(offer.attributes("group") == ["BUNDLE audio0 video1"])
        #expect(offer.media[0].attributes("mid") == ["audio0"])
        #expect(offer.media[0].attributes("fingerprint") == ["sha-256 AA:BB:CC"])
        #expect(offer.media[0].attributes("setup") == ["actpass"])
        #expect(offer.media[0].attributes("fmtp").contains("111 minptime=10;useinbandfec=1"))
        #expect(offer.media[0].attributes("fmtp").contains("101 0-15"))
        #expect(offer.media[1].attributes("ssrc-group") == ["FID 1 2"])
        #expect(offer.media[1].attributes("rtcp-fb").contains("96 trr-int 100"))
        #expect(offer.media[1].attributes("rtcp-fb").contains("* nack"))
        #expect(offer.media[0].proto == "UDP/TLS/RTP/SAVPF")
    }

    /// The SDP lines that the mapping carries: what must survive SDP -> Jingle -> SDP.
    static let mapped: Set<String> = [
        "mid", "ice-ufrag", "ice-pwd", "fingerprint", "setup", "extmap", "extmap-allow-mixed",
        "sendrecv", "sendonly", "recvonly", "inactive", "rtcp-mux", "rtpmap", "fmtp", "rtcp-fb",
        "ssrc", "ssrc-group", "candidate", "crypto", "ptime", "maxptime", "msid",
    ]

    static func mappedLines(_ m: MediaDescription, session: SessionDescription) -> Set<String> {
        var out = Set<String>()
        for l in session.lines + m.lines {
            guard let (name, value) = l.attribute, mapped.contains(name) else { continue }
            var v = value ?? ""
            if name == "rtpmap", v.hasSuffix("/8000/1") { v = String(v.dropLast(2)) } // channels 1 is the default
            // a=msid and the XEP-0339 msid parameter are one fact: the a=msid line is compared.
            if name == "ssrc", v.contains(" msid:") { continue }
            if name == "candidate" { v = String(v.split(separator: " ").prefix(8).joined(separator: " ")) }
            out.insert("\(name):\(v)")
        }
        return out
    }

    @Test(arguments: ["chrome-offer.sdp", "firefox-offer.sdp", "firefox121-captured-offer.sdp"])
    func browserOfferMapsToJingleAndBack(_ name: String) throws {
        let sdp = try SessionDescription(parsing: load(name))
        let j = try SDPMapping.jingle(from: sdp, action: .sessionInitiate, sid: "s", party: .initiator, initiator: Self.alice)
        // The Jingle survives its own XML form.
        let xml = XMLSerializer.serialize(j.element)
        #expect(try JingleElement(element: TestXMLReader.parse(xml, defaultNamespace: "")) == j)
        let back = SDPMapping.sessionDescription(from: j, party: .initiator)
        #expect(back.media.count == sdp.media.count)
        #expect(back.attributes("group") == sdp.attributes("group"))
        for (a, b) in zip(sdp.media, back.media) {
            #expect(a.media == b.media)
            #expect(a.formats == b.formats)
            #expect(a.proto == b.proto)
            let expected = Self.mappedLines(a, session: sdp)
            let got = Self.mappedLines(b, session: back)
            #expect(expected.subtracting(got).isEmpty, "lost: \(expected.subtracting(got).sorted())")
            #expect(got.subtracting(expected).isEmpty, "added: \(got.subtracting(expected).sorted())")
        }
        let audio = try #require(j.contents.first?.rtp)
        let opus = try #require(audio.payloadTypes.first { $0.name == "opus" })
        #expect(opus.channels == 2 && opus.clockrate == 48000 && opus.parameter("useinbandfec") == "1")
        #expect(j.contents.first?.transport?.iceUDP?.fingerprints.first?.setup == .actpass)
        #expect(j.contents.first?.senders == .both)
    }

    @Test func chromeVideoSourcesAndGroups() throws {
        let sdp = try SessionDescription(parsing: load("chrome-offer.sdp"))
        let j = try SDPMapping.jingle(from: sdp, action: .sessionInitiate, sid: "s", party: .initiator)
        let video = try #require(j.contents.last?.rtp)
        #expect(video.sourceGroups == [SourceGroup(semantics: "FID", ssrcs: [2882400001, 2882400002])])
        #expect(video.sources.map(\.ssrc) == [2882400001, 2882400002])
        #expect(video.sources.first?.parameter("msid") == "9f2a1c 8c4d2a")
        #expect(video.payloadTypes.first { $0.id == 97 }?.parameter("apt") == "96")
        #expect(video.payloadTypes.first { $0.id == 96 }?.feedback.count == 5)
        #expect(video.extmapAllowMixed)
        #expect(j.groups.first?.contents == ["0", "1"])
        let ice = try #require(j.contents.first?.transport?.iceUDP)
        #expect(ice.candidates.count == 2)
        #expect(ice.candidates[1].relAddr == "192.0.2.10" && ice.candidates[1].relPort == 54321 && ice.candidates[1].network == 1)
    }

    /// XEP-0294 example 4 (SDP) and example 5 (Jingle) agree when the SDP is read as the
    /// responder's: `recvonly` there becomes senders='initiator'.
    @Test func xep0294ExampleMapping() throws {
        let fragment = try Vectors.text("0294/example-04.sdp").replacingOccurrences(of: "m=video\n", with: "m=video 9 RTP/AVPF\n")
        let sdp = try SessionDescription(parsing: "v=0\no=- 1 1 IN IP4 0.0.0.0\ns=-\n" + fragment)
        let j = try SDPMapping.jingle(from: sdp, action: .sessionAccept, sid: "s", party: .responder)
        let expected = try RTPDescription(element: TestXMLReader.parse(Vectors.text("0294/example-05.xml"), defaultNamespace: ""))
        #expect(j.contents.first?.rtp?.headerExtensions == expected.headerExtensions)
        #expect(j.contents.first?.rtp?.extmapAllowMixed == expected.extmapAllowMixed)
    }
}

/// Every XEP example carrying RTP contents maps to SDP and back with its payload types,
/// candidates, fingerprints and senders intact.
@Suite struct VectorSDPMappingTests {
    static let files = Vectors.xmlFiles().filter { Vectors.errata()[$0] == nil }

    @Test(arguments: files)
    func rtpExamplesMapToSDPAndBack(_ path: String) throws {
        for e in try TestXMLReader.parseAll(Vectors.text(path)) {
            guard case .jingle(_, let j) = try DecodedStanza.decode(e), j.contents.contains(where: { $0.rtp != nil }) else { continue }
            let party: Creator = j.action == .sessionAccept ? .responder : .initiator
            let sdp = try SessionDescription(parsing: SDPMapping.sessionDescription(from: j, party: party).description)
            let back = try SDPMapping.jingle(from: sdp, action: j.action, sid: j.sid, party: party)
            let rtpContents = j.contents.filter { $0.rtp != nil }
            #expect(back.contents.map(\.name) == rtpContents.map(\.name), "\(path)")
            for (a, b) in zip(rtpContents, back.contents) {
                #expect(a.rtp?.payloadTypes.map(\.id) == b.rtp?.payloadTypes.map(\.id), "\(path)")
                #expect(a.rtp?.payloadTypes.map { $0.name?.lowercased() } == b.rtp?.payloadTypes.map { $0.name?.lowercased() }, "\(path)")
                #expect(a.rtp?.payloadTypes.map(\.parameters) == b.rtp?.payloadTypes.map(\.parameters), "\(path)")
                #expect(a.senders == b.senders, "\(path)")
                if let ice = a.transport?.iceUDP {
                    #expect(ice.candidates == b.transport?.iceUDP?.candidates, "\(path)")
                    #expect(ice.fingerprints == b.transport?.iceUDP?.fingerprints, "\(path)")
                    #expect(ice.ufrag == b.transport?.iceUDP?.ufrag && ice.pwd == b.transport?.iceUDP?.pwd, "\(path)")
                }
                if case .rawUDP(let raw)? = a.transport, let rtp = raw.candidates.first(where: { $0.component == 1 }) {
                    guard case .rawUDP(let got)? = b.transport else { Issue.record("\(path): raw-udp lost"); continue }
                    #expect(got.candidates.first?.ip == rtp.ip && got.candidates.first?.port == rtp.port, "\(path)")
                }
            }
            #expect(back.groups == j.groups, "\(path)")
        }
    }
}
