import XMPPCore

/// An SDP line the mapping to Jingle did not carry because Jingle has no form for it
/// (e.g. `a=ice-options:trickle`, `a=msid-semantic`, `a=rtcp-rsize`, `a=rtcp` next to ICE).
public struct UnmappedSDPLine: Sendable, Hashable, CustomStringConvertible {
    /// The index of the media description holding the line; nil for a session-level line.
    public var mediaIndex: Int?
    /// The `a=mid` of that media description, when it has one.
    public var mid: String?
    public var line: SDPLine

    public init(mediaIndex: Int?, mid: String?, line: SDPLine) {
        self.mediaIndex = mediaIndex
        self.mid = mid
        self.line = line
    }

    public var description: String {
        guard let mediaIndex else { return "session: \(line)" }
        return "m[\(mediaIndex)]\(mid.map { " mid \($0)" } ?? ""): \(line)"
    }
}

/// The result of mapping SDP to Jingle: the action, and every line that was dropped because
/// it has no Jingle counterpart (`v=`, `o=`, `s=`, `t=` and `c=` are structure and never listed).
public struct SDPToJingleResult: Sendable, Hashable {
    public var jingle: JingleElement
    public var unmappedLines: [UnmappedSDPLine]

    public init(jingle: JingleElement, unmappedLines: [UnmappedSDPLine]) {
        self.jingle = jingle
        self.unmappedLines = unmappedLines
    }
}

extension SDPMapping {
    /// The Jingle action whose contents the SDP describes: `party` is the session role that
    /// produced the SDP, `creator` the creator of its contents. Session-level ICE credentials,
    /// fingerprints and setup (as Firefox sends them) apply to every media section.
    public static func jingle(
        from sdp: SessionDescription, action: JingleAction, sid: String, party: Creator,
        creator: Creator = .initiator, initiator: JID? = nil, responder: JID? = nil
    ) throws(SDPParseError) -> JingleElement {
        try map(sdp, action: action, sid: sid, party: party, creator: creator, initiator: initiator, responder: responder).jingle
    }

    /// Like `jingle(from:...)`, and also reports the SDP lines that have no Jingle form.
    public static func map(
        _ sdp: SessionDescription, action: JingleAction, sid: String, party: Creator,
        creator: Creator = .initiator, initiator: JID? = nil,
        responder: JID? = nil
    ) throws(SDPParseError) -> SDPToJingleResult {
        var j = JingleElement(action: action, sid: sid, initiator: initiator, responder: responder)
        var unmapped: [UnmappedSDPLine] = []
        for line in sdp.lines {
            guard let (name, value) = line.attribute else {
                if line.type != "t" && line.type != "c" { unmapped.append(UnmappedSDPLine(mediaIndex: nil, mid: nil, line: line)) }
                continue
            }
            switch name {
            case "group":
                let f = (value ?? "").split(separator: " ").map(String.init)
                guard let semantics = f.first else { throw SDPParseError(line: 0, reason: "a=group without semantics") }
                j.groups.append(Group(semantics: semantics, contents: f.dropFirst().map(ContentName.init(rawValue:))))
            case "ice-ufrag", "ice-pwd", "fingerprint", "setup", "extmap-allow-mixed": break
            default: unmapped.append(UnmappedSDPLine(mediaIndex: nil, mid: nil, line: line))
            }
        }
        let sessionLevel = SessionLevel(sdp)
        for (index, m) in sdp.media.enumerated() {
            let (content, dropped) = try content(m, index: index, session: sessionLevel, party: party, creator: creator)
            j.contents.append(content)
            unmapped += dropped.map { UnmappedSDPLine(mediaIndex: index, mid: m.attributes("mid").first, line: $0) }
        }
        return SDPToJingleResult(jingle: j, unmappedLines: unmapped)
    }

    struct SessionLevel {
        var ufrag: String?
        var pwd: String?
        var fingerprints: [String]
        var setup: String?
        var extmapAllowMixed: Bool
        var connection: String?

        init(_ sdp: SessionDescription) {
            ufrag = sdp.attributes("ice-ufrag").first
            pwd = sdp.attributes("ice-pwd").first
            fingerprints = sdp.attributes("fingerprint")
            setup = sdp.attributes("setup").first
            extmapAllowMixed = !sdp.attributes("extmap-allow-mixed").isEmpty
            connection = sdp.lines.first { $0.type == "c" }?.value
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

    /// The address of a `c=IN IP4 <addr>[/ttl]` value, nil when unspecified (0.0.0.0, ::).
    static func connectionAddress(_ value: String) -> String? {
        let f = value.split(separator: " ")
        guard f.count >= 3, f[0] == "IN" else { return nil }
        let addr = String(f[2].split(separator: "/").first ?? "")
        return addr.isEmpty || addr == "0.0.0.0" || addr == "::" ? nil : addr
    }

    /// `key=value` words (`name` alone has a nil value, `name=` an empty one).
    static func parameter(_ word: Substring) -> Parameter {
        if let eq = word.firstIndex(of: "=") {
            return Parameter(name: String(word[..<eq]), value: String(word[word.index(after: eq)...]))
        }
        return Parameter(name: String(word), value: nil)
    }

    /// One media description as a content, with the lines that have no Jingle form.
    static func content(
        _ m: MediaDescription, index: Int, session: SessionLevel, party: Creator,
        creator: Creator
    ) throws(SDPParseError) -> (Content, [SDPLine]) {
        func bad(_ why: String) -> SDPParseError { SDPParseError(line: 0, reason: "m=\(m.media) section \(index): \(why)") }
        let name = ContentName(m.attributes("mid").first ?? String(index))
        var rtp = RTPDescription(media: m.media)
        var senders: Senders? = nil
        var payloads: [UInt8: PayloadType] = [:]
        var order: [UInt8] = []
        for f in m.formats {
            guard let id = UInt8(f), id <= 127 else { throw bad("invalid payload type '\(f)'") }
            // A static payload type without rtpmap is the RFC 3551 codec; its clock rate stays implied.
            payloads[id] = PayloadType(id: id, name: StaticPayloadTypes.entry(id)?.name)
            order.append(id)
        }
        var ice = ICEUDPTransport(ufrag: session.ufrag, pwd: session.pwd)
        var fingerprints: [String] = []
        var setup = session.setup
        var ptime: UInt32? = nil
        var maxptime: UInt32? = nil
        var sources: [Source] = []
        var msids: [SDPLine] = []
        var rtcpLines: [SDPLine] = []
        var connection = session.connection
        var unmapped: [SDPLine] = []
        var seenSourceLine = false
        // The `ufrag` extension of each candidate (libwebrtc writes it), by candidate index.
        var candidateUfrags: [(index: Int, ufrag: String, line: SDPLine)] = []
        func pt(_ s: Substring) throws(SDPParseError) -> UInt8 {
            guard let id = UInt8(s), payloads[id] != nil else { throw bad("attribute for unknown payload type '\(s)'") }
            return id
        }
        func integer(_ v: String, _ what: String) throws(SDPParseError) -> UInt32 {
            guard let n = UInt32(v) else { throw bad("invalid \(what) '\(v)'") }
            return n
        }
        rtp.extmapAllowMixed = session.extmapAllowMixed
        for line in m.lines {
            if line.type == "b" {
                let parts = line.value.split(separator: ":", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw bad("invalid b= line '\(line.value)'") }
                rtp.bandwidths.append(Bandwidth(type: parts[0], value: parts[1]))
                continue
            }
            if line.type == "c" { connection = line.value; continue }
            guard let (attr, value) = line.attribute else { unmapped.append(line); continue }
            let v = value ?? ""
            let words = v.split(separator: " ", omittingEmptySubsequences: true)
            switch attr {
            case "sendrecv", "sendonly", "recvonly", "inactive": senders = Self.senders(direction: attr, party: party)
            case "mid": break
            case "rtcp-mux": rtp.rtcpMux = true
            case "extmap-allow-mixed": rtp.extmapAllowMixed = true
            case "ice-ufrag": ice.ufrag = v
            case "ice-pwd": ice.pwd = v
            case "fingerprint": fingerprints.append(v)
            case "setup": setup = v
            case "ptime": ptime = try integer(v, "ptime")
            case "maxptime": maxptime = try integer(v, "maxptime")
            case "msid": msids.append(line)
            case "rtcp": rtcpLines.append(line)
            case "rtpmap":
                guard words.count == 2 else { throw bad("invalid rtpmap '\(v)'") }
                let id = try pt(words[0])
                // encoding/clock[/channels]; a clock-less form carries a Jingle payload type without clockrate.
                let enc = words[1].split(separator: "/", omittingEmptySubsequences: false).map(String.init)
                guard !enc[0].isEmpty, enc.count <= 3 else { throw bad("invalid rtpmap '\(v)'") }
                payloads[id]?.name = enc[0]
                payloads[id]?.clockrate = nil
                if enc.count >= 2, !enc[1].isEmpty {
                    guard let clock = UInt32(enc[1]) else { throw bad("invalid rtpmap clock rate '\(v)'") }
                    payloads[id]?.clockrate = clock
                }
                if enc.count == 3 {
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
                        // RFC 2198 `111/111`, RFC 4733 `0-15`: no name, as libwebrtc keeps it (and as
                        // Conversations writes a lone parameter without name back).
                        payloads[id]?.parameters.append(Parameter(name: "", value: String(kv)))
                    }
                }
            case "rtcp-fb":
                // RFC 4585 §4.2: <pt|*> <type> [<subtype> [<param>...]]; XEP-0293 §4.
                guard words.count >= 2 else { throw bad("invalid rtcp-fb '\(v)'") }
                var trr: RTCPFeedbackTRRInterval? = nil
                var fb = RTCPFeedback(type: String(words[1]))
                if words[1] == "trr-int" {
                    guard words.count == 3, let n = UInt32(words[2]) else { throw bad("invalid trr-int '\(v)'") }
                    trr = RTCPFeedbackTRRInterval(value: n)
                } else if words.count > 2 {
                    fb.subtype = String(words[2])
                    fb.parameters = words.dropFirst(3).map(Self.parameter)
                }
                if words[0] == "*" {
                    if let trr { rtp.feedbackTRRInterval = trr } else { rtp.feedback.append(fb) }
                } else {
                    let id = try pt(words[0])
                    if let trr { payloads[id]?.feedbackTRRInterval = trr } else { payloads[id]?.feedback.append(fb) }
                }
            case "extmap":
                guard words.count >= 2 else { throw bad("invalid extmap '\(v)'") }
                let idDir = words[0].split(separator: "/", omittingEmptySubsequences: false)
                guard idDir.count <= 2, let id = UInt16(idDir[0]) else { throw bad("invalid extmap id '\(v)'") }
                var h = HeaderExtension(id: id, uri: String(words[1]))
                if idDir.count == 2 { h.senders = Self.senders(direction: String(idDir[1]), party: party) }
                h.parameters = words.dropFirst(2).map(Self.parameter)
                rtp.headerExtensions.append(h)
            case "ssrc":
                guard let first = words.first, let ssrc = UInt32(first) else { throw bad("invalid ssrc '\(v)'") }
                let rest = v.dropFirst(first.count).drop { $0 == " " }
                // A bare `a=ssrc:<n>` opening the section is the description's own ssrc (XEP-0167 §4).
                if rest.isEmpty, !seenSourceLine, rtp.ssrc == nil {
                    rtp.ssrc = ssrc
                    seenSourceLine = true
                    continue
                }
                seenSourceLine = true
                let at: Int
                if let existing = sources.firstIndex(where: { $0.ssrc == ssrc }) {
                    at = existing
                } else {
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
                seenSourceLine = true
                guard let sem = words.first else { throw bad("invalid ssrc-group") }
                var ids: [UInt32] = []
                for w in words.dropFirst() {
                    guard let n = UInt32(w) else { throw bad("invalid ssrc-group '\(v)'") }
                    ids.append(n)
                }
                rtp.sourceGroups.append(SourceGroup(semantics: String(sem), ssrcs: ids))
            case "crypto":
                guard words.count >= 3 else { throw bad("invalid crypto '\(v)'") }
                let c = Crypto(
                    cryptoSuite: String(words[1]), keyParams: String(words[2]),
                    sessionParams: words.count > 3 ? words[3...].joined(separator: " ") : nil, tag: String(words[0]))
                if rtp.encryption == nil { rtp.encryption = Encryption(crypto: []) }
                rtp.encryption?.crypto.append(c)
            case "candidate":
                var c = try Candidate(sdpValue: v, fallbackID: "\(name.rawValue)-c\(ice.candidates.count)")
                // XEP-0176 candidates are UDP only: TCP ones (RFC 6544) are not carried, as in Conversations.
                guard c.protocol == "udp" else { unmapped.append(line); continue }
                if c.id.isEmpty { c.id = "c\(ice.candidates.count)" }
                var i = 8
                while i + 1 < words.count {
                    if words[i] == "ufrag" { candidateUfrags.append((ice.candidates.count, String(words[i + 1]), line)) }
                    i += 2
                }
                ice.candidates.append(c)
            case "remote-candidates":
                guard words.count >= 3, let comp = UInt8(words[0]), let port = UInt16(words[2]) else {
                    throw bad("invalid remote-candidates '\(v)'")
                }
                ice.remoteCandidate = RemoteCandidate(component: comp, ip: String(words[1]), port: port)
            default: unmapped.append(line)
            }
        }
        // A candidate of another ICE generation (its ufrag is not the section's) is not carried,
        // as Conversations drops it: its Jingle form would pair it with the current credentials.
        if let current = ice.ufrag {
            let stale = candidateUfrags.filter { $0.ufrag != current }
            for s in stale.reversed() { ice.candidates.remove(at: s.index) }
            unmapped += stale.map(\.line)
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
        // SDES: a savp profile without DTLS fingerprints means SRTP is required (RFC 4568 §3.1.4);
        // a=crypto under an avp profile is best-effort, i.e. required is absent.
        if ice.fingerprints.isEmpty, m.proto == "RTP/SAVP" || m.proto == "RTP/SAVPF" {
            if rtp.encryption == nil { rtp.encryption = Encryption(crypto: []) }
            rtp.encryption?.required = true
        }
        rtp.payloadTypes = order.compactMap { payloads[$0] }.map { p in
            var p = p
            if ptime != nil { p.ptime = ptime }
            if maxptime != nil { p.maxptime = maxptime }
            return p
        }
        // a=msid (RFC 8830) maps to the XEP-0339 msid parameter of the section's sources.
        for line in msids {
            let v = line.attribute?.value ?? ""
            if sources.contains(where: { $0.parameter("msid") == v }) { continue }
            if !sources.isEmpty, sources.allSatisfy({ $0.parameter("msid") == nil }) {
                for i in sources.indices { sources[i].parameters.append(Parameter(name: "msid", value: v)) }
            } else {
                unmapped.append(line)
            }
        }
        rtp.sources = sources
        let hasICE = ice.ufrag != nil || ice.pwd != nil || !ice.candidates.isEmpty || !ice.fingerprints.isEmpty
        var transport: ContentTransport? = hasICE ? .iceUDP(ice) : nil
        // No ICE and a real address: raw UDP (XEP-0177 §5), m= port and c= for RTP, a=rtcp for RTCP.
        if !hasICE, m.port != 0, let address = connection.flatMap(Self.connectionAddress) {
            var raw = RawUDPTransport(candidates: [RawUDPCandidate(component: 1, id: "\(name.rawValue)-raw1", ip: address, port: m.port)])
            for line in rtcpLines {
                let f = (line.attribute?.value ?? "").split(separator: " ")
                guard let first = f.first, let port = UInt16(first) else { throw bad("invalid rtcp '\(line.value)'") }
                // RFC 3605: a=rtcp:<port> [<nettype> <addrtype> <address>]
                let ip = f.count >= 4 ? String(f[3]) : address
                if raw.candidates.count == 1 {
                    raw.candidates.append(RawUDPCandidate(component: 2, id: "\(name.rawValue)-raw2", ip: ip, port: port))
                } else {
                    unmapped.append(line)
                }
            }
            transport = .rawUDP(raw)
        } else {
            unmapped += rtcpLines
        }
        return (Content(creator: creator, name: name, senders: senders, description: .rtp(rtp), transport: transport), unmapped)
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
