#if canImport(Glibc)
    import Glibc
#endif
import Transport
import XMPPCore

/// Turns XEP-0215 external services into ICE servers: `stun` and `turn`/`turns` entries with a
/// transport (RFC 7064/7065 URI semantics: `turn` over UDP unless `transport=tcp`, `turns` over TLS).
/// libnice needs literal addresses, so host names are resolved here.
public enum ICEServerDiscovery {
    /// The ICE servers among `services`, resolved; entries without a usable port, credentials
    /// (for TURN) or address are left out, each with the reason in `skipped`.
    public static func iceServers(
        from services: [ExternalService],
        resolve: (String) -> String? = resolveIPv4OrIPv6
    ) -> (servers: [ICEServer], skipped: [String]) {
        var servers: [ICEServer] = []
        var skipped: [String] = []
        for s in services {
            let type = s.type.lowercased()
            guard type == "stun" || type == "turn" || type == "turns" else { continue }
            guard let address = resolve(s.host) else { skipped.append("\(s): cannot resolve \(s.host)"); continue }
            let transport = s.transport?.lowercased() ?? (type == "turns" ? "tcp" : "udp")
            let port = s.port ?? (type == "turns" ? 5349 : 3478)
            if type == "stun" {
                guard transport == "udp" else { skipped.append("\(s): STUN over \(transport) is not used"); continue }
                servers.append(ICEServer(address: address, port: port, kind: .stun))
                continue
            }
            guard let username = s.username, let password = s.password else {
                skipped.append("\(s): TURN without credentials"); continue
            }
            let kind: ICEServer.Kind
            switch (type, transport) {
            case ("turn", "udp"): kind = .turnUDP(username: username, password: password)
            case ("turn", "tcp"): kind = .turnTCP(username: username, password: password)
            case ("turns", "tcp"), ("turns", "tls"), ("turn", "tls"): kind = .turnTLS(username: username, password: password)
            default: skipped.append("\(s): unsupported transport \(transport)"); continue
            }
            servers.append(ICEServer(address: address, port: port, kind: kind))
        }
        return (usable(servers), skipped)
    }

    /// The servers libnice should be given: at most one STUN server (libnice takes one), and none
    /// where a TURN server listens on the same UDP address and port, since its Allocate response
    /// already carries our server-reflexive address (RFC 8656 §7.3 XOR-MAPPED-ADDRESS). libnice's
    /// separate Binding on the TURN socket is never answered in a form it accepts there, and
    /// gathering would wait for its retransmissions to time out.
    public static func usable(_ servers: [ICEServer]) -> [ICEServer] {
        let turnUDP = Set(
            servers.compactMap { s -> String? in
                if case .turnUDP = s.kind { "\(s.address)|\(s.port)" } else { nil }
            })
        var stunTaken = false
        return servers.filter { s in
            guard case .stun = s.kind else { return true }
            guard !stunTaken, !turnUDP.contains("\(s.address)|\(s.port)") else { return false }
            stunTaken = true
            return true
        }
    }

    /// With local addresses given, only the servers of an address family among them: libnice
    /// reaches an IPv6 server only from an IPv6 address (a name resolved to both families keeps
    /// the one that can work, rather than a server that could only fail).
    public static func reachable(_ servers: [ICEServer], from localAddresses: [String]) -> [ICEServer] {
        guard !localAddresses.isEmpty else { return servers }
        let v6 = localAddresses.contains { $0.contains(":") }
        let v4 = localAddresses.contains { !$0.contains(":") }
        return servers.filter { $0.address.contains(":") ? v6 : v4 }
    }

    /// A literal address as is; otherwise the first address getaddrinfo gives (IPv4 first).
    public static func resolveIPv4OrIPv6(_ host: String) -> String? {
        resolveAll(host).first
    }

    /// `server` with a host name replaced by its addresses (one server per address: the first
    /// IPv4 and the first IPv6 address getaddrinfo gives, IPv4 first); a literal address as is;
    /// empty when the name does not resolve. libnice takes only literal addresses.
    public static func resolve(_ server: ICEServer) -> [ICEServer] {
        resolveAll(server.address).map { ICEServer(address: $0, port: server.port, kind: server.kind) }
    }

    /// A literal address as is; otherwise the first IPv4 and the first IPv6 address of the name.
    public static func resolveAll(_ host: String) -> [String] {
        if isLiteral(host) { return [host] }
        let found = addresses(of: host)
        return [found.first { $0.family == AF_INET }, found.first { $0.family == AF_INET6 }].compactMap { $0?.text }
    }

    /// Every address getaddrinfo gives for `host`, numeric, in its order.
    static func addresses(of host: String) -> [(family: Int32, text: String)] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else { return [] }
        defer { freeaddrinfo(list) }
        var found: [(family: Int32, text: String)] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let ai = p {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(ai.pointee.ai_addr, ai.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                found.append((ai.pointee.ai_family, text))
            }
            p = ai.pointee.ai_next
        }
        return found
    }

    static func isLiteral(_ host: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
