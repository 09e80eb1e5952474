import Foundation

/// Base64 (RFC 4648 §4) for SASL payloads and TURN REST passwords.
public enum Base64 {
    public static func encode<D: Collection<UInt8>>(_ data: D) -> String { Data(data).base64EncodedString() }

    /// Decodes strict Base64; returns nil for invalid input.
    public static func decode(_ string: String) -> [UInt8]? {
        guard let data = Data(base64Encoded: string) else { return nil }
        return [UInt8](data)
    }
}
