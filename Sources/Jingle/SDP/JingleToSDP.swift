/// The Jingle <-> SDP mapping of XEP-0167 §6-7, XEP-0176 §10, XEP-0177 §5, XEP-0320 §4,
/// XEP-0293 §4, XEP-0294 §4, XEP-0338 §3 and XEP-0339 §3, for RTP contents.
///
/// Senders map to directions from the point of view of `party`, the session role whose
/// description the SDP is: `senders == party` is `sendonly`, the other role `recvonly`.
///
/// Jingle -> SDP -> Jingle gives back the same RTP description, ICE-UDP transport and groups.
/// The forms chosen where SDP has no direct one:
/// - raw UDP (XEP-0177): component 1 is `c=` and the `m=` port, component 2 `a=rtcp`; candidate
///   ids, generations and types have no SDP form and come back as `<mid>-raw1`/`-raw2`, 0, nil.
/// - description `ssrc`: a bare `a=ssrc:<n>` before any other ssrc line of the section.
/// - `<encryption required='1'>`: the `RTP/SAVPF` profile (without DTLS); other SDES keying is
///   best-effort `a=crypto` under `RTP/AVPF`, so `required='0'` comes back absent.
/// - a payload type without clock rate: no `a=rtpmap` for an RFC 3551 static type named as in
///   RFC 3551, else an `a=rtpmap:<id> <name>` without clock rate (not valid RFC 8866: there is
///   no valid form for it).
/// - an `a=fmtp` value without `name=` (RFC 2198 `111/111`, RFC 4733 `0-15`): a parameter with an
///   empty name, `<parameter name='' value='0-15'/>`, the form libwebrtc keeps internally and the
///   one Conversations writes back as `a=fmtp:<id> 0-15`; `name=` with an empty value stays `name=`.
/// - TCP candidates (RFC 6544 `tcp ... tcptype`): XEP-0176 has no form for them; SDP -> Jingle
///   reports them unmapped and Jingle -> SDP does not write them (Conversations does both). So is
///   a candidate whose `ufrag` extension is not the section's `a=ice-ufrag` (an older ICE generation).
/// - `ptime`/`maxptime`: SDP has one value per media; it goes back to every payload type, so
///   payload types with different (or missing) ptimes all come back with the first one found.
/// Not carried: non-RTP descriptions, other transports, unknown XML children and attributes.
/// `notCarried(by:)` lists what a given Jingle action would lose; SDP -> Jingle reports every
/// line it could not carry in `SDPToJingleResult.unmappedLines`.
public enum SDPMapping {
    /// The SDP describing `party`'s side of the RTP contents of `jingle` (an offer for
    /// session-initiate/content-add, an answer for session-accept/content-accept).
    public static func sessionDescription(from jingle: JingleElement, party: Creator, sessionVersion: String = "2") -> SessionDescription {
        var sdp = SessionDescription(origin: SDPOrigin(sessionID: numericSessionID(jingle.sid), sessionVersion: sessionVersion))
        for g in jingle.groups {
            sdp.lines.append(.attribute("group", ([g.semantics] + g.contents.map(\.rawValue)).joined(separator: " ")))
        }
        for content in jingle.contents {
            guard let rtp = content.rtp else { continue }
            sdp.media.append(mediaDescription(content: content, rtp: rtp, party: party))
        }
        return sdp
    }

    static func numericSessionID(_ sid: String) -> String {
        // A stable decimal id from the sid (FNV-1a), as o= wants digits.
        var h: UInt64 = 0xcbf29ce484222325
        for b in sid.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return String(h >> 1)
    }

    static func direction(_ senders: Senders, party: Creator) -> String {
        switch senders {
        case .both: "sendrecv"
        case .none: "inactive"
        case .initiator: party == .initiator ? "sendonly" : "recvonly"
        case .responder: party == .responder ? "sendonly" : "recvonly"
        }
    }

    static func mediaDescription(content: Content, rtp: RTPDescription, party: Creator) -> MediaDescription {
        let ice = content.transport?.iceUDP
        let proto: String
        if let ice, !ice.fingerprints.isEmpty {
            proto = "UDP/TLS/RTP/SAVPF"
        } else if rtp.encryption?.required == true {
            proto = "RTP/SAVPF"
        } else {
            proto = "RTP/AVPF"
        }
        var port: UInt16 = 9
        var connection = "IN IP4 0.0.0.0"
        var rtcp: String? = nil
        if case .rawUDP(let raw)? = content.transport, let c1 = raw.candidates.first(where: { $0.component == 1 }) {
            port = c1.port
            connection = "IN \(addressType(c1.ip)) \(c1.ip)"
            if let c2 = raw.candidates.first(where: { $0.component == 2 }) {
                rtcp = c2.ip == c1.ip ? String(c2.port) : "\(c2.port) IN \(addressType(c2.ip)) \(c2.ip)"
            }
        }
        var m = MediaDescription(media: rtp.media, port: port, proto: proto, formats: rtp.payloadTypes.map { String($0.id) })
        m.lines.append(SDPLine("c", connection))
        if let rtcp { m.lines.append(.attribute("rtcp", rtcp)) }
        for b in rtp.bandwidths { m.lines.append(SDPLine("b", "\(b.type):\(b.value)")) }
        if let ice {
            if let u = ice.ufrag { m.lines.append(.attribute("ice-ufrag", u)) }
            if let p = ice.pwd { m.lines.append(.attribute("ice-pwd", p)) }
            for fp in ice.fingerprints {
                m.lines.append(.attribute("fingerprint", "\(fp.hash) \(fp.value)"))
                if let s = fp.setup { m.lines.append(.attribute("setup", s.rawValue)) }
            }
        }
        m.lines.append(.attribute("mid", content.name.rawValue))
        for h in rtp.headerExtensions {
            var v = String(h.id)
            if let s = h.senders { v += "/" + direction(s, party: party) }
            v += " " + h.uri
            for p in h.parameters { v += " " + (p.value.map { "\(p.name)=\($0)" } ?? p.name) }
            m.lines.append(.attribute("extmap", v))
        }
        if rtp.extmapAllowMixed { m.lines.append(.attribute("extmap-allow-mixed")) }
        if let s = content.senders { m.lines.append(.attribute(direction(s, party: party))) }
        var msids: [String] = []
        for v in rtp.sources.compactMap({ $0.parameter("msid") }) where !msids.contains(v) { msids.append(v) }
        for v in msids { m.lines.append(.attribute("msid", v)) }
        if rtp.rtcpMux { m.lines.append(.attribute("rtcp-mux")) }
        for fb in rtp.feedback { m.lines.append(.attribute("rtcp-fb", "* " + feedbackValue(fb))) }
        if let trr = rtp.feedbackTRRInterval { m.lines.append(.attribute("rtcp-fb", "* trr-int \(trr.value)")) }
        for pt in rtp.payloadTypes {
            if let v = rtpmap(pt) { m.lines.append(.attribute("rtpmap", v)) }
            for fb in pt.feedback { m.lines.append(.attribute("rtcp-fb", "\(pt.id) " + feedbackValue(fb))) }
            if let trr = pt.feedbackTRRInterval { m.lines.append(.attribute("rtcp-fb", "\(pt.id) trr-int \(trr.value)")) }
            if !pt.parameters.isEmpty {
                let p = pt.parameters.map(fmtpParameter).joined(separator: ";")
                m.lines.append(.attribute("fmtp", "\(pt.id) \(p)"))
            }
        }
        if let ptime = rtp.payloadTypes.lazy.compactMap(\.ptime).first { m.lines.append(.attribute("ptime", String(ptime))) }
        if let maxptime = rtp.payloadTypes.lazy.compactMap(\.maxptime).first { m.lines.append(.attribute("maxptime", String(maxptime))) }
        if let enc = rtp.encryption {
            for c in enc.crypto {
                var v = "\(c.tag) \(c.cryptoSuite) \(c.keyParams)"
                if let s = c.sessionParams { v += " " + s }
                m.lines.append(.attribute("crypto", v))
            }
        }
        if let ssrc = rtp.ssrc { m.lines.append(.attribute("ssrc", String(ssrc))) }
        for g in rtp.sourceGroups {
            m.lines.append(.attribute("ssrc-group", ([g.semantics] + g.ssrcs.map { String($0) }).joined(separator: " ")))
        }
        for s in rtp.sources {
            if s.parameters.isEmpty { m.lines.append(.attribute("ssrc", String(s.ssrc))) }
            for p in s.parameters {
                m.lines.append(.attribute("ssrc", "\(s.ssrc) " + (p.value.map { "\(p.name):\($0)" } ?? p.name)))
            }
        }
        if let ice {
            for c in ice.candidates where c.protocol.lowercased() == "udp" { m.lines.append(.attribute("candidate", c.sdpValue)) }
            if let r = ice.remoteCandidate { m.lines.append(.attribute("remote-candidates", "\(r.component) \(r.ip) \(r.port)")) }
        }
        return m
    }

    /// One `a=fmtp` parameter: `name=value`, the bare value for a parameter without name
    /// (`<parameter name='' value='0-15'/>` is `0-15`), the bare name for one without value.
    static func fmtpParameter(_ p: Parameter) -> String {
        guard let value = p.value else { return p.name }
        return p.name.isEmpty ? value : "\(p.name)=\(value)"
    }

    /// `<type> [<subtype> [<param>...]]` (RFC 4585 §4.2); parameters are `name` or `name=value`.
    static func feedbackValue(_ fb: RTCPFeedback) -> String {
        var v = fb.subtype.map { "\(fb.type) \($0)" } ?? fb.type
        for p in fb.parameters { v += " " + (p.value.map { "\(p.name)=\($0)" } ?? p.name) }
        return v
    }

    /// The `a=rtpmap` value of a payload type; nil when it has none (see the type's notes).
    static func rtpmap(_ pt: PayloadType) -> String? {
        guard let name = pt.name else { return nil }
        if pt.clockrate == nil, pt.channels == nil, StaticPayloadTypes.entry(pt.id)?.name == name { return nil }
        var v = "\(pt.id) \(name)"
        if pt.clockrate != nil || pt.channels != nil { v += "/" + (pt.clockrate.map { String($0) } ?? "") }
        if let c = pt.channels { v += "/\(c)" }
        return v
    }

    static func addressType(_ ip: String) -> String { ip.contains(":") ? "IP6" : "IP4" }
}
