import STUN

/// An address prefix such as `10.0.0.0/8` or `fc00::/7`.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(address: IPAddress, prefixLength: Int) {
        switch address {
        case .v4: guard (0...32).contains(prefixLength) else { return nil }
        case .v6: guard (0...128).contains(prefixLength) else { return nil }
        }
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses `ADDRESS/PREFIX`, or a bare address as a host prefix.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let ip = IPAddress(String(parts[0])) else { return nil }
        let full = ip.family == .ipv4 ? 32 : 128
        if parts.count == 2 {
            guard let p = Int(parts[1]) else { return nil }
            self.init(address: ip, prefixLength: p)
        } else {
            self.init(address: ip, prefixLength: full)
        }
    }

    public func contains(_ ip: IPAddress) -> Bool {
        switch (address, ip) {
        case (.v4(let net), .v4(let a)):
            if prefixLength == 0 { return true }
            let mask: UInt32 = prefixLength == 32 ? .max : ~(UInt32.max >> UInt32(prefixLength))
            return net & mask == a & mask
        case (.v6(let nh, let nl), .v6(let ah, let al)):
            if prefixLength <= 64 {
                if prefixLength == 0 { return true }
                let mask: UInt64 = prefixLength == 64 ? .max : ~(UInt64.max >> UInt64(prefixLength))
                return nh & mask == ah & mask
            }
            let low = prefixLength - 64
            let mask: UInt64 = low == 64 ? .max : ~(UInt64.max >> UInt64(low))
            return nh == ah && nl & mask == al & mask
        default:
            return false
        }
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

/// Decides which peer addresses a relay may send to (RFC 8656 §21.1.2 security considerations,
/// RFC 6156 §9): special-purpose ranges are denied by default, including IPv6 forms that embed
/// a denied IPv4 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo); an explicit
/// allow-list overrides; loopback may be allowed for tests.
public struct PeerFilter: Hashable, Sendable {
    public var allowList: [CIDR]
    public var allowLoopback: Bool
    /// The relay's own addresses (listening, relayed, advertised; kept in IPv4 form when they
    /// embed one): as peers, only ports in `relayPorts` (other allocations' relayed addresses,
    /// the TURN hairpin) are allowed on them, and only where the address rules allow the
    /// address itself (a public relay address; loopback with `allowLoopback`; an `allow-peer`
    /// range). Set with `setOwnAddresses`.
    public private(set) var ownAddresses: Set<IPAddress> = []
    /// Other addresses of the relay's host (its interfaces): no port on them is a peer.
    public private(set) var hostAddresses: Set<IPAddress> = []
    /// The relay's own services (listeners, metrics endpoint): never peers, not even with
    /// `allowLoopback`; an unspecified address stands for every own, host or loopback address.
    public private(set) var ownServices: Set<TransportAddress> = []
    /// The relay port range (all threads'): the ports allowed on own addresses.
    public var relayPorts: ClosedRange<UInt16>?

    public init(allowList: [CIDR] = [], allowLoopback: Bool = false) {
        self.allowList = allowList
        self.allowLoopback = allowLoopback
    }

    /// IPv4 special-purpose ranges denied by default (RFC 6890 and successors).
    public static let deniedIPv4: [CIDR] = [
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
    ].compactMap { CIDR($0) }

    /// IPv6 special-purpose ranges denied outright.
    public static let deniedIPv6: [CIDR] = [
        "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "100::/64", "2001:db8::/32",
        "64:ff9b:1::/48", "fec0::/10", "2001:10::/28", "2001:20::/28",
    ].compactMap { CIDR($0) }

    /// Why a peer address was refused.
    public enum Verdict: Hashable, Sendable {
        case allowed
        case denied(CIDR)
    }

    /// The IPv4 address an IPv6 address carries in one of the translation or tunnelling forms.
    public static func embeddedIPv4(_ ip: IPAddress) -> UInt32? {
        guard case .v6(let hi, let lo) = ip else { return nil }
        let low32 = UInt32(truncatingIfNeeded: lo)
        if hi == 0 && lo >> 32 == 0x0000_FFFF { return low32 } // ::ffff:a.b.c.d
        if hi == 0 && lo >> 32 == 0 && lo > 1 { return low32 } // ::a.b.c.d (compatible)
        if hi == 0x0064_FF9B_0000_0000 && lo >> 32 == 0 { return low32 } // 64:ff9b::/96
        if hi >> 48 == 0x2002 { return UInt32(truncatingIfNeeded: hi >> 16) } // 2002:AABB:CCDD::/48
        if hi >> 32 == 0x2001_0000 { return ~low32 } // Teredo client, obfuscated
        if hi == 0 && lo >> 32 == 0xFFFF_0000 { return low32 } // ::ffff:0:a.b.c.d (SIIT, RFC 6052/7915)
        return nil
    }

    /// Names the relay's own addresses, its host's other addresses and its own services.
    public mutating func setOwnAddresses(_ own: [IPAddress], host: [IPAddress] = [], services: [TransportAddress]) {
        ownAddresses = Set(own.map(PeerFilter.canonical))
        hostAddresses = Set(host.map(PeerFilter.canonical)).subtracting(ownAddresses)
        ownServices = Set(services.map { TransportAddress(ip: PeerFilter.canonical($0.ip), port: $0.port) })
    }

    /// The IPv4 address an IPv6 form embeds, else the address itself.
    static func canonical(_ ip: IPAddress) -> IPAddress {
        if let v4 = embeddedIPv4(ip) { return .v4(v4) }
        return ip
    }

    static func isLoopback(_ ip: IPAddress) -> Bool {
        switch ip {
        case .v4(let a): a >> 24 == 127
        case .v6: ip == .v6(0, 1)
        }
    }

    static func isUnspecified(_ ip: IPAddress) -> Bool { ip == .v4(0) || ip == .v6(0, 0) }

    /// Whether `ip` is 0.0.0.0 or :: (a wildcard listener).
    public static func isUnspecifiedAddress(_ ip: IPAddress) -> Bool { isUnspecified(ip) }

    /// An `allow-peer` host prefix naming exactly this address: the operator's explicit choice.
    func namesExactly(_ ip: IPAddress) -> Bool {
        let c = PeerFilter.canonical(ip)
        return allowList.contains { cidr in
            cidr.prefixLength == (cidr.address.family == .ipv4 ? 32 : 128)
                && (cidr.address == ip || PeerFilter.canonical(cidr.address) == c)
        }
    }

    /// Whether a peer transport address may be used (RFC 8656 §9: the relay's own addresses are
    /// peers only on relay ports; its listeners and metrics endpoint never are), then the
    /// address rules of `verdict(_: IPAddress)`.
    public func verdict(_ peer: TransportAddress) -> Verdict {
        if ownAddresses.isEmpty && hostAddresses.isEmpty && ownServices.isEmpty { return verdict(peer.ip) }
        let ip = PeerFilter.canonical(peer.ip)
        let own = ownAddresses.contains(ip)
        let host = own || hostAddresses.contains(ip) || PeerFilter.isLoopback(ip)
        guard host else { return verdict(peer.ip) }
        let denial = CIDR(address: ip, prefixLength: ip.family == .ipv4 ? 32 : 128)!
        if namesExactly(peer.ip) { return .allowed }
        for service in ownServices where service.port == peer.port {
            if service.ip == ip || PeerFilter.isUnspecified(service.ip) { return .denied(denial) }
        }
        // Another allocation's relayed address: a peer if the address rules allow the address.
        if own, let ports = relayPorts, ports.contains(peer.port) { return verdict(peer.ip) }
        if allowLoopback && PeerFilter.isLoopback(ip) { return .allowed }
        return .denied(denial)
    }

    public func allows(_ peer: TransportAddress) -> Bool { verdict(peer) == .allowed }

    /// Whether `ip` is one of the relay's own or its host's addresses (loopback included), whose
    /// ports `verdict(_: TransportAddress)` checks; cheap when no own address is set.
    public func isHost(_ ip: IPAddress) -> Bool {
        if ownAddresses.isEmpty && hostAddresses.isEmpty && ownServices.isEmpty { return false }
        let c = PeerFilter.canonical(ip)
        return ownAddresses.contains(c) || hostAddresses.contains(c) || PeerFilter.isLoopback(c)
    }

    /// Whether a peer IP may get a permission (RFC 8656 §9); the port is checked when data is
    /// sent (`verdict(_: TransportAddress)`).
    public func verdict(_ ip: IPAddress) -> Verdict {
        if !hostAddresses.isEmpty {
            let c = PeerFilter.canonical(ip)
            if hostAddresses.contains(c) && !namesExactly(ip) && !(allowLoopback && PeerFilter.isLoopback(c)) {
                return .denied(CIDR(address: c, prefixLength: c.family == .ipv4 ? 32 : 128)!)
            }
        }
        if allowList.contains(where: { $0.contains(ip) }) { return .allowed }
        let embedded = PeerFilter.embeddedIPv4(ip)
        if let v4 = embedded, allowList.contains(where: { $0.contains(.v4(v4)) }) { return .allowed }
        if allowLoopback {
            if ip == .v6(0, 1) { return .allowed }
            let v4: UInt32? = if case .v4(let a) = ip { a } else { embedded }
            if let v4, v4 >> 24 == 127 { return .allowed }
        }
        switch ip {
        case .v4:
            if let hit = PeerFilter.deniedIPv4.first(where: { $0.contains(ip) }) { return .denied(hit) }
        case .v6:
            if let hit = PeerFilter.deniedIPv6.first(where: { $0.contains(ip) }) { return .denied(hit) }
            if let v4 = embedded, let hit = PeerFilter.deniedIPv4.first(where: { $0.contains(.v4(v4)) }) { return .denied(hit) }
        }
        return .allowed
    }

    public func allows(_ ip: IPAddress) -> Bool { verdict(ip) == .allowed }
}
