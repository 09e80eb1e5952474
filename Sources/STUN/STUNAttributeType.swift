/// Attribute type codes from the IANA STUN registry: RFC 8489 §18.3, RFC 8656 §18, RFC 8445 §16.1.
public struct STUNAttributeType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let mappedAddress = STUNAttributeType(rawValue: 0x0001)
    public static let username = STUNAttributeType(rawValue: 0x0006)
    public static let messageIntegrity = STUNAttributeType(rawValue: 0x0008)
    public static let errorCode = STUNAttributeType(rawValue: 0x0009)
    public static let unknownAttributes = STUNAttributeType(rawValue: 0x000A)
    public static let channelNumber = STUNAttributeType(rawValue: 0x000C)
    public static let lifetime = STUNAttributeType(rawValue: 0x000D)
    public static let xorPeerAddress = STUNAttributeType(rawValue: 0x0012)
    public static let data = STUNAttributeType(rawValue: 0x0013)
    public static let realm = STUNAttributeType(rawValue: 0x0014)
    public static let nonce = STUNAttributeType(rawValue: 0x0015)
    public static let xorRelayedAddress = STUNAttributeType(rawValue: 0x0016)
    public static let requestedAddressFamily = STUNAttributeType(rawValue: 0x0017)
    public static let evenPort = STUNAttributeType(rawValue: 0x0018)
    public static let requestedTransport = STUNAttributeType(rawValue: 0x0019)
    public static let dontFragment = STUNAttributeType(rawValue: 0x001A)
    public static let messageIntegritySHA256 = STUNAttributeType(rawValue: 0x001C)
    public static let passwordAlgorithm = STUNAttributeType(rawValue: 0x001D)
    public static let userhash = STUNAttributeType(rawValue: 0x001E)
    public static let xorMappedAddress = STUNAttributeType(rawValue: 0x0020)
    public static let reservationToken = STUNAttributeType(rawValue: 0x0022)
    public static let priority = STUNAttributeType(rawValue: 0x0024)
    /// RFC 6062 §6.2.1.
    public static let connectionID = STUNAttributeType(rawValue: 0x002A)
    public static let useCandidate = STUNAttributeType(rawValue: 0x0025)
    public static let additionalAddressFamily = STUNAttributeType(rawValue: 0x8000)
    /// The codepoint ADDITIONAL-ADDRESS-FAMILY had before RFC 8656 registered 0x8000, which
    /// coturn (and `turnutils_uclient -Z`) still send; read as the same attribute, never written.
    public static let legacyAdditionalAddressFamily = STUNAttributeType(rawValue: 0x8032)
    public static let addressErrorCode = STUNAttributeType(rawValue: 0x8001)
    public static let passwordAlgorithms = STUNAttributeType(rawValue: 0x8002)
    public static let software = STUNAttributeType(rawValue: 0x8022)
    public static let alternateServer = STUNAttributeType(rawValue: 0x8023)
    public static let fingerprint = STUNAttributeType(rawValue: 0x8028)
    public static let iceControlled = STUNAttributeType(rawValue: 0x8029)
    public static let iceControlling = STUNAttributeType(rawValue: 0x802A)

    /// Types 0x0000-0x7FFF are comprehension-required (RFC 8489 §14).
    public var isComprehensionRequired: Bool { rawValue < 0x8000 }

    public var description: String { "0x" + String(rawValue, radix: 16) }
}
