import Jingle
import Testing
import XMLStream
import XMPPCore

/// RFC 2198 redundant Opus (`red`) in offers and answers: accepted only when our policy has it and
/// it names Opus payload types the answer accepts; never required; mapped to and from SDP as
/// libwebrtc writes it (`a=rtpmap:63 red/48000/2`, `a=fmtp:63 111/111`).
@Suite struct RedundantAudioNegotiationTests {
    let local = LocalTransport(ufrag: "lu", pwd: "lp", fingerprint: "AA:BB")
    static let opus = PayloadType(
        id: 111, name: "opus", clockrate: 48000, channels: 2,
        parameters: [Parameter(name: "minptime", value: "10"), Parameter(name: "useinbandfec", value: "1")])
    static func red(_ id: UInt8 = 63, _ fmtp: String? = "111/111") -> PayloadType {
        PayloadType(id: id, name: "red", clockrate: 48000, channels: 2, parameters: fmtp.map { [Parameter(name: "", value: $0)] } ?? [])
    }
    static let withRED = MediaPolicy(audioCodecs: [opus, Negotiation.redundantOpus])

    func offer(_ codecs: [PayloadType]) -> Content {
        Content(
            creator: .initiator, name: "audio", senders: .both,
            description: .rtp(RTPDescription(media: "audio", payloadTypes: codecs, rtcpMux: true)),
            transport: .iceUDP(
                ICEUDPTransport(
                    ufrag: "u", pwd: "p",
                    fingerprints: [Fingerprint(hash: "sha-256", setup: .actpass, value: "CC:DD")])))
    }

    func answeredIDs(_ codecs: [PayloadType], policy: MediaPolicy = withRED) throws -> [UInt8] {
        try #require(Negotiation.answer(offer(codecs), policy: policy, transport: local).get().rtp).payloadTypes.map(\.id)
    }

    /// Chrome offers opus then red; the answer leads with red, so libwebrtc sends RED to us.
    @Test func offerWithREDAndOpusIsAnsweredWithBothREDFirst() throws {
        let a = try Negotiation.answer(offer([Self.opus, Self.red()]), policy: Self.withRED, transport: local).get()
        let types = try #require(a.rtp?.payloadTypes)
        #expect(types.map(\.id) == [63, 111])
        #expect(types[0] == Self.red(), "answered as offered: name, clock rate, channels and the 111/111 parameter")
        #expect(Negotiation.redundantPayloadTypes(types[0]) == [111, 111])
    }

    /// RED offered before Opus stays before it, and other payload types keep the offer's order.
    @Test func redLeadsTheOpusItCarries() throws {
        let pcmu = PayloadType(id: 0, name: "PCMU", clockrate: 8000)
        #expect(
            try answeredIDs(
                [pcmu, Self.opus, Self.red()],
                policy: MediaPolicy(audioCodecs: [Self.opus, Negotiation.redundantOpus, pcmu])) == [0, 63, 111])
        #expect(
            try answeredIDs(
                [Self.opus, pcmu, Self.red()],
                policy: MediaPolicy(audioCodecs: [Self.opus, Negotiation.redundantOpus, pcmu])) == [63, 111, 0])
    }

    @Test func redKeepsItsPlaceBeforeOpus() throws {
        #expect(
            try answeredIDs(
                [Self.red(), Self.opus, PayloadType(id: 101, name: "telephone-event", clockrate: 48000)],
                policy: MediaPolicy(audioCodecs: [
                    Self.opus, Negotiation.redundantOpus,
                    PayloadType(id: 101, name: "telephone-event", clockrate: 48000),
                ]))
                == [63, 111, 101])
    }

    /// The offerer's ids are kept: RED 96 naming Opus 109 is accepted when Opus 109 is.
    @Test func offerersIDsAreKept() throws {
        let opus109 = PayloadType(id: 109, name: "opus", clockrate: 48000, channels: 2)
        #expect(try answeredIDs([opus109, Self.red(96, "109/109")]) == [96, 109])
        #expect(try answeredIDs([opus109, Self.red(96, "109")]) == [96, 109])
    }

    @Test func redNamingAPayloadTypeNotAcceptedIsLeftOut() throws {
        // 112 is not in the offer.
        #expect(try answeredIDs([Self.opus, Self.red(63, "112/112")]) == [111])
        // 0 (PCMU) is in the offer but not Opus, and our policy lacks it anyway.
        #expect(try answeredIDs([Self.opus, PayloadType(id: 0, name: "PCMU", clockrate: 8000), Self.red(63, "0/0")]) == [111])
        // One of the blocks is not Opus.
        #expect(try answeredIDs([Self.opus, Self.red(63, "111/112")]) == [111])
        // No format parameter, or one that is not a list of payload types.
        for fmtp in [nil, "", "111/", "opus/opus", "111/200", "111 111"] as [String?] {
            #expect(try answeredIDs([Self.opus, Self.red(63, fmtp)]) == [111], "\(String(describing: fmtp))")
        }
    }

    @Test func offerWithoutREDGetsNone() throws {
        #expect(try answeredIDs([Self.opus]) == [111])
    }

    /// RED alone is no codec; a policy without RED never answers it; the default offers it after
    /// Opus and answers it when offered.
    @Test func redIsNeverRequiredAndIsInTheDefaults() throws {
        if case .failure(let r) = Negotiation.answer(offer([Self.red()]), policy: Self.withRED, transport: local) {
            #expect(r.condition == .incompatibleParameters)
        } else {
            Issue.record("RED alone was accepted")
        }
        let withoutRED = MediaPolicy(audioCodecs: Negotiation.defaultAudioCodecs.filter { $0.name != "red" })
        #expect(try answeredIDs([Self.opus, Self.red()], policy: withoutRED) == [111])
        let names = Negotiation.defaultAudioCodecs.compactMap(\.name)
        #expect(names.prefix(2) == ["opus", "red"], "RED right after Opus: \(names)")
        #expect(try answeredIDs([Self.opus, Self.red()], policy: MediaPolicy()) == [63, 111])
    }

    @Test func formatParameterParsing() {
        #expect(Negotiation.redundantPayloadTypes(Self.red(63, "111/111/111")) == [111, 111, 111])
        #expect(Negotiation.redundantPayloadTypes(Self.red(63, " 111 / 111 ")) == [111, 111])
        #expect(Negotiation.redundantPayloadTypes(Self.red(63, nil)) == nil)
        #expect(
            Negotiation.redundantPayloadTypes(PayloadType(id: 63, name: "red", parameters: [Parameter(name: "x", value: "111/111")])) == nil
        )
    }

    /// A Chromium offer with RED mapped to Jingle, answered, and the answer written back as SDP:
    /// the RED lines are the ones libwebrtc wrote, red leading (libwebrtc sends its first codec).
    @Test func chromiumOfferThroughSDP() throws {
        let text = SDPConversationsMappingTests.chromiumAudioOffer(
            formats: [111, 63], codecLines: SDPConversationsMappingTests.opusLines + ["a=rtpmap:63 red/48000/2", "a=fmtp:63 111/111"])
        let jingle = try SDPConversationsMappingTests.map(text).jingle
        let offered = try #require(jingle.contents.first)
        #expect(offered.rtp?.payloadTypes.first { $0.id == 63 } == Self.red())
        let answer = try Negotiation.answer(offered, policy: Self.withRED, transport: local).get()
        let accept = JingleElement(action: .sessionAccept, sid: "s", contents: [answer])
        let sdp = try SessionDescription(parsing: SDPMapping.sessionDescription(from: accept, party: .responder).description)
        #expect(sdp.media[0].attributes("rtpmap") == ["63 red/48000/2", "111 opus/48000/2"])
        #expect(sdp.media[0].attributes("fmtp") == ["63 111/111", "111 minptime=10;useinbandfec=1"])
    }

    /// Our offer with RED in the policy writes the same lines.
    @Test func ourOfferWithREDInSDP() throws {
        let content = Negotiation.offer(policy: Self.withRED, transport: local)
        let initiate = JingleElement(action: .sessionInitiate, sid: "s", contents: [content])
        let xml = XMLSerializer.serialize(Negotiation.redundantOpus.element)
        #expect(
            xml == "<payload-type xmlns='urn:xmpp:jingle:apps:rtp:1' id='63' name='red' clockrate='48000' channels='2'>"
                + "<parameter name='' value='111/111'/></payload-type>")
        let sdp = try SessionDescription(parsing: SDPMapping.sessionDescription(from: initiate, party: .initiator).description)
        #expect(sdp.media[0].attributes("rtpmap").contains("63 red/48000/2"))
        #expect(sdp.media[0].attributes("fmtp").contains("63 111/111"))
    }
}
