import XMLModel

/// The `a=candidate` attribute value of RFC 8839 §5.1 for an XEP-0176 candidate:
/// `<foundation> <component> <transport> <priority> <address> <port> typ <type> [raddr <a>]
/// [rport <p>] [tcptype <t>] [generation <n>] [network-id <n>] [id <jingle id>]`; other extensions
/// are ignored. XEP-0176 has no TCP candidates: a TCP candidate's RFC 6544 `tcptype` is kept as a
/// `tcptype` candidate attribute (as JingleKit's ICE agent writes it), but the session mapping
/// (`SDPMapping`) neither reads nor writes TCP candidates.
extension Candidate {
    /// The SDP form (without the `candidate:` prefix).
    public var sdpValue: String {
        var s = "\(foundation) \(component) \(`protocol`) \(priority) \(ip) \(port) typ \(type.rawValue)"
        if let relAddr { s += " raddr \(relAddr)" }
        if let relPort { s += " rport \(relPort)" }
        if `protocol`.lowercased() == "tcp", let t = extraAttributes.first(where: { $0.name == "tcptype" && $0.namespace.isEmpty }) {
            s += " tcptype \(t.value)"
        }
        s += " generation \(generation)"
        if let network { s += " network-id \(network)" }
        s += " id \(id)"
        return s
    }

    /// Reads the SDP form; a missing `id` extension gets `fallbackID`.
    public init(sdpValue: String, fallbackID: String) throws(SDPParseError) {
        func bad(_ why: String) -> SDPParseError { SDPParseError(line: 0, reason: "candidate '\(sdpValue)': \(why)") }
        var v = Substring(sdpValue)
        if v.hasPrefix("candidate:") { v = v.dropFirst(10) }
        let f = v.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard f.count >= 8, f[6] == "typ" else { throw bad("expected 'foundation component transport priority address port typ type'") }
        guard let component = UInt8(f[1]) else { throw bad("invalid component") }
        guard let priority = UInt32(f[3]) else { throw bad("invalid priority") }
        guard let port = UInt16(f[5]) else { throw bad("invalid port") }
        guard let type = CandidateType(rawValue: f[7]) else { throw bad("invalid type '\(f[7])'") }
        var c = Candidate(
            component: component, foundation: f[0], generation: 0, id: fallbackID, ip: f[4], port: port,
            priority: priority, protocol: f[2].lowercased(), type: type)
        var i = 8
        while i + 1 < f.count {
            let (k, val) = (f[i], f[i + 1])
            switch k {
            case "raddr": c.relAddr = val
            case "rport": guard let p = UInt16(val) else { throw bad("invalid rport") }; c.relPort = p
            case "generation": guard let g = UInt32(val) else { throw bad("invalid generation") }; c.generation = g
            case "network-id": guard let n = UInt32(val) else { throw bad("invalid network-id") }; c.network = n
            case "id": c.id = val
            case "tcptype" where c.protocol == "tcp": c.extraAttributes.append(XMLAttribute(name: "tcptype", value: val))
            default: break
            }
            i += 2
        }
        guard i == f.count else { throw bad("extension name without a value") }
        self = c
    }
}
