/// The ERROR-CODE attribute value (RFC 8489 §14.8) with the codes STUN and TURN define
/// (RFC 8489 §14.8, RFC 8656 §18.14, RFC 6156 §10.2).
public struct STUNErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// 300-699.
    public var code: Int
    public var reason: String

    public init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }

    public init(_ code: Int) {
        self.code = code
        self.reason = STUNErrorCode.defaultReason(code)
    }

    public static let tryAlternate = STUNErrorCode(300)
    public static let badRequest = STUNErrorCode(400)
    public static let unauthenticated = STUNErrorCode(401)
    public static let forbidden = STUNErrorCode(403)
    public static let unknownAttribute = STUNErrorCode(420)
    public static let allocationMismatch = STUNErrorCode(437)
    public static let staleNonce = STUNErrorCode(438)
    public static let addressFamilyNotSupported = STUNErrorCode(440)
    public static let wrongCredentials = STUNErrorCode(441)
    public static let unsupportedTransportProtocol = STUNErrorCode(442)
    public static let peerAddressFamilyMismatch = STUNErrorCode(443)
    /// RFC 6062 §6.3.
    public static let connectionAlreadyExists = STUNErrorCode(446)
    public static let connectionTimeoutOrFailure = STUNErrorCode(447)
    public static let allocationQuotaReached = STUNErrorCode(486)
    public static let serverError = STUNErrorCode(500)
    public static let insufficientCapacity = STUNErrorCode(508)

    static func defaultReason(_ code: Int) -> String {
        switch code {
        case 300: "Try Alternate"
        case 400: "Bad Request"
        case 401: "Unauthenticated"
        case 403: "Forbidden"
        case 420: "Unknown Attribute"
        case 437: "Allocation Mismatch"
        case 438: "Stale Nonce"
        case 440: "Address Family not Supported"
        case 441: "Wrong Credentials"
        case 442: "Unsupported Transport Protocol"
        case 443: "Peer Address Family Mismatch"
        case 446: "Connection Already Exists"
        case 447: "Connection Timeout or Failure"
        case 486: "Allocation Quota Reached"
        case 500: "Server Error"
        case 508: "Insufficient Capacity"
        default: "Error"
        }
    }

    public var description: String { "\(code) \(reason)" }
}

/// A password algorithm for the long-term credential mechanism (RFC 8489 §14.11-14.12, §18.5).
public struct PasswordAlgorithm: Hashable, Sendable {
    public var number: UInt16
    public var parameters: [UInt8]

    public init(number: UInt16, parameters: [UInt8] = []) {
        self.number = number
        self.parameters = parameters
    }

    public static let md5 = PasswordAlgorithm(number: 0x0001)
    public static let sha256 = PasswordAlgorithm(number: 0x0002)
}
