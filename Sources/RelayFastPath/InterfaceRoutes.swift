#if canImport(Glibc)
    import Glibc
#endif
import STUN

/// Which interface a datagram from the relay to an address leaves by, as the kernel fast path
/// needs it (the program sends on through that interface and lets the kernel resolve the next
/// hop, so the relay needs no forwarding enabled): the host's own addresses go to the loopback
/// interface; others take the longest matching route of the main table, read from
/// `/proc/net/route` and `/proc/net/ipv6_route` (lowest metric among equals). Policy routing
/// beyond the main table is not seen; a destination without a route gets none, and its packets
/// stay in user space.
public struct InterfaceRoutes: Sendable {
    struct Route: Sendable {
        var destination: IPAddress
        var prefixLength: Int
        var metric: UInt32
        var interface: String
    }

    public struct Egress: Sendable, Equatable {
        public var interfaceIndex: UInt32
        public var local: Bool
    }

    var routes: [Route] = []
    var localAddresses: Set<IPAddress> = []
    var loopbackIndex: UInt32 = 1
    var indexes: [String: UInt32] = [:]

    /// Reads the tables now.
    public static func current() -> InterfaceRoutes {
        var table = InterfaceRoutes()
        table.routes = parseIPv4(read("/proc/net/route")) + parseIPv6(read("/proc/net/ipv6_route"))
        table.localAddresses = Set(HostInterfaces.addresses().map(\.address))
        table.loopbackIndex = if_nametoindex("lo")
        for route in table.routes where table.indexes[route.interface] == nil {
            table.indexes[route.interface] = if_nametoindex(route.interface)
        }
        return table
    }

    public func egress(to ip: IPAddress) -> Egress? {
        if localAddresses.contains(ip) || Self.isLoopback(ip) {
            return loopbackIndex == 0 ? nil : Egress(interfaceIndex: loopbackIndex, local: true)
        }
        var best: Route?
        for route in routes
        where route.destination.family == ip.family && Self.prefix(route.destination, contains: ip, length: route.prefixLength) {
            if let b = best, (b.prefixLength, UInt32.max - b.metric) >= (route.prefixLength, UInt32.max - route.metric) { continue }
            best = route
        }
        guard let best, let index = indexes[best.interface], index != 0, best.interface != "lo" else { return nil }
        return Egress(interfaceIndex: index, local: false)
    }

    static func isLoopback(_ ip: IPAddress) -> Bool {
        switch ip {
        case .v4(let a): a >> 24 == 127
        case .v6(let hi, let lo): (hi == 0 && lo == 1) || (hi == 0 && lo >> 32 == 0xFFFF && (lo >> 24) & 0xFF == 127)
        }
    }

    static func prefix(_ network: IPAddress, contains ip: IPAddress, length: Int) -> Bool {
        switch (network, ip) {
        case (.v4(let n), .v4(let a)):
            guard length > 0 else { return true }
            let mask = length >= 32 ? UInt32.max : ~(UInt32.max >> UInt32(length))
            return n & mask == a & mask
        case (.v6(let nh, let nl), .v6(let ah, let al)):
            func mask(_ bits: Int) -> UInt64 { bits <= 0 ? 0 : bits >= 64 ? UInt64.max : ~(UInt64.max >> UInt64(bits)) }
            return nh & mask(length) == ah & mask(length) && nl & mask(length - 64) == al & mask(length - 64)
        default:
            return false
        }
    }

    static func read(_ path: String) -> String {
        guard let file = fopen(path, "r") else { return "" }
        defer { fclose(file) }
        var text = ""
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            text += String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return text
    }

    /// `/proc/net/route`: Iface, Destination, Gateway, Flags, RefCnt, Use, Metric, Mask, ...;
    /// addresses as the kernel's in-memory 32-bit words in hexadecimal.
    static func parseIPv4(_ text: String) -> [Route] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            let f = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard f.count >= 8, let destination = UInt32(f[1], radix: 16), let flags = UInt32(f[3], radix: 16),
                let metric = UInt32(f[6]), let mask = UInt32(f[7], radix: 16), flags & 1 != 0
            else { return nil }
            let m = UInt32(bigEndian: mask)
            return Route(
                destination: .v4(UInt32(bigEndian: destination)), prefixLength: m.nonzeroBitCount, metric: metric,
                interface: String(f[0]))
        }
    }

    /// `/proc/net/ipv6_route`: destination, its prefix length, source, its length, next hop,
    /// metric, use, reference count, flags, interface; hexadecimal, addresses in network order.
    static func parseIPv6(_ text: String) -> [Route] {
        text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 10, f[0].count == 32, let length = Int(f[1], radix: 16), let metric = UInt32(f[5], radix: 16),
                let flags = UInt32(f[8], radix: 16), flags & 1 != 0, flags & 0x200 == 0,
                let hi = UInt64(f[0].prefix(16), radix: 16), let lo = UInt64(f[0].suffix(16), radix: 16)
            else { return nil }
            return Route(destination: .v6(hi, lo), prefixLength: length, metric: metric, interface: String(f[9]))
        }
    }
}
