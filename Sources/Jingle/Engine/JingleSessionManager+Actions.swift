import XMPPCore

/// Shorthands for the actions a call runtime sends most (XEP-0166 §7.2, XEP-0167 §7,
/// XEP-0176 §5), and forgetting ended sessions. Each builds the `<jingle/>` and goes through
/// `send(_:now:)`, so the legality table applies and misuse throws.
extension JingleSessionManager {
    /// `session-accept` (XEP-0166 §7.2.8) with our answer's contents and groups.
    public mutating func accept(
        sid: String, contents: [Content], groups: [Group] = [],
        now: EngineInstant
    ) throws(JingleSessionError) -> [Output] {
        try send(JingleElement(action: .sessionAccept, sid: sid, contents: contents, groups: groups), now: now)
    }

    /// `session-terminate` (XEP-0166 §7.2.15); the session ends at once, the peer's answer is awaited.
    public mutating func terminate(sid: String, reason: Reason = Reason(.success), now: EngineInstant) throws(JingleSessionError)
        -> [Output]
    {
        try send(JingleElement(action: .sessionTerminate, sid: sid, reason: reason), now: now)
    }

    /// `session-info` with XEP-0167 §7 payloads (ringing, hold, mute...); none is a ping.
    public mutating func sessionInfo(sid: String, _ info: [RTPSessionInfo], now: EngineInstant) throws(JingleSessionError) -> [Output] {
        try send(JingleElement(action: .sessionInfo, sid: sid, info: info.map(SessionInfoPayload.rtp)), now: now)
    }

    /// `transport-info` (XEP-0176 §5.2) trickling ICE candidates for one content; it is held back
    /// until the action that introduced the content is acknowledged.
    public mutating func transportInfo(
        sid: String, content: ContentKey, ufrag: String?, pwd: String?,
        candidates: [Candidate], now: EngineInstant
    ) throws(JingleSessionError) -> [Output] {
        let transport = ICEUDPTransport(ufrag: ufrag, pwd: pwd, candidates: candidates)
        return try send(
            JingleElement(
                action: .transportInfo, sid: sid,
                contents: [
                    Content(creator: content.creator, name: content.name, transport: .iceUDP(transport))
                ]), now: now)
    }

    /// Drops every ended session (after its `ended` event was handled). Later IQs for it are
    /// answered `<item-not-found/><unknown-session/>`, which XEP-0166 §7.2.15 expects.
    public mutating func removeEndedSessions() {
        for (sid, s) in sessions where s.phase == .ended { forget(sid: sid) }
    }
}
