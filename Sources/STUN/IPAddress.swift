/// An IPv4 or IPv6 address as STUN carries it in its address attributes (RFC 8489 §14.1-14.2).
/// Stored as integers so that hashing and comparison on the relay's hot path are cheap.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IPv4 address, most significant byte first.
    case v4(UInt32)
    /// An IPv6 address as two 64-bit halves, most significant first.
    case v6(UInt64, UInt64)

    /// The address family, as STUN numbers it.
    public var family: AddressFamily {
        switch self {
        case .v4: .ipv4
        case .v6: .ipv6
        }
    }

    /// The address in network byte order (4 or 16 bytes).
    public var bytes: [UInt8] {
        switch self {
        case .v4(let a):
            return [UInt8(a >> 24), UInt8(a >> 16 & 0xFF), UInt8(a >> 8 & 0xFF), UInt8(a & 0xFF)]
        case .v6(let hi, let lo):
            var out = [UInt8]()
            out.reserveCapacity(16)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(hi >> UInt64(shift) & 0xFF)) }
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(lo >> UInt64(shift) & 0xFF)) }
            return out
        }
    }

    /// Builds an address from 4 or 16 bytes in network order; nil for any other length.
    public init?<C: Collection<UInt8>>(bytes: C) {
        let b = Array(bytes)
        switch b.count {
        case 4:
            self = .v4(UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3]))
        case 16:
            var hi: UInt64 = 0
            var lo: UInt64 = 0
            for i in 0..<8 { hi = hi << 8 | UInt64(b[i]) }
            for i in 8..<16 { lo = lo << 8 | UInt64(b[i]) }
            self = .v6(hi, lo)
        default:
            return nil
        }
    }

    /// Parses dotted-quad IPv4 or RFC 4291 §2.2 IPv6 text (with `::` and a trailing dotted quad).
    public init?(_ text: String) {
        if !text.contains(":") {
            guard let v4 = IPAddress.parseV4(Substring(text)) else { return nil }
            self = .v4(v4)
            return
        }
        var groups: [UInt16] = []
        var tail: [UInt16] = []
        var seenGap = false
        var rest = Substring(text)
        if rest.hasPrefix("::") {
            seenGap = true
            rest = rest.dropFirst(2)
        }
        if !rest.isEmpty || !seenGap {
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            var index = 0
            while index < parts.count {
                let part = parts[index]
                if part.isEmpty {
                    // An empty part is a `::` gap (two separators in a row), or a trailing `::`.
                    guard !seenGap else { return nil }
                    seenGap = true
                    if index == parts.count - 2 && parts[index + 1].isEmpty { break }
                    index += 1
                    continue
                }
                var values: [UInt16] = []
                if part.contains(".") {
                    guard index == parts.count - 1, let v4 = IPAddress.parseV4(part) else { return nil }
                    values = [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)]
                } else {
                    guard part.count <= 4, let v = UInt16(part, radix: 16) else { return nil }
                    values = [v]
                }
                if seenGap { tail += values } else { groups += values }
                index += 1
            }
        }
        let total = groups.count + tail.count
        if seenGap {
            guard total < 8 else { return nil }
            groups += Array(repeating: 0, count: 8 - total) + tail
        } else {
            guard total == 8 else { return nil }
        }
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        for i in 0..<4 { hi = hi << 16 | UInt64(groups[i]) }
        for i in 4..<8 { lo = lo << 16 | UInt64(groups[i]) }
        self = .v6(hi, lo)
    }

    static func parseV4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                let octet = UInt32(part), octet <= 255
            else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    public var description: String {
        switch self {
        case .v4(let a):
            return "\(a >> 24).\(a >> 16 & 0xFF).\(a >> 8 & 0xFF).\(a & 0xFF)"
        case .v6(let hi, let lo):
            var groups = [UInt16]()
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(hi >> UInt64(shift) & 0xFFFF)) }
            for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(lo >> UInt64(shift) & 0xFFFF)) }
            // Longest run of two or more zero groups becomes `::` (RFC 5952 §4.2).
            var bestStart = -1, bestLength = 1, runStart = -1
            for i in 0...8 {
                if i < 8 && groups[i] == 0 {
                    if runStart < 0 { runStart = i }
                } else if runStart >= 0 {
                    if i - runStart > bestLength { bestStart = runStart; bestLength = i - runStart }
                    runStart = -1
                }
            }
            let hex = groups.map { String($0, radix: 16) }
            if bestStart < 0 { return hex.joined(separator: ":") }
            let head = hex[0..<bestStart].joined(separator: ":")
            let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
            return head + "::" + tail
        }
    }
}

/// The address family numbers STUN uses in address attributes (RFC 8489 §14.1) and in
/// REQUESTED-ADDRESS-FAMILY / ADDITIONAL-ADDRESS-FAMILY (RFC 8656 §18.11-18.12).
public enum AddressFamily: UInt8, Hashable, Sendable {
    case ipv4 = 0x01
    case ipv6 = 0x02
}

/// An IP address and port: a STUN "transport address" (RFC 8489 §3).
public struct TransportAddress: Hashable, Sendable, CustomStringConvertible {
    public var ip: IPAddress
    public var port: UInt16

    public init(ip: IPAddress, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    /// One 64-bit word for an IPv4 address and port (relay tables hash these per packet).
    public func hash(into hasher: inout Hasher) {
        switch ip {
        case .v4(let a):
            hasher.combine(UInt64(a) << 16 | UInt64(port))
        case .v6(let hi, let lo):
            hasher.combine(hi)
            hasher.combine(lo)
            hasher.combine(port)
        }
    }

    /// Parses `1.2.3.4:5678` or `[2001:db8::1]:5678`.
    public init?(_ text: String) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()), let ip = IPAddress(host) else { return nil }
            self.init(ip: ip, port: port)
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            guard let ip = IPAddress(String(text[..<colon])), case .v4 = ip,
                let port = UInt16(text[text.index(after: colon)...])
            else { return nil }
            self.init(ip: ip, port: port)
        }
    }

    public var description: String {
        switch ip {
        case .v4: "\(ip):\(port)"
        case .v6: "[\(ip)]:\(port)"
        }
    }
}
