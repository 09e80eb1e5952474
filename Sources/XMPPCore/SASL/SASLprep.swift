import Foundation

/// SASLprep (RFC 4013), the stringprep profile SCRAM applies to passwords (RFC 5802 §2.2, Normalize):
/// mapping (§2.1), NFKC (§2.2) and the prohibited-output check (§2.3). The bidirectional check
/// (§2.5) is not done; a password with mixed-direction text is passed as mapped and normalised.
public enum SASLprep {
    /// The prepared string; throws when it contains a prohibited character.
    public static func prepare(_ input: String) throws(XMPPError) -> String {
        if input.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return input }
        var mapped = String.UnicodeScalarView()
        for scalar in input.unicodeScalars {
            if isNonASCIISpace(scalar.value) {
                mapped.append(" ")
            } else if !isMappedToNothing(scalar.value) {
                mapped.append(scalar)
            }
        }
        let normalized = String(mapped).precomposedStringWithCompatibilityMapping
        for scalar in normalized.unicodeScalars where isProhibited(scalar.value) {
            let hex = String(scalar.value, radix: 16, uppercase: true)
            throw .authentication(
                reason: "the password contains U+\(String(repeating: "0", count: max(0, 4 - hex.count)))\(hex), which SASLprep prohibits")
        }
        return normalized
    }

    /// RFC 3454 table C.1.2.
    static func isNonASCIISpace(_ v: UInt32) -> Bool {
        v == 0x00A0 || v == 0x1680 || (0x2000...0x200B).contains(v) || v == 0x202F || v == 0x205F || v == 0x3000
    }

    /// RFC 3454 table B.1.
    static func isMappedToNothing(_ v: UInt32) -> Bool {
        v == 0x00AD || v == 0x034F || v == 0x1806 || (0x180B...0x180D).contains(v) || (0x200B...0x200D).contains(v)
            || v == 0x2060 || (0xFE00...0xFE0F).contains(v) || v == 0xFEFF
    }

    /// RFC 4013 §2.3: RFC 3454 tables C.1.2 (spaces are already mapped), C.2.1-C.9.
    static func isProhibited(_ v: UInt32) -> Bool {
        if v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) { return true } // C.2.1, C.2.2
        if [0x06DD, 0x070F, 0x180E, 0x200C, 0x200D, 0x2028, 0x2029, 0xFEFF].contains(v) { return true } // C.2.2
        if (0x2060...0x2063).contains(v) || (0x206A...0x206F).contains(v) || (0xFFF9...0xFFFD).contains(v) { return true }
        if (0x1D173...0x1D17A).contains(v) { return true }
        if (0xE000...0xF8FF).contains(v) || (0xF0000...0xFFFFD).contains(v) || (0x100000...0x10FFFD).contains(v) { return true } // C.3
        if (0xFDD0...0xFDEF).contains(v) || v & 0xFFFE == 0xFFFE { return true } // C.4
        if (0x2FF0...0x2FFB).contains(v) { return true } // C.7
        if v == 0x0340 || v == 0x0341 || v == 0x200E || v == 0x200F || (0x202A...0x202E).contains(v) { return true } // C.8
        if v == 0xE0001 || (0xE0020...0xE007F).contains(v) { return true } // C.9
        return false
    }
}
