/// The phase of a Jingle session (XEP-0166 §6.1 state machine): before `session-initiate`,
/// pending (initiated, not accepted), active, ended.
public enum SessionPhase: String, Sendable, Hashable, Codable {
    case idle, pending, active, ended
}

/// The single table of which Jingle action a party may send in which phase (XEP-0166 §6-7).
/// The session engine uses it for what we send (our misuse is a thrown error) and for what we
/// receive (a violation is answered with `<unexpected-request/><out-of-order/>`).
public enum ActionLegality {
    /// Whether `sender` (a session role) may send `action` while the session is in `phase`.
    public static func isAllowed(_ action: JingleAction, in phase: SessionPhase, sender: Creator) -> Bool {
        switch (action, phase) {
        case (.sessionInitiate, .idle): sender == .initiator
        case (.sessionInitiate, _): false
        case (.sessionAccept, .pending): sender == .responder
        case (.sessionAccept, _): false
        case (.sessionTerminate, .pending), (.sessionTerminate, .active): true
        case (.sessionTerminate, _): false
        case (.sessionInfo, .pending), (.sessionInfo, .active): true
        case (.transportInfo, .pending), (.transportInfo, .active): true
        case (.transportReplace, .pending), (.transportReplace, .active): true
        case (.transportAccept, .pending), (.transportAccept, .active): true
        case (.transportReject, .pending), (.transportReject, .active): true
        case (.contentAdd, .active): true
        case (.contentAdd, .pending): sender == .initiator
        case (.contentAccept, .pending), (.contentAccept, .active): true
        case (.contentReject, .pending), (.contentReject, .active): true
        case (.contentModify, .pending), (.contentModify, .active): true
        case (.contentRemove, .pending), (.contentRemove, .active): true
        case (.descriptionInfo, .pending), (.descriptionInfo, .active): true
        case (.securityInfo, .pending), (.securityInfo, .active): true
        case (.sessionInfo, _), (.transportInfo, _), (.transportReplace, _), (.transportAccept, _), (.transportReject, _),
            (.contentAdd, _), (.contentAccept, _), (.contentReject, _), (.contentModify, _), (.contentRemove, _),
            (.descriptionInfo, _), (.securityInfo, _):
            false
        }
    }
}
