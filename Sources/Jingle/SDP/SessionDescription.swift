/// One `<type>=<value>` line of an SDP description (RFC 8866 §5). Lines the mapping does not
/// understand are kept in this form and written back unchanged.
public struct SDPLine: Sendable, Hashable, CustomStringConvertible {
    public var type: Character
    public var value: String

    public init(_ type: Character, _ value: String) {
        self.type = type
        self.value = value
    }

    /// An attribute line `a=name` or `a=name:value`.
    public static func attribute(_ name: String, _ value: String? = nil) -> SDPLine {
        SDPLine("a", value.map { "\(name):\($0)" } ?? name)
    }

    /// For an `a=` line, its name and optional value.
    public var attribute: (name: String, value: String?)? {
        guard type == "a" else { return nil }
        if let colon = value.firstIndex(of: ":") {
            return (String(value[..<colon]), String(value[value.index(after: colon)...]))
        }
        return (value, nil)
    }

    public var description: String { "\(type)=\(value)" }
}

/// The origin line `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`
/// (RFC 8866 §5.2).
public struct SDPOrigin: Sendable, Hashable {
    public var username: String
    public var sessionID: String
    public var sessionVersion: String
    public var networkType: String
    public var addressType: String
    public var address: String

    public init(
        username: String = "-", sessionID: String, sessionVersion: String = "2", networkType: String = "IN",
        addressType: String = "IP4", address: String = "127.0.0.1"
    ) {
        self.username = username
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.networkType = networkType
        self.addressType = addressType
        self.address = address
    }

    var value: String { "\(username) \(sessionID) \(sessionVersion) \(networkType) \(addressType) \(address)" }
}

/// A media description: the `m=<media> <port>[/<n>] <proto> <fmt> ...` line and the lines
/// after it up to the next `m=` (RFC 8866 §5.14).
public struct MediaDescription: Sendable, Hashable {
    public var media: String
    public var port: UInt16
    public var numberOfPorts: UInt16?
    public var proto: String
    public var formats: [String]
    /// Every line after `m=`, in order (c=, b=, a=, and unknown types).
    public var lines: [SDPLine]

    public init(media: String, port: UInt16 = 9, numberOfPorts: UInt16? = nil, proto: String, formats: [String], lines: [SDPLine] = []) {
        self.media = media
        self.port = port
        self.numberOfPorts = numberOfPorts
        self.proto = proto
        self.formats = formats
        self.lines = lines
    }

    /// Values of every `a=name:...` line (or "" for a flag), in order.
    public func attributes(_ name: String) -> [String] {
        lines.compactMap { l in l.attribute.flatMap { $0.name == name ? ($0.value ?? "") : nil } }
    }

    public func hasAttribute(_ name: String) -> Bool { !attributes(name).isEmpty }

    var mLine: String {
        let p = numberOfPorts.map { "\(port)/\($0)" } ?? "\(port)"
        return ([media, p, proto] + formats).joined(separator: " ")
    }
}

/// An SDP session description (RFC 8866 §5): the session-level lines and the media descriptions.
/// Parsing keeps every line, so serialising a parsed description gives the same lines back.
public struct SessionDescription: Sendable, Hashable, CustomStringConvertible {
    public var version: Int
    public var origin: SDPOrigin
    public var sessionName: String
    /// Session-level lines after `s=`, in order (t=, c=, b=, a=, and others).
    public var lines: [SDPLine]
    public var media: [MediaDescription]

    public init(
        version: Int = 0, origin: SDPOrigin, sessionName: String = "-", lines: [SDPLine] = [SDPLine("t", "0 0")],
        media: [MediaDescription] = []
    ) {
        self.version = version
        self.origin = origin
        self.sessionName = sessionName
        self.lines = lines
        self.media = media
    }

    /// Values of every session-level `a=name:...` line.
    public func attributes(_ name: String) -> [String] {
        lines.compactMap { l in l.attribute.flatMap { $0.name == name ? ($0.value ?? "") : nil } }
    }

    /// The description as SDP text with CRLF line endings (RFC 8866 §5).
    public var description: String {
        var out = "v=\(version)\r\no=\(origin.value)\r\ns=\(sessionName)\r\n"
        for l in lines { out += l.description + "\r\n" }
        for m in media {
            out += "m=\(m.mLine)\r\n"
            for l in m.lines { out += l.description + "\r\n" }
        }
        return out
    }
}
