import XMLModel
import XMPPCore

/// The Jingle-specific error conditions (XEP-0166 §10), carried in an IQ error next to a
/// stanza error condition.
public enum JingleErrorCondition: String, Sendable, Hashable, CaseIterable, Codable {
    case outOfOrder = "out-of-order"
    case tieBreak = "tie-break"
    case unknownSession = "unknown-session"
    case unsupportedInfo = "unsupported-info"
    /// XEP-0166 §7.2.x security-required (listed in the errors namespace as well).
    case securityRequired = "security-required"

    /// The RFC 6120 condition XEP-0166 pairs with this one.
    public var stanzaCondition: StanzaError.Condition {
        switch self {
        case .outOfOrder: .unexpectedRequest
        case .tieBreak: .conflict
        case .unknownSession: .itemNotFound
        case .unsupportedInfo: .featureNotImplemented
        case .securityRequired: .notAcceptable
        }
    }

    public var element: XMLElement { XMLElement(rawValue, namespace: JingleNamespace.errors) }

    /// The stanza error XEP-0166 §10 prescribes for this condition.
    public var stanzaError: StanzaError {
        let type: StanzaError.ErrorType =
            switch self {
            case .outOfOrder: .wait
            case .tieBreak, .unknownSession, .securityRequired: .cancel
            case .unsupportedInfo: .modify
            }
        return StanzaError(stanzaCondition, type: type, applicationCondition: element)
    }

    /// The Jingle condition of a received stanza error, if it has one.
    public init?(error: StanzaError) {
        guard let app = error.applicationCondition, app.namespace == JingleNamespace.errors,
            let c = JingleErrorCondition(rawValue: app.name)
        else { return nil }
        self = c
    }
}
