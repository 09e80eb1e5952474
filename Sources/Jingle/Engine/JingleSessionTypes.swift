import XMPPCore

/// A content's identity within a session: its creator and name (XEP-0166 §7.3).
public struct ContentKey: Sendable, Hashable {
    public var creator: Creator
    public var name: ContentName
    public init(_ creator: Creator, _ name: ContentName) {
        self.creator = creator
        self.name = name
    }
}

extension Content {
    public var key: ContentKey { ContentKey(creator, name) }
}

/// What a session engine asks its driver to do: send an IQ set (XEP-0166 §7.2 action) or the
/// IQ result/error answering one (XEP-0166 §7.2, §10), or tell the application.
public enum JingleSessionOutput: Sendable, Hashable {
    /// Send this IQ (a request, or the answer to the peer's request).
    case send(IQ)
    /// Tell the application.
    case event(JingleSessionEvent)
}

/// What happened in a session, for the application (XEP-0166 §7.2 actions as received).
public enum JingleSessionEvent: Sendable, Hashable {
    /// The peer sent an action we accepted (acknowledged with an IQ result); the model is attached.
    case received(JingleElement)
    /// The peer acknowledged our action.
    case acknowledged(JingleAction)
    /// The peer answered our action with an error; the session survives unless `ended` follows.
    case rejected(JingleAction, StanzaError)
    /// The peer did not answer our action in time.
    case timedOut(JingleAction)
    /// The session became active (session-accept sent or received).
    case active
    /// The session ended; `byPeer` tells whether the peer terminated it.
    case ended(Reason?, byPeer: Bool)
}

/// Our own misuse of a session, thrown locally (never sent): an action the XEP-0166 §6-7 rules
/// forbid in this phase or for this content.
public enum JingleSessionError: Error, Sendable, Hashable, CustomStringConvertible {
    case illegalAction(JingleAction, phase: SessionPhase, role: Creator)
    case unknownContent(ContentKey)
    /// A content-add whose creator is not the sender, or whose content already exists.
    case illegalContent(ContentKey)
    case nothingPending(JingleAction, ContentKey)
    case wrongSession(String)

    public var description: String {
        switch self {
        case let .illegalAction(a, phase, role): "\(role.rawValue) may not send \(a.rawValue) while the session is \(phase.rawValue)"
        case let .unknownContent(k): "no content '\(k.name)' created by \(k.creator.rawValue)"
        case let .illegalContent(k): "content-add of '\(k.name)' created by \(k.creator.rawValue) is not allowed"
        case let .nothingPending(a, k): "\(a.rawValue) for '\(k.name)' answers nothing pending"
        case let .wrongSession(sid): "action for session '\(sid)' sent through another session"
        }
    }
}

/// Timers of a session (XEP-0166 leaves values to implementations).
public struct JingleSessionTimeouts: Sendable, Hashable {
    /// How long the initiator waits for session-accept before terminating with `<timeout/>`.
    public var answer: Duration
    /// How long we wait for the peer's IQ result to each request.
    public var response: Duration

    public init(answer: Duration = .seconds(60), response: Duration = .seconds(30)) {
        self.answer = answer
        self.response = response
    }
}
