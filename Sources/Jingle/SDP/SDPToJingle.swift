import XMPPCore

extension SDPMapping {
    /// The Jingle action whose contents the SDP describes: `party` is the session role that
    /// produced the SDP, `creator` the creator of its contents. Session-level ICE credentials,
    /// fingerprints and setup (as Firefox sends them) apply to every media section.
    public static func jingle(from sdp: SessionDescription, action: JingleAction, sid: String, party: Creator,
                              creator: Creator = .initiator, initiator: JID? = nil, responder: JID? = nil) throws(SDPParseError) -> JingleElement {
        var j = JingleElement(action: action, sid: sid, initiator: initiator, responder: responder)
        for g in sdp.attributes("group") {
            let f = g.split(separator: " ").map(String.init)
            guard let semantics = f.first else { throw SDPParseError(line: 0, reason: "a=group without semantics") }
            j.groups.append(Group(semantics: semantics, contents: f.dropFirst().map(ContentName.init(rawValue:))))
        }
        let sessionLevel = SessionLevel(sdp)
        for (index, m) in sdp.media.enumerated() {
            j.contents.append(try content(m, index: index, session: sessionLevel, party: party, creator: creator))
        }
        return j
    }

    struct SessionLevel {
        var ufrag: String?
        var pwd: String?
        var fingerprints: [String]
        var setup: String?
        var extmapAllowMixed: Bool

        init(_ sdp: SessionDescription) {
            ufrag = sdp.attributes("ice-ufrag").first
            pwd = sdp.attributes("ice-pwd").first
            fingerprints = sdp.attributes("fingerprint")
            setup = sdp.attributes("setup").first
            extmapAllowMixed = !sdp.attributes("extmap-allow-mixed").isEmpty
        }
    }

    static func senders(direction: String, party: Creator) -> Senders? {
        let other: Creator = party == .initiator ? .responder : .initiator
        switch direction {
        case "sendrecv": return .both
        case "inactive": return Senders.none
        case "sendonly": return party == .initiator ? .initiator : .responder
        case "recvonly": return other == .initiator ? .initiator : .responder
        default: return nil
        }
    }

    static func content(_ m: MediaDescription, index: Int, session: SessionLevel, party: Creator,
                        creator: Creator) throws(SDPParseError) -> Content {
        func bad(_ why: String) -> SDPParseError { SDPParseError(line: 0, reason: "m=\(m.media) section \(index): \(why)") }
        let name = ContentName(m.attributes("mid").first ?? String(index))
        var rtp = RTPDescription(media: m.media)
        var senders: Senders? = nil
        var payloads: [UInt8: PayloadType] = [:]
        var order: [UInt8] = []
        for f in m.formats {
            guard let id = UInt8(f), id <= 127 else { throw bad("invalid payload type '\(f)'") }
            payloads[id] = PayloadType(id: id)
            order.append(id)
        }
        var ice = ICEUDPTransport(ufrag: session.ufrag, pwd: session.pwd)
        var fingerprints: [String] = []
        var setup = session.setup
        var ptime: UInt32? = nil
        var maxptime: UInt32? = nil
        var sources: [Source] = []
        func pt(_ s: Substring) throws(SDPParseError) -> UInt8 {
            guard let id = UInt8(s), payloads[id] != nil else { throw bad("attribute for unknown payload type '\(s)'") }
            return id
        }
        rtp.extmapAllowMixed = session.extmapAllowMixed
        for line in m.lines {
            if line.type == "b" {
                let parts = line.value.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw bad("invalid b= line '\(line.value)'") }
                rtp.bandwidths.append(Bandwidth(type: parts[0], value: parts[1]))
                continue
            }
            guard let (attr, value) = line.attribute else { continue }
            let v = value ?? ""
            let words = v.split(separator: " ", omittingEmptySubsequences: true)
            switch attr {
            case "sendrecv", "sendonly", "recvonly", "inactive": senders = Self.senders(direction: attr, party: party)
            case "rtcp-mux": rtp.rtcpMux = true
            case "extmap-allow-mixed": rtp.extmapAllowMixed = true
            case "ice-ufrag": ice.ufrag = v
            case "ice-pwd": ice.pwd = v
            case "fingerprint": fingerprints.append(v)
            case "setup": setup = v
            case "ptime": ptime = UInt32(v)
            case "maxptime": maxptime = UInt32(v)
            case "rtpmap":
                guard words.count == 2 else { throw bad("invalid rtpmap '\(v)'") }
                let id = try pt(words[0])
                let enc = words[1].split(separator: "/").map(String.init)
                guard enc.count >= 2, let clock = UInt32(enc[1]) else { throw bad("invalid rtpmap '\(v)'") }
                payloads[id]?.name = enc[0]
                payloads[id]?.clockrate = clock
                if enc.count >= 3 {
                    guard let ch = UInt8(enc[2]) else { throw bad("invalid rtpmap channels '\(v)'") }
                    payloads[id]?.channels = ch
                }
            case "fmtp":
                guard let first = words.first else { throw bad("empty fmtp") }
                let id = try pt(first)
                let rest = v.dropFirst(first.count).drop { $0 == " " }
                for p in rest.split(separator: ";") {
                    let kv = p.trimmingCharacters(" ")
                    guard !kv.isEmpty else { continue }
                    if let eq = kv.firstIndex(of: "=") {
                        payloads[id]?.parameters.append(Parameter(name: String(kv[..<eq]), value: String(kv[kv.index(after: eq)...])))
                    } else {
                        payloads[id]?.parameters.append(Parameter(name: String(kv), value: ""))
                    }
                }
            case "rtcp-fb":
                guard words.count >= 2 else { throw bad("invalid rtcp-fb '\(v)'") }
                let isTRR = words[1] == "trr-int"
                var trr: RTCPFeedbackTRRInterval? = nil
                if isTRR {
                    guard words.count == 3, let n = UInt32(words[2]) else { throw bad("invalid trr-int '\(v)'") }
                    trr = RTCPFeedbackTRRInterval(value: n)
                }
                let fb = RTCPFeedback(type: String(words[1]), subtype: words.count > 2 ? words[2...].joined(separator: " ") : nil)
                if words[0] == "*" {
                    if let trr { rtp.feedbackTRRInterval = trr } else { rtp.feedback.append(fb) }
                } else {
                    let id = try pt(words[0])
                    if let trr { payloads[id]?.feedbackTRRInterval = trr } else { payloads[id]?.feedback.append(fb) }
                }
            case "extmap":
                guard words.count >= 2 else { throw bad("invalid extmap '\(v)'") }
                let idDir = words[0].split(separator: "/")
                guard let id = UInt16(idDir[0]) else { throw bad("invalid extmap id '\(v)'") }
                var h = HeaderExtension(id: id, uri: String(words[1]))
                if idDir.count == 2 { h.senders = Self.senders(direction: String(idDir[1]), party: party) }
                for p in words.dropFirst(2) {
                    if let eq = p.firstIndex(of: "=") {
                        h.parameters.append(Parameter(name: String(p[..<eq]), value: String(p[p.index(after: eq)...])))
                    } else {
                        h.parameters.append(Parameter(name: String(p), value: nil))
                    }
                }
                rtp.headerExtensions.append(h)
            case "ssrc":
                guard let first = words.first, let ssrc = UInt32(first) else { throw bad("invalid ssrc '\(v)'") }
                let rest = v.dropFirst(first.count).drop { $0 == " " }
                let at: Int
                if let existing = sources.firstIndex(where: { $0.ssrc == ssrc }) { at = existing } else {
                    sources.append(Source(ssrc: ssrc))
                    at = sources.count - 1
                }
                if !rest.isEmpty {
                    let param: Parameter
                    if let colon = rest.firstIndex(of: ":") {
                        param = Parameter(name: String(rest[..<colon]), value: String(rest[rest.index(after: colon)...]))
                    } else {
                        param = Parameter(name: String(rest), value: nil)
                    }
                    sources[at].parameters.append(param)
                }
            case "ssrc-group":
                guard let sem = words.first else { throw bad("invalid ssrc-group") }
                var ids: [UInt32] = []
                for w in words.dropFirst() {
                    guard let n = UInt32(w) else { throw bad("invalid ssrc-group '\(v)'") }
                    ids.append(n)
                }
                rtp.sourceGroups.append(SourceGroup(semantics: String(sem), ssrcs: ids))
            case "crypto":
                guard words.count >= 3 else { throw bad("invalid crypto '\(v)'") }
                let c = Crypto(cryptoSuite: String(words[1]), keyParams: String(words[2]),
                               sessionParams: words.count > 3 ? words[3...].joined(separator: " ") : nil, tag: String(words[0]))
                if rtp.encryption == nil { rtp.encryption = Encryption(crypto: []) }
                rtp.encryption?.crypto.append(c)
            case "candidate":
                var c = try Candidate(sdpValue: v, fallbackID: "\(name.rawValue)-c\(ice.candidates.count)")
                if c.id.isEmpty { c.id = "c\(ice.candidates.count)" }
                ice.candidates.append(c)
            case "remote-candidates":
                guard words.count >= 3, let comp = UInt8(words[0]), let port = UInt16(words[2]) else { throw bad("invalid remote-candidates '\(v)'") }
                ice.remoteCandidate = RemoteCandidate(component: comp, ip: String(words[1]), port: port)
            default: continue
            }
        }
        for fp in (fingerprints.isEmpty ? session.fingerprints : fingerprints) {
            let f = fp.split(separator: " ", maxSplits: 1).map(String.init)
            guard f.count == 2 else { throw bad("invalid fingerprint '\(fp)'") }
            var setupRole: DTLSSetup? = nil
            if let setup {
                guard let s = DTLSSetup(rawValue: setup) else { throw bad("invalid setup '\(setup)'") }
                setupRole = s
            }
            ice.fingerprints.append(Fingerprint(hash: f[0], setup: setupRole, value: f[1]))
        }
        rtp.payloadTypes = order.compactMap { payloads[$0] }.map { p in
            var p = p
            if ptime != nil { p.ptime = ptime }
            if maxptime != nil { p.maxptime = maxptime }
            return p
        }
        rtp.sources = sources
        let hasICE = ice.ufrag != nil || ice.pwd != nil || !ice.candidates.isEmpty || !ice.fingerprints.isEmpty
        return Content(creator: creator, name: name, senders: senders, description: .rtp(rtp),
                       transport: hasICE ? .iceUDP(ice) : nil)
    }
}

extension Substring {
    func trimmingCharacters(_ c: Character) -> Substring {
        var s = self
        while s.first == c { s.removeFirst() }
        while s.last == c { s.removeLast() }
        return s
    }
}
