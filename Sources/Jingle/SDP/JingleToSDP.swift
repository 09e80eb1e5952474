/// The Jingle <-> SDP mapping of XEP-0167 §6, XEP-0176 §10, XEP-0320 §4, XEP-0293 §4,
/// XEP-0294 §4, XEP-0338 §3 and XEP-0339 §3, for RTP contents over ICE-UDP.
///
/// Senders map to directions from the point of view of `party`, the session role whose
/// description the SDP is: `senders == party` is `sendonly`, the other role `recvonly`.
/// Not carried: raw-udp transports, non-RTP descriptions, description `ssrc`, `<encryption required>`,
/// XEP-0293 rtcp-fb parameters, unknown XML children; SDP lines without a Jingle counterpart
/// (e.g. `a=rtcp`, `a=ice-options`, `a=msid`, `a=rtcp-rsize`) are dropped when mapping to Jingle.
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
        if let ice, !ice.fingerprints.isEmpty { proto = "UDP/TLS/RTP/SAVPF" }
        else if rtp.encryption != nil { proto = "RTP/SAVPF" }
        else { proto = "RTP/AVPF" }
        var m = MediaDescription(media: rtp.media, port: 9, proto: proto, formats: rtp.payloadTypes.map { String($0.id) })
        m.lines.append(SDPLine("c", "IN IP4 0.0.0.0"))
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
        if rtp.rtcpMux { m.lines.append(.attribute("rtcp-mux")) }
        for fb in rtp.feedback { m.lines.append(.attribute("rtcp-fb", "* " + feedbackValue(fb))) }
        if let trr = rtp.feedbackTRRInterval { m.lines.append(.attribute("rtcp-fb", "* trr-int \(trr.value)")) }
        for pt in rtp.payloadTypes {
            if let name = pt.name {
                var v = "\(pt.id) \(name)/\(pt.clockrate ?? 8000)"
                if let c = pt.channels { v += "/\(c)" }
                m.lines.append(.attribute("rtpmap", v))
            }
            for fb in pt.feedback { m.lines.append(.attribute("rtcp-fb", "\(pt.id) " + feedbackValue(fb))) }
            if let trr = pt.feedbackTRRInterval { m.lines.append(.attribute("rtcp-fb", "\(pt.id) trr-int \(trr.value)")) }
            if !pt.parameters.isEmpty {
                let p = pt.parameters.map { ($0.value ?? "").isEmpty ? $0.name : "\($0.name)=\($0.value ?? "")" }.joined(separator: ";")
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
            for c in ice.candidates { m.lines.append(.attribute("candidate", c.sdpValue)) }
            if let r = ice.remoteCandidate { m.lines.append(.attribute("remote-candidates", "\(r.component) \(r.ip) \(r.port)")) }
        }
        return m
    }

    static func feedbackValue(_ fb: RTCPFeedback) -> String {
        fb.subtype.map { "\(fb.type) \($0)" } ?? fb.type
    }
}
