/// A DNS SRV record (RFC 2782) as used to find an XMPP server (RFC 6120 §3.2.1,
/// `_xmpp-client._tcp.<domain>`), and the DNS message codec (RFC 1035 §4) for one SRV query.
/// Pure: the runtime sends the bytes and feeds back the answer.
public struct SRVRecord: Sendable, Hashable, CustomStringConvertible {
    public var priority: UInt16
    public var weight: UInt16
    public var port: UInt16
    /// The target host, without the trailing dot.
    public var target: String

    public init(priority: UInt16, weight: UInt16, port: UInt16, target: String) {
        self.priority = priority
        self.weight = weight
        self.port = port
        self.target = target
    }

    public var description: String { "\(target):\(port) (priority \(priority), weight \(weight))" }

    /// Orders records for connection attempts: by priority, then heavier weight first (RFC 2782's
    /// weighted choice made deterministic). A single record with target `.` means "no service".
    public static func connectionOrder(_ records: [SRVRecord]) -> [SRVRecord] {
        records.filter { !$0.target.isEmpty }.sorted {
            $0.priority != $1.priority ? $0.priority < $1.priority : $0.weight > $1.weight
        }
    }
}

/// Why a DNS answer could not be used.
public enum DNSError: Error, Sendable, Hashable, CustomStringConvertible {
    case malformed(String)
    case responseCode(UInt8)
    case idMismatch

    public var description: String {
        switch self {
        case .malformed(let what): "malformed DNS response: \(what)"
        case .responseCode(let code): "DNS error response code \(code)\(code == 3 ? " (no such name)" : "")"
        case .idMismatch: "DNS response id does not match the query"
        }
    }
}

/// Encodes one SRV query and decodes its response (RFC 1035 §4.1, with name compression §4.1.4).
public enum DNSSRVCodec {
    static let typeSRV: UInt16 = 33
    static let classIN: UInt16 = 1

    /// A recursive query for `name`'s SRV records.
    public static func query(id: UInt16, name: String) -> [UInt8] {
        var out: [UInt8] = []
        out.append16(id)
        out.append16(0x0100) // RD
        out.append16(1) // QDCOUNT
        out.append16(0); out.append16(0); out.append16(0)
        for label in name.split(separator: ".") where !label.isEmpty {
            let bytes = Array(label.utf8.prefix(63))
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
        out.append16(typeSRV)
        out.append16(classIN)
        return out
    }

    /// The SRV records in a response to the query with `id`. A name error (NXDOMAIN) yields no records.
    public static func parseResponse(_ bytes: [UInt8], id: UInt16) throws(DNSError) -> [SRVRecord] {
        var reader = Reader(bytes: bytes)
        let responseID = try reader.u16()
        guard responseID == id else { throw .idMismatch }
        let flags = try reader.u16()
        guard flags & 0x8000 != 0 else { throw .malformed("not a response") }
        let rcode = UInt8(flags & 0x000F)
        if rcode == 3 { return [] }
        guard rcode == 0 else { throw .responseCode(rcode) }
        let questions = try reader.u16()
        let answers = try reader.u16()
        _ = try reader.u16()
        _ = try reader.u16()
        for _ in 0..<questions {
            _ = try reader.name()
            _ = try reader.u16(); _ = try reader.u16()
        }
        var records: [SRVRecord] = []
        for _ in 0..<answers {
            _ = try reader.name()
            let type = try reader.u16()
            _ = try reader.u16()
            _ = try reader.u32()
            let length = Int(try reader.u16())
            let end = reader.offset + length
            guard end <= bytes.count else { throw .malformed("record data past the end") }
            if type == typeSRV {
                let priority = try reader.u16()
                let weight = try reader.u16()
                let port = try reader.u16()
                let target = try reader.name()
                records.append(SRVRecord(priority: priority, weight: weight, port: port, target: target))
            }
            reader.offset = end
        }
        return records
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u8() throws(DNSError) -> UInt8 {
            guard offset < bytes.count else { throw .malformed("truncated") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func u16() throws(DNSError) -> UInt16 {
            UInt16(try u8()) << 8 | UInt16(try u8())
        }

        mutating func u32() throws(DNSError) -> UInt32 {
            UInt32(try u16()) << 16 | UInt32(try u16())
        }

        /// A domain name, following compression pointers (at most 16 jumps, so loops end).
        mutating func name() throws(DNSError) -> String {
            var labels: [String] = []
            var position = offset
            var jumped = false
            var jumps = 0
            while true {
                guard position < bytes.count else { throw .malformed("truncated name") }
                let length = bytes[position]
                if length == 0 {
                    position += 1
                    break
                }
                if length & 0xC0 == 0xC0 {
                    guard position + 1 < bytes.count else { throw .malformed("truncated pointer") }
                    let target = Int(length & 0x3F) << 8 | Int(bytes[position + 1])
                    if !jumped { offset = position + 2 }
                    jumped = true
                    jumps += 1
                    guard jumps <= 16 else { throw .malformed("name compression loop") }
                    position = target
                    continue
                }
                guard length & 0xC0 == 0 else { throw .malformed("bad label type") }
                let start = position + 1
                let end = start + Int(length)
                guard end <= bytes.count else { throw .malformed("truncated label") }
                labels.append(String(decoding: bytes[start..<end], as: UTF8.self))
                position = end
            }
            if !jumped { offset = position }
            return labels.joined(separator: ".")
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate mutating func append16(_ v: UInt16) {
        append(UInt8(v >> 8))
        append(UInt8(v & 0xFF))
    }
}
