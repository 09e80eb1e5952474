import XMLModel

/// Everything that can end an XMPP session or fail a request, each with a one-line description
/// a person can act on (RFC 6120 §4.9 stream errors, §6.5 SASL failures, §7 binding, §8.3 stanza errors).
public enum XMPPError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The server sent `<stream:error/>` (RFC 6120 §4.9.3).
    case stream(StreamError)
    /// The server answered our SASL exchange with `<failure/>` (RFC 6120 §6.5).
    case sasl(SASLFailure)
    /// None of the mechanisms we accept is usable; `reason` names what was offered and why not.
    case noUsableMechanism(offered: [String], reason: String)
    /// The SASL exchange itself broke: a malformed challenge, or a server signature that does not
    /// verify (RFC 5802 §5: the server does not know the password, so it is not the real server).
    case authentication(reason: String)
    /// The server did not offer STARTTLS (RFC 6120 §5.3.1) and plaintext was not allowed.
    case tlsRequiredButNotOffered
    /// The TLS negotiation or handshake failed (certificate, protocol, `<failure/>` from the server).
    case tls(reason: String)
    /// Resource binding failed (RFC 6120 §7.6.2), or the server offered none.
    case bind(reason: String)
    /// The legacy session establishment (RFC 3921 §3) failed.
    case session(reason: String)
    /// A request was answered with a stanza error (RFC 6120 §8.3).
    case stanza(StanzaError)
    /// No answer in time; `what` names what we waited for.
    case timeout(what: String)
    /// The TCP connection ended, or could not be made.
    case connectionLost(reason: String)
    /// The server could not be reached (DNS, refused, unreachable).
    case unreachable(reason: String)
    /// The server sent bytes that are not acceptable XML; the parser's message.
    case malformedXML(String)
    /// The server broke the protocol in some other way (an unexpected element, a bad header).
    case protocolViolation(String)
    /// The operation needs a connected, negotiated session.
    case notConnected

    public var description: String {
        switch self {
        case .stream(let e): "stream error from server: \(e)"
        case .sasl(let f): "authentication failed: \(f)"
        case .noUsableMechanism(let offered, let reason):
            "authentication failed: no usable SASL mechanism (offered: \(offered.isEmpty ? "none" : offered.joined(separator: " "))): \(reason)"
        case .authentication(let reason): "authentication failed: \(reason)"
        case .tlsRequiredButNotOffered: "TLS required but the server does not offer STARTTLS"
        case .tls(let reason): "TLS failed: \(reason)"
        case .bind(let reason): "resource binding failed: \(reason)"
        case .session(let reason): "session establishment failed: \(reason)"
        case .stanza(let e): "request failed: \(e)"
        case .timeout(let what): "timed out waiting for \(what)"
        case .connectionLost(let reason): "connection lost: \(reason)"
        case .unreachable(let reason): "server unreachable: \(reason)"
        case .malformedXML(let message): "malformed XML from server: \(message)"
        case .protocolViolation(let message): "protocol violation by server: \(message)"
        case .notConnected: "not connected"
        }
    }
}
