#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The agent's configuration file: INI-like `key = value` lines grouped in `[section]`s.
///
/// ```ini
/// # comments start with # or ;
/// [account]
/// jid = alice@example.com/agent
/// password-file = alice.password     # relative paths are relative to this file
/// server = xmpp.example.com:5222
/// ca-file = ca.pem
///
/// [media]
/// ice-server = turn:198.51.100.7:3478?transport=udp
/// ice-username = alice
/// ice-password-file = turn.password
/// local-address = 192.0.2.10
/// relay-only = false
/// ```
///
/// Keys may repeat only where the value is a list (`ice-server`, `local-address`). A bad line is
/// reported with the file, the line number and the key.
struct ConfigFile: Sendable, Equatable {
    /// One `key = value`, where it was written.
    struct Entry: Sendable, Equatable {
        var section: String
        var key: String
        var value: String
        var line: Int
    }

    /// The keys each section accepts, and whether they may repeat.
    static let schema: [String: [String: Bool]] = [
        "account": ["jid": false, "password": false, "password-file": false, "server": false, "ca-file": false],
        "media": [
            "ice-server": true, "ice-username": false, "ice-password-file": false, "local-address": true,
            "relay-only": false, "discover-servers": false, "bitrate": false, "fec": false, "dtx": false,
        ],
    ]

    var path: String
    var entries: [Entry]

    /// The single value of `key` in `section`, if present.
    func value(_ section: String, _ key: String) -> Entry? {
        entries.last { $0.section == section && $0.key == key }
    }

    func values(_ section: String, _ key: String) -> [Entry] {
        entries.filter { $0.section == section && $0.key == key }
    }

    /// A path value resolved against the directory of the configuration file.
    func resolvePath(_ value: String) -> String {
        if value.hasPrefix("/") { return value }
        if value.hasPrefix("~/"), let home = getenv("HOME") { return String(cString: home) + value.dropFirst() }
        guard let slash = path.lastIndex(of: "/") else { return value }
        return String(path[..<slash]) + "/" + value
    }

    /// A boolean value: true/false, yes/no, on/off, 1/0.
    func bool(_ entry: Entry) throws(ConfigFileError) -> Bool {
        switch entry.value.lowercased() {
        case "true", "yes", "on", "1": return true
        case "false", "no", "off", "0": return false
        default: throw ConfigFileError(path: path, line: entry.line, key: entry.key, problem: "'\(entry.value)' is not true or false")
        }
    }

    func int(_ entry: Entry, in range: ClosedRange<Int>) throws(ConfigFileError) -> Int {
        guard let n = Int(entry.value), range.contains(n) else {
            throw ConfigFileError(
                path: path, line: entry.line, key: entry.key,
                problem: "'\(entry.value)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    /// Reads and parses the file at `path`.
    static func load(_ path: String) throws(ConfigFileError) -> ConfigFile {
        guard let text = readTextFile(path, limit: 1 << 20) else {
            throw ConfigFileError(path: path, line: nil, key: nil, problem: "cannot read the file")
        }
        return try parse(text, path: path)
    }

    /// Parses configuration text; `path` names the file in errors.
    static func parse(_ text: String, path: String) throws(ConfigFileError) -> ConfigFile {
        var entries: [Entry] = []
        var section: String? = nil
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = stripComment(String(rawLine)).trimmed
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else {
                    throw ConfigFileError(path: path, line: lineNumber, key: nil, problem: "a section header must end with ']'")
                }
                let name = String(line.dropFirst().dropLast()).trimmed.lowercased()
                guard schema[name] != nil else {
                    throw ConfigFileError(
                        path: path, line: lineNumber, key: nil,
                        problem: "unknown section [\(name)] (expected [account] or [media])")
                }
                section = name
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigFileError(path: path, line: lineNumber, key: nil, problem: "expected 'key = value'")
            }
            let key = String(line[..<equals]).trimmed.lowercased()
            var value = String(line[line.index(after: equals)...]).trimmed
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            guard !key.isEmpty else {
                throw ConfigFileError(path: path, line: lineNumber, key: nil, problem: "missing key before '='")
            }
            guard let section else {
                throw ConfigFileError(path: path, line: lineNumber, key: key, problem: "key outside a section (start with [account])")
            }
            guard let repeatable = schema[section]?[key] else {
                let known = (schema[section] ?? [:]).keys.sorted().joined(separator: ", ")
                throw ConfigFileError(path: path, line: lineNumber, key: key, problem: "unknown key in [\(section)] (known: \(known))")
            }
            guard !value.isEmpty else {
                throw ConfigFileError(path: path, line: lineNumber, key: key, problem: "empty value")
            }
            if !repeatable, let earlier = entries.first(where: { $0.section == section && $0.key == key }) {
                throw ConfigFileError(path: path, line: lineNumber, key: key, problem: "already set on line \(earlier.line)")
            }
            entries.append(Entry(section: section, key: key, value: value, line: lineNumber))
        }
        return ConfigFile(path: path, entries: entries)
    }

    /// Drops a `#` or `;` comment that starts a line or follows whitespace (so `a#b` stays a value).
    private static func stripComment(_ line: String) -> String {
        var previous: Character = " "
        var end = line.endIndex
        for i in line.indices {
            let c = line[i]
            if (c == "#" || c == ";"), previous == " " || previous == "\t" { end = i; break }
            previous = c
        }
        return String(line[..<end])
    }
}

/// A configuration file problem: which file, line and key, and what is wrong with it.
struct ConfigFileError: Error, Equatable, CustomStringConvertible {
    var path: String
    var line: Int?
    var key: String?
    var problem: String

    var description: String {
        var s = path
        if let line { s += ":\(line)" }
        if let key { s += ": '\(key)'" }
        return s + ": " + problem
    }
}

extension String {
    var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}

/// The contents of a small text file, or nil when it cannot be read or exceeds `limit` bytes.
func readTextFile(_ path: String, limit: Int = 65536) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n <= 0 { break }
        bytes += chunk[0..<n]
        if bytes.count > limit { return nil }
    }
    if ferror(file) != 0 { return nil }
    return String(decoding: bytes, as: UTF8.self)
}

/// The first line of a secret file, without its line ending; nil when unreadable or empty.
func readSecretFile(_ path: String) -> String? {
    guard let text = readTextFile(path) else { return nil }
    var first = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
    if first.hasSuffix("\r") { first.removeLast() }
    return first.isEmpty ? nil : first
}
