/// The DTLS role a party ends up with (RFC 5763 §5, XEP-0320 §3): `active` is the DTLS client.
public enum DTLSRole: String, Sendable, Hashable {
    case client, server
}

/// What a party supports and requires when it offers or answers RTP contents (XEP-0167 §5
/// payload types, XEP-0320 DTLS fingerprints).
public struct MediaPolicy: Sendable, Hashable {
    /// Codecs we can use, in preference order; ids are ours for offers, the offerer's are kept in answers.
    public var audioCodecs: [PayloadType]
    /// Refuse contents without a DTLS fingerprint (XEP-0320); on by default.
    public var requireDTLS: Bool

    public init(audioCodecs: [PayloadType] = Negotiation.defaultAudioCodecs, requireDTLS: Bool = true) {
        self.audioCodecs = audioCodecs
        self.requireDTLS = requireDTLS
    }
}

/// Our local transport credentials for one content: ICE (XEP-0176) and the DTLS fingerprint
/// (XEP-0320), and the RTP source we will send from (XEP-0339), when it is known.
public struct LocalTransport: Sendable, Hashable {
    public var ufrag: String
    public var pwd: String
    public var fingerprintHash: String
    public var fingerprint: String?
    /// Our RTP SSRC and its RTCP CNAME (RFC 3550 §6.5.1), announced as a `<source/>` so a peer
    /// that demultiplexes by SSRC (libwebrtc inside a BUNDLE group) knows the stream is ours.
    public var ssrc: UInt32?
    public var cname: String?

    public init(
        ufrag: String, pwd: String, fingerprintHash: String = "sha-256", fingerprint: String?,
        ssrc: UInt32? = nil, cname: String? = nil
    ) {
        self.ufrag = ufrag
        self.pwd = pwd
        self.fingerprintHash = fingerprintHash
        self.fingerprint = fingerprint
        self.ssrc = ssrc
        self.cname = cname
    }

    /// The XEP-0339 sources that announce `ssrc` (with its `cname`), or none.
    var sources: [Source] {
        guard let ssrc else { return [] }
        return [Source(ssrc: ssrc, parameters: cname.map { [Parameter(name: "cname", value: $0)] } ?? [])]
    }
}

/// Offer/answer for RTP contents (XEP-0167 §5 with RFC 3264 §6 rules): codec intersection by
/// name (case-insensitive), clock rate and channels, each accepted payload type answered exactly
/// as offered (id and parameters; RFC 3264 §6.1: nothing the offer lacked); telephone-event
/// (RFC 4733) at every offered clock rate we support; RFC 2198 redundancy (`red`) only when the
/// policy has it and its format parameter names only Opus payload types the answer accepts;
/// no RTP header extension in the answer that
/// we do not send (RFC 8285 §6); our SSRC announced (XEP-0339); offers in a BUNDLE group
/// (XEP-0338, RFC 8843); DTLS roles actpass/active/passive (RFC 5763 §5).
public enum Negotiation {
    /// Opus 48000/2 with in-band FEC (RFC 7587), RED over it (RFC 2198), PCMU, telephone-event
    /// at 48000 and 8000.
    public static let defaultAudioCodecs: [PayloadType] = [
        PayloadType(
            id: 111, name: "opus", clockrate: 48000, channels: 2,
            parameters: [Parameter(name: "minptime", value: "10"), Parameter(name: "useinbandfec", value: "1")]),
        redundantOpus,
        PayloadType(id: 0, name: "PCMU", clockrate: 8000),
        PayloadType(id: 101, name: "telephone-event", clockrate: 48000, parameters: [Parameter(name: "", value: "0-15")]),
        PayloadType(id: 126, name: "telephone-event", clockrate: 8000, parameters: [Parameter(name: "", value: "0-15")]),
    ]

    /// RFC 2198 redundant Opus as libwebrtc offers it (`a=rtpmap:63 red/48000/2`,
    /// `a=fmtp:63 111/111`: each packet's blocks are Opus 111). Offered after Opus by default
    /// (as Chrome does: a peer that sends its first codec sends plain Opus), answered before it
    /// when a peer offers it (so libwebrtc sends RED to us); the media session takes RED packets
    /// and sends redundancy when the loss the peer reports calls for it. Its format parameter
    /// must name the policy's Opus id.
    public static let redundantOpus = PayloadType(
        id: 63, name: "red", clockrate: 48000, channels: 2,
        parameters: [Parameter(name: "", value: "111/111")])

    static func isTelephoneEvent(_ p: PayloadType) -> Bool { p.name?.lowercased() == "telephone-event" }
    static func isRedundancy(_ p: PayloadType) -> Bool { p.name?.lowercased() == "red" }

    /// The payload types a `red` payload type's format parameter names, one per block (RFC 2198
    /// §5: `<parameter name='' value='111/111'/>`, SDP `a=fmtp:63 111/111`); nil when there is
    /// none or it is not a list of payload types (0...127).
    public static func redundantPayloadTypes(_ p: PayloadType) -> [UInt8]? {
        guard let value = p.parameters.first(where: { $0.name.isEmpty })?.value else { return nil }
        var ids: [UInt8] = []
        for part in value.split(separator: "/", omittingEmptySubsequences: false) {
            guard let id = UInt8(String(part).trimmingSpaces), id <= 127 else { return nil }
            ids.append(id)
        }
        return ids.isEmpty ? nil : ids
    }

    /// RFC 3551 static payload types have a known clock rate when the offer leaves it out.
    static func clockrate(_ p: PayloadType) -> UInt32? {
        p.clockrate ?? StaticPayloadTypes.entry(p.id)?.clockrate
    }

    /// Whether two payload types describe the same codec.
    public static func matches(_ a: PayloadType, _ b: PayloadType) -> Bool {
        guard let an = a.name, let bn = b.name else { return a.id == b.id && a.id < 96 }
        return an.lowercased() == bn.lowercased() && clockrate(a) == clockrate(b) && a.channelCount == b.channelCount
    }

    /// Our offer for one audio content.
    public static func offer(
        name: ContentName = "audio", policy: MediaPolicy = .init(), transport: LocalTransport,
        senders: Senders = .both
    ) -> Content {
        let fp = transport.fingerprint.map { Fingerprint(hash: transport.fingerprintHash, setup: .actpass, value: $0) }
        return Content(
            creator: .initiator, name: name, senders: senders,
            description: .rtp(
                RTPDescription(
                    media: "audio", payloadTypes: policy.audioCodecs, rtcpMux: true,
                    sources: transport.sources)),
            transport: .iceUDP(ICEUDPTransport(ufrag: transport.ufrag, pwd: transport.pwd, fingerprints: fp.map { [$0] } ?? [])))
    }

    /// The setup we answer with: the offerer's `actpass` gets `active` (RFC 8842 §5.5).
    public static func answerSetup(to offered: DTLSSetup) -> DTLSSetup? {
        switch offered {
        case .actpass, .passive: .active
        case .active: .passive
        case .holdconn: nil
        }
    }

    /// Our DTLS role once both setups are known; nil when they do not fit together.
    public static func dtlsRole(local: DTLSSetup, remote: DTLSSetup) -> DTLSRole? {
        switch (local, remote) {
        case (.active, .passive), (.active, .actpass): .client
        case (.passive, .active), (.actpass, .active): .server
        default: nil
        }
    }

    /// The BUNDLE group (XEP-0338, RFC 8843 §7) our offers put their contents in: every content
    /// shares one transport, as libwebrtc's `max-bundle` policy requires.
    public static func bundle(_ contents: [Content]) -> [Group] {
        contents.isEmpty ? [] : [Group(semantics: "BUNDLE", contents: contents.map(\.name))]
    }

    /// Our answer to one offered content, or the reason to refuse it.
    public static func answer(_ offered: Content, policy: MediaPolicy = .init(), transport: LocalTransport) -> Result<Content, Reason> {
        guard let rtp = offered.rtp else { return .failure(Reason(.unsupportedApplications)) }
        guard case .iceUDP(let ice)? = offered.transport else { return .failure(Reason(.unsupportedTransports)) }
        var setup: DTLSSetup? = nil
        if let fp = ice.fingerprints.first {
            guard let s = answerSetup(to: fp.setup ?? .actpass) else {
                return .failure(Reason(.incompatibleParameters, text: "DTLS setup holdconn"))
            }
            setup = s
        } else if policy.requireDTLS {
            return .failure(Reason(.failedApplication, text: "DTLS-SRTP required"))
        }
        // Each payload type we accept is answered as the offer wrote it: a peer may compare the
        // answer's parameters with its offer (Dino does), and an answer adds none of its own.
        var chosen: [PayloadType] = []
        // RTCP feedback (XEP-0293) is left out: we send no transport-cc or NACK feedback.
        func answered(_ p: PayloadType) -> PayloadType {
            var a = p
            a.feedback = []
            a.feedbackTRRInterval = nil
            return a
        }
        func supported(_ p: PayloadType) -> Bool { policy.audioCodecs.contains { matches($0, p) } }
        let codecs = rtp.payloadTypes.filter { !isTelephoneEvent($0) && !isRedundancy($0) && supported($0) }
        guard !codecs.isEmpty else { return .failure(Reason(.incompatibleParameters, text: "no codec in common")) }
        // RED is accepted only when every block it announces is an Opus payload type we accept;
        // it is never required. An accepted RED is answered first, ahead of the Opus it carries:
        // the peer then prefers it, and libwebrtc (Chrome offers red after opus) sends RED only
        // when it leads the answer. Our own sending does not depend on the order (Opus by name,
        // redundancy as the loss calls for it).
        let opus = Set(codecs.filter { $0.name?.lowercased() == "opus" }.map(\.id))
        var redundancy: [PayloadType] = []
        for p in rtp.payloadTypes where !isTelephoneEvent(p) {
            if isRedundancy(p) {
                guard supported(p), let blocks = redundantPayloadTypes(p), blocks.allSatisfy(opus.contains) else { continue }
                redundancy.append(answered(p))
            } else if supported(p) {
                chosen.append(answered(p))
            }
        }
        if !redundancy.isEmpty {
            chosen.insert(contentsOf: redundancy, at: chosen.firstIndex { opus.contains($0.id) } ?? 0)
        }
        for p in rtp.payloadTypes where isTelephoneEvent(p) && policy.audioCodecs.contains(where: { matches($0, p) }) {
            chosen.append(answered(p))
        }
        // No header extensions: we send none (RFC 8285 §6: answer only what will be used; a
        // negotiated MID that never comes makes libwebrtc drop our packets inside BUNDLE).
        let description = RTPDescription(
            media: rtp.media, payloadTypes: chosen, rtcpMux: rtp.rtcpMux,
            sources: transport.sources)
        var t = ICEUDPTransport(ufrag: transport.ufrag, pwd: transport.pwd)
        if let setup, let value = transport.fingerprint {
            t.fingerprints = [Fingerprint(hash: transport.fingerprintHash, setup: setup, value: value)]
        }
        return .success(
            Content(
                creator: offered.creator, name: offered.name, senders: offered.senders,
                description: .rtp(description), transport: .iceUDP(t)))
    }

    /// Our session-accept for a session-initiate, or the reason to terminate: contents that cannot
    /// be answered are left out; when none can, the first refusal's reason is returned.
    public static func accept(
        _ initiate: JingleElement, policy: MediaPolicy = .init(),
        transport: (ContentName) -> LocalTransport
    ) -> Result<JingleElement, Reason> {
        var accepted: [Content] = []
        var firstFailure: Reason? = nil
        for c in initiate.contents {
            switch answer(c, policy: policy, transport: transport(c.name)) {
            case .success(let a): accepted.append(a)
            case .failure(let r): firstFailure = firstFailure ?? r
            }
        }
        guard !accepted.isEmpty else { return .failure(firstFailure ?? Reason(.failedApplication)) }
        let names = Set(accepted.map(\.name))
        let groups = initiate.groups.map { g in
            Group(semantics: g.semantics, contents: g.contents.filter { names.contains($0) })
        }.filter { !$0.contents.isEmpty }
        return .success(
            JingleElement(
                action: .sessionAccept, sid: initiate.sid, initiator: initiate.initiator,
                contents: accepted, groups: groups))
    }
}

/// A refusal carries the XEP-0166 reason to terminate or reject with.
extension Reason: Error {}
