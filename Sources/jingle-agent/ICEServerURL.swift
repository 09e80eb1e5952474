import Transport

/// A STUN or TURN server URI: `stun:HOST[:PORT]` (RFC 7064), `turn:HOST[:PORT][?transport=udp|tcp]`
/// and `turns:HOST[:PORT][?transport=tcp]` (RFC 7065). HOST is an IP literal (`[...]` for IPv6)
/// or a host name, resolved (getaddrinfo, IPv4 and IPv6) when each call starts, since the ICE
/// agent wants addresses. Default ports: 3478, and 5349 for `turns`.
struct ICEServerURL: Sendable, Equatable, CustomStringConvertible {
    enum Scheme: String, Sendable { case stun, turn, turns }
    enum TransportProtocol: String, Sendable { case udp, tcp }

    var scheme: Scheme
    var host: String
    var port: UInt16
    var transport: TransportProtocol

    var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return scheme == .stun ? "stun:\(h):\(port)" : "\(scheme.rawValue):\(h):\(port)?transport=\(transport.rawValue)"
    }

    var needsCredentials: Bool { scheme != .stun }

    init(scheme: Scheme, host: String, port: UInt16, transport: TransportProtocol) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.transport = transport
    }

    /// Parses a URI; the error says what part is wrong.
    init(parsing text: String) throws(ICEServerURLError) {
        guard let colon = text.firstIndex(of: ":") else { throw .init(text, "expected stun:, turn: or turns:") }
        guard let scheme = Scheme(rawValue: text[..<colon].lowercased()) else {
            throw .init(text, "unknown scheme '\(text[..<colon])' (expected stun, turn or turns)")
        }
        var rest = Substring(text[text.index(after: colon)...])
        if rest.hasPrefix("//") { throw .init(text, "no '//' after the scheme (RFC 7064: stun:HOST[:PORT])") }
        var query: Substring? = nil
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        let host: String
        var portText: Substring? = nil
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .init(text, "missing ']' after an IPv6 address") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .init(text, "unexpected '\(after)' after the address") }
                portText = after.dropFirst()
            }
            guard IPAddressText.isIPv6(host) else { throw .init(text, "'\(host)' is not an IPv6 address") }
        } else {
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw .init(text, "put an IPv6 address in brackets: [ADDRESS]:PORT") }
            host = String(parts[0])
            if parts.count == 2 { portText = parts[1] }
            guard !host.isEmpty else { throw .init(text, "missing host") }
            guard IPAddressText.isIPv4(host) || IPAddressText.isHostName(host) else {
                throw .init(text, "'\(host)' is neither an IPv4 address nor a host name")
            }
        }
        var port: UInt16 = scheme == .turns ? 5349 : 3478
        if let portText {
            guard let p = UInt16(portText), p > 0 else { throw .init(text, "'\(portText)' is not a port (1-65535)") }
            port = p
        }
        var transport: TransportProtocol = scheme == .turns ? .tcp : .udp
        if let query {
            guard scheme != .stun else { throw .init(text, "stun: takes no '?transport='") }
            for pair in query.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard kv.count == 2, kv[0].lowercased() == "transport" else {
                    throw .init(text, "unknown parameter '\(pair)' (only transport=udp|tcp)")
                }
                guard let t = TransportProtocol(rawValue: kv[1].lowercased()) else {
                    throw .init(text, "transport must be udp or tcp, not '\(kv[1])'")
                }
                transport = t
            }
            if scheme == .turns, transport == .udp { throw .init(text, "turns: runs over TLS, so transport=udp is not possible") }
        }
        self.init(scheme: scheme, host: host, port: port, transport: transport)
    }

    /// The server for the ICE agent, with TURN credentials where needed.
    func server(username: String?, password: String?) throws(ICEServerURLError) -> ICEServer {
        if scheme == .stun { return ICEServer(address: host, port: port, kind: .stun) }
        guard let username, let password else {
            throw .init(description, "a TURN server needs --ice-username and --ice-password-file")
        }
        let kind: ICEServer.Kind
        switch (scheme, transport) {
        case (.turn, .udp): kind = .turnUDP(username: username, password: password)
        case (.turn, .tcp): kind = .turnTCP(username: username, password: password)
        case (.turns, _), (.stun, _): kind = .turnTLS(username: username, password: password)
        }
        return ICEServer(address: host, port: port, kind: kind)
    }
}

struct ICEServerURLError: Error, Equatable, CustomStringConvertible {
    var url: String
    var problem: String
    init(_ url: String, _ problem: String) {
        self.url = url
        self.problem = problem
    }
    var description: String { "ICE server '\(url)': \(problem)" }
}

/// Textual checks of IP literals, without resolving anything.
enum IPAddressText {
    static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { p in
                !p.isEmpty && p.count <= 3 && p.allSatisfy(\.isASCIIDigit) && (Int(p) ?? 256) <= 255
            }
    }

    /// A DNS name (RFC 1123 labels: letters, digits, hyphens inside; not all digits).
    static func isHostName(_ s: String) -> Bool {
        let name = s.hasSuffix(".") ? String(s.dropLast()) : s
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard
            labels.allSatisfy({ label in
                !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            })
        else { return false }
        return !(labels.last ?? "").allSatisfy(\.isASCIIDigit)
    }

    static func isIPv6(_ s: String) -> Bool {
        guard s.contains(":"), s.count <= 45 else { return false }
        var text = Substring(s)
        var groupsAllowed = 8
        if let lastColon = text.lastIndex(of: ":"), text[text.index(after: lastColon)...].contains(".") {
            guard isIPv4(String(text[text.index(after: lastColon)...])) else { return false }
            text = text[...lastColon]
            if !text.hasSuffix("::") { text = text.dropLast() }
            groupsAllowed = 6
        }
        let halves = text.components(separatedByString: "::")
        guard halves.count <= 2 else { return false }
        var groups = 0
        for half in halves where !half.isEmpty {
            for g in half.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, g.allSatisfy(\.isHexDigit) else { return false }
                groups += 1
            }
        }
        return halves.count == 2 ? groups < groupsAllowed : groups == groupsAllowed
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension Substring {
    func components(separatedByString separator: String) -> [Substring] {
        var result: [Substring] = []
        var rest = self
        while let r = rest.firstRange(of: separator) {
            result.append(rest[..<r.lowerBound])
            rest = rest[r.upperBound...]
        }
        result.append(rest)
        return result
    }
}
