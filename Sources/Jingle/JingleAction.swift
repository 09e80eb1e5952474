/// The 15 values of the `action` attribute of `<jingle/>` (XEP-0166 §7.2).
public enum JingleAction: String, Sendable, Hashable, CaseIterable, Codable {
    case contentAccept = "content-accept"
    case contentAdd = "content-add"
    case contentModify = "content-modify"
    case contentReject = "content-reject"
    case contentRemove = "content-remove"
    case descriptionInfo = "description-info"
    case securityInfo = "security-info"
    case sessionAccept = "session-accept"
    case sessionInfo = "session-info"
    case sessionInitiate = "session-initiate"
    case sessionTerminate = "session-terminate"
    case transportAccept = "transport-accept"
    case transportInfo = "transport-info"
    case transportReject = "transport-reject"
    case transportReplace = "transport-replace"
}

/// Which party created a content (XEP-0166 §7.3 'creator').
public enum Creator: String, Sendable, Hashable, CaseIterable, Codable {
    case initiator, responder
}

/// Which parties send media for a content (XEP-0166 §7.3 'senders').
public enum Senders: String, Sendable, Hashable, CaseIterable, Codable {
    case both, initiator, none, responder
}

/// The name of a content, unique per creator within a session (XEP-0166 §7.3 'name'); it is
/// also the SDP `mid` (XEP-0338).
public struct ContentName: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ value: String) { rawValue = value }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }
}
