import CryptoPrimitives

/// The 96-bit transaction ID of a STUN message (RFC 8489 §5), chosen uniformly at random by the
/// client for each new transaction.
public struct TransactionID: Hashable, Sendable, CustomStringConvertible {
    /// The 12 bytes as two integers, so the value is cheap to copy and hash.
    public let high: UInt32
    public let low: UInt64

    /// The 12 bytes in wire order.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(12)
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(high >> UInt32(shift) & 0xFF)) }
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(low >> UInt64(shift) & 0xFF)) }
        return out
    }

    /// Builds an ID from exactly 12 bytes; nil otherwise.
    public init?<C: Collection<UInt8>>(bytes: C) {
        let b = Array(bytes)
        guard b.count == 12 else { return nil }
        var h: UInt32 = 0
        var l: UInt64 = 0
        for i in 0..<4 { h = h << 8 | UInt32(b[i]) }
        for i in 4..<12 { l = l << 8 | UInt64(b[i]) }
        high = h
        low = l
    }

    init(high: UInt32, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// A fresh random ID from the secure generator.
    public static func random() -> TransactionID {
        // SecureRandom always returns the requested count.
        TransactionID(bytes: SecureRandom.bytes(12)) ?? TransactionID(high: 0, low: 0)
    }

    public var description: String {
        bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
    }
}
