/// An XMPP address, `localpart@domainpart/resourcepart` (RFC 7622 §3).
///
/// Parsing checks the structure and the length limits (1023 bytes each part); domain parts are
/// lower-cased. Full PRECIS enforcement of the localpart is not done (a server does it).
public struct JID: Sendable, Hashable, CustomStringConvertible, Comparable {
    public let localpart: String?
    public let domainpart: String
    public let resourcepart: String?

    public init(localpart: String?, domainpart: String, resourcepart: String? = nil) {
        self.localpart = localpart
        self.domainpart = Self.lowercased(domainpart)
        self.resourcepart = resourcepart
    }

    /// Parses a JID string; returns nil when it is malformed (RFC 7622 §3.1-3.4).
    ///
    /// Works on the UTF-8 bytes: the separators and the characters a localpart may not hold
    /// are ASCII, and no byte of a multi-byte UTF-8 sequence is ASCII (every stanza's `from` and
    /// `to` pass through here, so Character-by-Character scanning showed in profiles).
    public init?(_ string: String) {
        let bytes = string.utf8
        var rest = bytes[...]
        var resource: String? = nil
        if let slash = rest.firstIndex(of: UInt8(ascii: "/")) {
            let r = rest[rest.index(after: slash)...]
            guard !r.isEmpty, r.count <= 1023 else { return nil }
            resource = String(decoding: r, as: UTF8.self)
            rest = rest[..<slash]
        }
        var local: String? = nil
        if let at = rest.firstIndex(of: UInt8(ascii: "@")) {
            let l = rest[..<at]
            guard !l.isEmpty, l.count <= 1023, !l.contains(where: Self.forbiddenInLocalpart) else { return nil }
            local = String(decoding: l, as: UTF8.self)
            rest = rest[rest.index(after: at)...]
        }
        var domain = rest
        if domain.last == UInt8(ascii: ".") { domain = domain.dropLast() }
        guard !domain.isEmpty, domain.count <= 1023, !domain.contains(UInt8(ascii: "@")) else { return nil }
        let domainString = String(decoding: domain, as: UTF8.self)
        if domain.allSatisfy({ $0 < 0x80 }) {
            guard !domain.contains(where: { $0 == 0x20 || (0x09...0x0D).contains($0) }) else { return nil }
        } else {
            guard !domainString.contains(where: { $0.isWhitespace }) else { return nil }
        }
        self.init(localpart: local, domainpart: domainString, resourcepart: resource)
    }

    /// RFC 7622 §3.3.1: `"&'/:<>@` and space may not appear in a localpart.
    private static func forbiddenInLocalpart(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "/"), UInt8(ascii: ":"),
            UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"), UInt8(ascii: " "):
            true
        default:
            false
        }
    }

    /// `domain` lower-cased; an ASCII domain with no capitals is returned as it is.
    private static func lowercased(_ domain: String) -> String {
        domain.utf8.contains(where: { $0 >= 0x80 || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) ? domain.lowercased() : domain
    }

    /// The JID without its resource.
    public var bare: JID { JID(localpart: localpart, domainpart: domainpart) }
    public var isBare: Bool { resourcepart == nil }
    public var isFull: Bool { resourcepart != nil }

    /// The same account with another resource.
    public func with(resource: String?) -> JID { JID(localpart: localpart, domainpart: domainpart, resourcepart: resource) }

    public var description: String {
        var s = ""
        if let localpart { s += localpart + "@" }
        s += domainpart
        if let resourcepart { s += "/" + resourcepart }
        return s
    }

    public static func < (lhs: JID, rhs: JID) -> Bool { lhs.description < rhs.description }
}
