import XMLStream
import XMPPCore
import Jingle

/// Why a call did not meet its scenario, grouped for the failure table.
public enum FailureCause: Sendable, Hashable, CustomStringConvertible {
    /// A required `<expect>` saw nothing matching before its timeout.
    case timeout(expecting: String, line: Int)
    /// An IQ error (RFC 6120 §8.3) arrived instead, with its defined condition and any Jingle
    /// condition (XEP-0166 §10) such as `out-of-order`.
    case iqError(condition: String, jingleCondition: String?)
    /// The peer ended the session (XEP-0166 §7.4 reason) when something else was expected.
    case terminated(reason: String)
    /// The peer rejected or retracted a JMI proposal (XEP-0353 §3).
    case jmi(action: String, reason: String?)
    /// A stanza that no current step expected.
    case unexpected(stanza: String, expecting: String, line: Int)
    /// The matching stanza lacked what a capture asked for (e.g. the DTLS fingerprint).
    case missingCapture(path: String, line: Int)
    /// A send template used a variable that has no value.
    case template(String, line: Int)
    /// The XMPP connection failed to send.
    case transport(String)
    /// The run was stopped before the call finished.
    case aborted
    /// The scenario reached a `<fail message='...'/>` step.
    case asserted(String, line: Int)
    /// `--media`: ICE connectivity checks did not succeed (RFC 8445 §7) in time or failed.
    case iceFailed(String)
    /// `--media`: ICE connected but the DTLS-SRTP handshake (RFC 5763) did not complete.
    case dtlsFailed(String)
    /// `--media`: DTLS completed but no media packet from the peer was decoded in time.
    case noMedia(String)
    /// `--media`: packets arrived, but more of the played frames were concealed than
    /// `--max-concealment` allows: the peer's audio was not intelligible.
    case mediaConcealed(String)

    /// The key failures are counted under: `timeout`, `iq-error:item-not-found`,
    /// `jingle:out-of-order`, `terminate:decline`, `missing:fingerprint`, ...
    public var category: String {
        switch self {
        case .timeout: "timeout"
        case .iqError(let c, let j): j.map { "jingle:\($0)" } ?? "iq-error:\(c)"
        case .terminated(let r): "terminate:\(r)"
        case .jmi(let a, let r): "jmi-\(a)" + (r.map { ":\($0)" } ?? "")
        case .unexpected: "unexpected"
        case .missingCapture(let p, _): "missing:\(p)"
        case .template: "template"
        case .transport: "transport"
        case .aborted: "aborted"
        case .asserted: "assert"
        case .iceFailed: "ice-failed"
        case .dtlsFailed: "dtls-failed"
        case .noMedia: "no-media"
        case .mediaConcealed: "media-concealed"
        }
    }

    public var description: String {
        switch self {
        case .timeout(let e, let line): "timeout waiting for \(e) (line \(line))"
        case .iqError(let c, let j): "IQ error \(c)" + (j.map { " (Jingle \($0))" } ?? "")
        case .terminated(let r): "session terminated with reason \(r)"
        case .jmi(let a, let r): "proposal \(a)" + (r.map { " (\($0))" } ?? "")
        case .unexpected(let s, let e, let line): "unexpected \(s) while expecting \(e) (line \(line))"
        case .missingCapture(let p, let line): "matching stanza has no \(p) (line \(line))"
        case .template(let m, let line): "\(m) (line \(line))"
        case .transport(let m): "transport: \(m)"
        case .aborted: "stopped before the call finished"
        case .asserted(let m, let line): "\(m) (line \(line))"
        case .iceFailed(let m): "ICE failed: \(m)"
        case .dtlsFailed(let m): "DTLS failed: \(m)"
        case .noMedia(let m): "no media: \(m)"
        case .mediaConcealed(let m): "media concealed: \(m)"
        }
    }

    /// Classifies a stanza that arrived when no step wanted it.
    static func classify(_ stanza: XMLElement, expecting: String, line: Int) -> FailureCause {
        if stanza.name == "iq", stanza.attribute("type") == "error" {
            let error = stanza.child("error")
            let condition = error?.elements.first { $0.namespace == XMPPNamespace.stanzas }?.name ?? "undefined-condition"
            let jingle = error?.elements.first { $0.namespace == JingleNamespace.errors }?.name
            return .iqError(condition: condition, jingleCondition: jingle)
        }
        if let jingle = stanza.child("jingle", namespace: JingleNamespace.jingle),
            jingle.attribute("action") == JingleAction.sessionTerminate.rawValue
        {
            return .terminated(reason: jingle.child("reason")?.elements.first?.name ?? "none")
        }
        if let jmi = stanza.elements.first(where: { $0.namespace == JingleNamespace.jingleMessage }),
            jmi.name == "reject" || jmi.name == "retract"
        {
            return .jmi(action: jmi.name, reason: jmi.child("reason")?.elements.first?.name)
        }
        return .unexpected(stanza: describe(stanza), expecting: expecting, line: line)
    }

    /// `iq set session-accept`, `message jmi:ringing`, ...
    static func describe(_ stanza: XMLElement) -> String {
        var parts = [stanza.name]
        if let type = stanza.attribute("type") { parts.append(type) }
        if let jingle = stanza.child("jingle", namespace: JingleNamespace.jingle), let action = jingle.attribute("action") {
            parts.append(action)
        } else if let jmi = stanza.elements.first(where: { $0.namespace == JingleNamespace.jingleMessage }) {
            parts.append("jmi:\(jmi.name)")
        }
        return parts.joined(separator: " ")
    }
}

/// How a call ended.
public enum CallVerdict: Sendable, Hashable {
    case passed
    case failed(FailureCause)

    public var passed: Bool { if case .passed = self { true } else { false } }
}
