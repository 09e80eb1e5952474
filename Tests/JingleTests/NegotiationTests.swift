import Jingle
import Testing
import XMPPCore

@Suite struct NegotiationTests {
    let local = LocalTransport(ufrag: "lu", pwd: "lp", fingerprint: "AA:BB")

    func offer(_ codecs: [PayloadType], fingerprint: Fingerprint? = Fingerprint(hash: "sha-256", setup: .actpass, value: "CC:DD"))
        -> Content
    {
        Content(
            creator: .initiator, name: "audio", senders: .both,
            description: .rtp(RTPDescription(media: "audio", payloadTypes: codecs, rtcpMux: true)),
            transport: .iceUDP(ICEUDPTransport(ufrag: "u", pwd: "p", fingerprints: fingerprint.map { [$0] } ?? [])))
    }

    @Test func defaultOfferHasOpusWithFECAndTelephoneEvent() throws {
        let c = Negotiation.offer(transport: local)
        let opus = try #require(c.rtp?.payloadTypes.first)
        #expect(opus.name == "opus" && opus.clockrate == 48000 && opus.channels == 2 && opus.parameter("useinbandfec") == "1")
        #expect(c.rtp?.payloadTypes.contains { $0.name == "telephone-event" } == true)
        #expect(c.transport?.iceUDP?.fingerprints.first?.setup == .actpass)
    }

    @Test func answerIntersectsByNameClockAndChannels() throws {
        let o = offer([
            PayloadType(id: 96, name: "OPUS", clockrate: 48000, channels: 2),
            PayloadType(id: 97, name: "opus", clockrate: 16000),
            PayloadType(id: 8, name: "PCMA", clockrate: 8000),
            PayloadType(id: 0),
            PayloadType(id: 100, name: "telephone-event", clockrate: 48000),
            PayloadType(id: 101, name: "telephone-event", clockrate: 16000),
        ])
        let a = try Negotiation.answer(o, transport: local).get()
        let ids = a.rtp?.payloadTypes.map(\.id)
        #expect(ids == [96, 0, 100], "opus/48000/2 by case-insensitive name, static PCMU by id, telephone-event at 48000 only")
        #expect(a.rtp?.payloadTypes.first?.parameters.isEmpty == true, "the answer adds no parameter the offer lacked")
        #expect(a.transport?.iceUDP?.fingerprints.first?.setup == .active)
        #expect(a.transport?.iceUDP?.ufrag == "lu")
    }

    @Test func nothingInCommonOrNoDTLSIsRefused() {
        let noCodec = offer([PayloadType(id: 96, name: "speex", clockrate: 16000)])
        if case .failure(let r) = Negotiation.answer(noCodec, transport: local) {
            #expect(r.condition == .incompatibleParameters)
        } else {
            Issue.record("accepted")
        }
        let noDTLS = offer([PayloadType(id: 0, name: "PCMU", clockrate: 8000)], fingerprint: nil)
        if case .failure(let r) = Negotiation.answer(noDTLS, transport: local) {
            #expect(r.condition == .failedApplication)
        } else {
            Issue.record("accepted")
        }
        let relaxed = MediaPolicy(requireDTLS: false)
        #expect((try? Negotiation.answer(noDTLS, policy: relaxed, transport: local).get()) != nil)
        let initiate = JingleElement(action: .sessionInitiate, sid: "s", contents: [noCodec])
        if case .failure(let r) = Negotiation.accept(initiate, transport: { _ in local }) {
            #expect(r.condition == .incompatibleParameters)
        } else {
            Issue.record("accepted")
        }
    }

    @Test func dtlsRoles() {
        #expect(Negotiation.answerSetup(to: .actpass) == .active)
        #expect(Negotiation.answerSetup(to: .active) == .passive)
        #expect(Negotiation.answerSetup(to: .passive) == .active)
        #expect(Negotiation.answerSetup(to: .holdconn) == nil)
        #expect(Negotiation.dtlsRole(local: .active, remote: .actpass) == .client)
        #expect(Negotiation.dtlsRole(local: .actpass, remote: .active) == .server)
        #expect(Negotiation.dtlsRole(local: .passive, remote: .active) == .server)
        #expect(Negotiation.dtlsRole(local: .active, remote: .active) == nil)
    }

    @Test func acceptKeepsBundleOfAcceptedContents() throws {
        let video = Content(
            creator: .initiator, name: "video", description: .other(.init("description", namespace: "urn:example")),
            transport: .iceUDP(ICEUDPTransport()))
        let initiate = JingleElement(
            action: .sessionInitiate, sid: "s",
            contents: [offer([PayloadType(id: 111, name: "opus", clockrate: 48000, channels: 2)]), video],
            groups: [Group(semantics: "BUNDLE", contents: ["audio", "video"])])
        let accept = try Negotiation.accept(initiate, transport: { _ in local }).get()
        #expect(accept.contents.map(\.name) == ["audio"])
        #expect(accept.groups.first?.contents == ["audio"])
    }

    /// Dino compares payload-type parameters between offer and answer: each accepted payload
    /// type is answered exactly as offered (id, parameters), and RTCP feedback we do not send
    /// is left out.
    @Test func acceptedPayloadTypesAreAnsweredAsOffered() throws {
        let opus = PayloadType(
            id: 111, name: "opus", clockrate: 48000, channels: 2,
            parameters: [Parameter(name: "useinbandfec", value: "1"), Parameter(name: "stereo", value: "0")],
            feedback: [RTCPFeedback(type: "transport-cc")])
        let a = try Negotiation.answer(offer([opus]), transport: local).get()
        let answered = try #require(a.rtp?.payloadTypes.first)
        #expect(answered.parameters == opus.parameters)
        #expect(answered.feedback.isEmpty)
        #expect(a.rtp?.payloadTypes.count == 1)
    }

    /// Telephone-event is answered at every clock rate offered that we support (Dino offers
    /// 8000 beside Opus at 48000; libwebrtc offers both).
    @Test(arguments: [[UInt32(8000)], [48000], [48000, 8000]])
    func telephoneEventIsAnsweredAtTheOfferedRates(rates: [UInt32]) throws {
        let events = rates.enumerated().map { PayloadType(id: UInt8(101 + $0.offset), name: "telephone-event", clockrate: $0.element) }
        let a = try Negotiation.answer(
            offer([PayloadType(id: 111, name: "opus", clockrate: 48000, channels: 2)] + events),
            transport: local
        ).get()
        let answered = a.rtp?.payloadTypes.filter { $0.name == "telephone-event" }.compactMap(\.clockrate)
        #expect(answered == rates)
    }

    /// libwebrtc drops packets inside a BUNDLE group when a negotiated MID never comes: the
    /// answer carries no header extension (we send none), and announces our SSRC (XEP-0339).
    @Test func answerDropsHeaderExtensionsAndAnnouncesOurSource() throws {
        var description = RTPDescription(
            media: "audio", payloadTypes: [PayloadType(id: 111, name: "opus", clockrate: 48000, channels: 2)],
            rtcpMux: true)
        description.headerExtensions = [
            HeaderExtension(id: 4, uri: "urn:ietf:params:rtp-hdrext:sdes:mid"),
            HeaderExtension(id: 1, uri: "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        ]
        var o = offer([])
        o.description = .rtp(description)
        let ours = LocalTransport(ufrag: "lu", pwd: "lp", fingerprint: "AA:BB", ssrc: 0x1234_5678, cname: "agent@example.org")
        let a = try Negotiation.answer(o, transport: ours).get()
        #expect(a.rtp?.headerExtensions.isEmpty == true)
        let source = try #require(a.rtp?.sources.first)
        #expect(source.ssrc == 0x1234_5678 && source.parameter("cname") == "agent@example.org")
        #expect(Negotiation.offer(transport: ours).rtp?.sources.first?.ssrc == 0x1234_5678)
    }

    @Test func offersComeInABundleGroup() {
        let c = Negotiation.offer(transport: local)
        let groups = Negotiation.bundle([c])
        #expect(groups == [Group(semantics: "BUNDLE", contents: ["audio"])])
    }
}
