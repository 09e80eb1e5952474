#if canImport(Glibc)
    import Glibc
#endif
import STUN

/// The host's network interfaces and their addresses (getifaddrs), one walk for every user:
/// the relay's own-address protection, where the fast path attaches, and which destinations
/// are local.
public enum HostInterfaces {
    /// Every (interface name, address) pair, IPv4 and IPv6.
    public static func addresses() -> [(interface: String, address: IPAddress)] {
        var first: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&first) == 0 else { return [] }
        defer { freeifaddrs(first) }
        var found: [(interface: String, address: IPAddress)] = []
        var next = first
        while let entry = next {
            defer { next = entry.pointee.ifa_next }
            guard let sa = entry.pointee.ifa_addr else { continue }
            let ip: IPAddress?
            switch Int32(sa.pointee.sa_family) {
            case AF_INET:
                ip = .v4(sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) })
            case AF_INET6:
                ip = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                    withUnsafeBytes(of: p.pointee.sin6_addr) { IPAddress(bytes: $0) }
                }
            default:
                ip = nil
            }
            if let ip { found.append((String(cString: entry.pointee.ifa_name), ip)) }
        }
        return found
    }

    /// Names of the interfaces holding any of `addresses` (the unspecified address matches none).
    public static func names(carrying addresses: [IPAddress]) -> [String] {
        var names: [String] = []
        for (name, ip) in Self.addresses() where addresses.contains(ip) && !names.contains(name) { names.append(name) }
        return names
    }
}
