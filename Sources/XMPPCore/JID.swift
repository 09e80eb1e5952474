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
        self.domainpart = domainpart.lowercased()
        self.resourcepart = resourcepart
    }

    /// Parses a JID string; returns nil when it is malformed (RFC 7622 §3.1-3.4).
    public init?(_ string: String) {
        var rest = Substring(string)
        var resource: String? = nil
        if let slash = rest.firstIndex(of: "/") {
            let r = rest[rest.index(after: slash)...]
            guard !r.isEmpty, r.utf8.count <= 1023 else { return nil }
            resource = String(r)
            rest = rest[..<slash]
        }
        var local: String? = nil
        if let at = rest.firstIndex(of: "@") {
            let l = rest[..<at]
            guard !l.isEmpty, l.utf8.count <= 1023,
                  !l.contains(where: { "\"&'/:<>@ ".contains($0) }) else { return nil }
            local = String(l)
            rest = rest[rest.index(after: at)...]
        }
        var domain = rest
        if domain.hasSuffix(".") { domain = domain.dropLast() }
        guard !domain.isEmpty, domain.utf8.count <= 1023, !domain.contains("@"),
              !domain.contains(where: { $0.isWhitespace }) else { return nil }
        self.init(localpart: local, domainpart: String(domain), resourcepart: resource)
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
