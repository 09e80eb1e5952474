extension SDPMapping {
    /// What of `jingle` the SDP from `sessionDescription(from:party:)` cannot carry (the notes on
    /// `SDPMapping`), one sentence each naming the content; empty when the mapping is lossless.
    public static func notCarried(by jingle: JingleElement) -> [String] {
        var out: [String] = []
        if !jingle.extraChildren.isEmpty || jingle.reason != nil || !jingle.info.isEmpty {
            out.append("jingle: reason, session-info payloads and unknown children")
        }
        for c in jingle.contents {
            let n = "content '\(c.name)'"
            guard let rtp = c.rtp else { out.append("\(n): not an RTP description"); continue }
            if c.creator != .initiator { out.append("\(n): creator \(c.creator.rawValue)") }
            if c.disposition != nil || c.security != nil || !c.extraChildren.isEmpty || !c.extraAttributes.isEmpty {
                out.append("\(n): disposition, security or unknown XML")
            }
            switch c.transport {
            case .rawUDP(let raw):
                for cand in raw.candidates
                where cand.id != "\(c.name.rawValue)-raw\(cand.component)" || cand.generation != 0 || cand.type != nil {
                    out.append("\(n): raw-udp candidate '\(cand.id)' id, generation or type")
                }
                if raw.candidates.first(where: { $0.component == 1 }) == nil {
                    out.append("\(n): raw-udp transport without an RTP candidate")
                }
            case .other: out.append("\(n): transport \(c.transport?.namespace ?? "")")
            case .iceUDP(let ice):
                for cand in ice.candidates where cand.protocol.lowercased() != "udp" {
                    out.append("\(n): \(cand.protocol) candidate '\(cand.id)' (XEP-0176 is UDP only, not written)")
                }
            case nil: break
            }
            if Set(rtp.payloadTypes.map(\.ptime)).count > 1 || Set(rtp.payloadTypes.map(\.maxptime)).count > 1 {
                out.append("\(n): payload types with different ptime or maxptime")
            }
            for p in rtp.payloadTypes where p.name == nil && StaticPayloadTypes.entry(p.id) != nil {
                out.append("\(n): payload type \(p.id) without name (comes back named \(StaticPayloadTypes.entry(p.id)?.name ?? ""))")
            }
            for p in rtp.payloadTypes where p.name == nil && (p.clockrate != nil || p.channels != nil) {
                out.append("\(n): payload type \(p.id) clockrate or channels without a name")
            }
            for p in rtp.payloadTypes where p.parameters.contains(where: { $0.value == nil }) {
                out.append("\(n): payload type \(p.id) parameter without value")
            }
            let feedback = rtp.feedback + rtp.payloadTypes.flatMap(\.feedback)
            if feedback.contains(where: { $0.subtype == nil && !$0.parameters.isEmpty }) {
                out.append("\(n): rtcp-fb parameters without a subtype")
            }
            if let e = rtp.encryption {
                if e.required == false { out.append("\(n): encryption required='0' (comes back absent)") }
                let dtls = !(c.transport?.iceUDP?.fingerprints.isEmpty ?? true)
                if e.required == true, dtls, !e.crypto.isEmpty { out.append("\(n): encryption required next to DTLS fingerprints") }
            }
            if rtp.ssrc == nil, rtp.sourceGroups.isEmpty, rtp.sources.first?.parameters.isEmpty == true {
                out.append("\(n): first source without parameters (reads back as the description ssrc)")
            }
        }
        return out
    }
}
