import Jingle
import Transport
import XMLStream

/// Converts between XEP-0176 `<candidate/>` elements and libnice's candidates (RFC 8445 §5.1).
enum CandidateMapping {
    /// Our gathered candidate as signalled; `id` is a fresh token (XEP-0176 §4 requires one per candidate).
    static func jingle(_ c: ICECandidate) -> Candidate {
        let type = candidateType(c.kind)
        let proto: String
        var extra: [XMLAttribute] = []
        switch c.transport {
        case .udp: proto = "udp"
        case .tcpActive: proto = "tcp"; extra.append(XMLAttribute(name: "tcptype", value: "active"))
        case .tcpPassive: proto = "tcp"; extra.append(XMLAttribute(name: "tcptype", value: "passive"))
        case .tcpSimultaneousOpen: proto = "tcp"; extra.append(XMLAttribute(name: "tcptype", value: "so"))
        }
        return Candidate(
            component: UInt8(clamping: c.component), foundation: c.foundation, generation: 0,
            id: token(10), ip: c.address, network: 0, port: c.port, priority: c.priority,
            protocol: proto, relAddr: c.relatedAddress, relPort: c.relatedPort, type: type,
            extraAttributes: extra)
    }

    /// The XEP-0176 type of a libnice candidate kind.
    static func candidateType(_ kind: ICECandidate.Kind) -> CandidateType {
        switch kind {
        case .host: .host
        case .serverReflexive: .srflx
        case .peerReflexive: .prflx
        case .relayed: .relay
        }
    }

    /// The peer's candidate for libnice; nil for what we cannot use (another component, TCP
    /// without a known tcptype, an unknown protocol).
    static func ice(_ c: Candidate) -> ICECandidate? {
        guard c.component == 1 else { return nil }
        let kind: ICECandidate.Kind =
            switch c.type {
            case .host: .host
            case .srflx: .serverReflexive
            case .prflx: .peerReflexive
            case .relay: .relayed
            }
        let transport: ICECandidate.TransportProtocol
        switch c.protocol.lowercased() {
        case "udp": transport = .udp
        case "tcp":
            switch c.extraAttributes.first(where: { $0.name == "tcptype" })?.value {
            case "active"?: transport = .tcpActive
            case "passive"?: transport = .tcpPassive
            case "so"?: transport = .tcpSimultaneousOpen
            default: return nil
            }
        default: return nil
        }
        return ICECandidate(
            foundation: c.foundation, component: 1, transport: transport, priority: c.priority,
            address: c.ip, port: c.port, kind: kind, relatedAddress: c.relAddr, relatedPort: c.relPort)
    }

    private static func token(_ n: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var g = SystemRandomNumberGenerator()
        return String((0..<n).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &g)] })
    }
}
