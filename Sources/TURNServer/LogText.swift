/// Peer-supplied text (a USERNAME, say) made safe for one log line: control characters (C0,
/// DEL, C1), line and paragraph separators and bidirectional overrides become `\n`, `\r`, `\t`
/// or `\u{XX}`, and a backslash becomes `\\`, so a value can neither end the line nor forge
/// another one, nor pass for an escape it is not.
public enum LogText {
    static func needsEscape(_ v: UInt32) -> Bool {
        v < 0x20 || v == 0x5C || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029
            || (0x200E...0x200F).contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
    }

    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { needsEscape($0.value) }) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            let v = scalar.value
            guard needsEscape(v) else { out.unicodeScalars.append(scalar); continue }
            switch v {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x5C: out += "\\\\"
            default: out += "\\u{" + String(v, radix: 16, uppercase: true) + "}"
            }
        }
        return out
    }
}
