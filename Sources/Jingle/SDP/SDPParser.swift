/// Why SDP text could not be read (RFC 8866 §5 grammar); `line` is 1-based.
public struct SDPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var reason: String

    public init(line: Int, reason: String) {
        self.line = line
        self.reason = reason
    }

    public var description: String { "SDP line \(line): \(reason)" }
}

extension SessionDescription {
    /// Parses SDP text (LF or CRLF line endings). `v=`, `o=` and `s=` must come first, in order
    /// (RFC 8866 §5); every later line is kept, including unknown types and attributes.
    public init(parsing text: String) throws(SDPParseError) {
        // "\r\n" is one Character in Swift, so split on both forms.
        var rawLines: [Substring] = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }.map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        while let last = rawLines.last, last.isEmpty { rawLines.removeLast() }
        var parsed: [(Int, SDPLine)] = []
        for (index, raw) in rawLines.enumerated() {
            let n = index + 1
            guard raw.count >= 2, let type = raw.first, raw.dropFirst().first == "=" else {
                throw SDPParseError(line: n, reason: "expected '<type>=<value>', found '\(raw)'")
            }
            guard type.isASCII, type.isLetter, type.isLowercase else {
                throw SDPParseError(line: n, reason: "invalid line type '\(type)'")
            }
            // RFC 8866 §9: no value may hold CR, LF or NUL (a stray CR would not survive writing).
            guard !raw.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\0" }) else {
                throw SDPParseError(line: n, reason: "value contains a carriage return or NUL")
            }
            parsed.append((n, SDPLine(type, String(raw.dropFirst(2)))))
        }
        guard parsed.count >= 3 else { throw SDPParseError(line: parsed.count + 1, reason: "missing v=, o= or s= line") }
        guard parsed[0].1.type == "v", let v = Int(parsed[0].1.value) else {
            throw SDPParseError(line: 1, reason: "first line must be 'v=<number>'")
        }
        guard parsed[1].1.type == "o" else { throw SDPParseError(line: 2, reason: "second line must be 'o='") }
        let o = parsed[1].1.value.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard o.count == 6 else { throw SDPParseError(line: 2, reason: "o= needs 6 fields, found \(o.count)") }
        guard parsed[2].1.type == "s" else { throw SDPParseError(line: 3, reason: "third line must be 's='") }
        version = v
        origin = SDPOrigin(username: o[0], sessionID: o[1], sessionVersion: o[2], networkType: o[3], addressType: o[4], address: o[5])
        sessionName = parsed[2].1.value
        lines = []
        media = []
        for (n, line) in parsed.dropFirst(3) {
            if line.type == "m" {
                media.append(try Self.mediaLine(line.value, line: n))
            } else if media.isEmpty {
                lines.append(line)
            } else {
                media[media.count - 1].lines.append(line)
            }
        }
    }

    private static func mediaLine(_ value: String, line n: Int) throws(SDPParseError) -> MediaDescription {
        let f = value.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard f.count >= 3 else { throw SDPParseError(line: n, reason: "m= needs media, port and proto") }
        let portParts = f[1].split(separator: "/", omittingEmptySubsequences: false)
        guard let port = UInt16(portParts[0]) else { throw SDPParseError(line: n, reason: "invalid port '\(f[1])'") }
        var count: UInt16? = nil
        if portParts.count == 2 {
            guard let c = UInt16(portParts[1]) else { throw SDPParseError(line: n, reason: "invalid port count '\(f[1])'") }
            count = c
        } else if portParts.count > 2 {
            throw SDPParseError(line: n, reason: "invalid port '\(f[1])'")
        }
        return MediaDescription(media: f[0], port: port, numberOfPorts: count, proto: f[2], formats: Array(f.dropFirst(3)))
    }
}
