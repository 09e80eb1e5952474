import XMLModel
import XMPPCore

/// Routes Jingle IQs to sessions for one local full JID (XEP-0166 §7.2): unknown sessions get
/// `<item-not-found/><unknown-session/>`, unparseable requests `bad-request`, and crossing
/// session-initiates are settled by the tie-break of XEP-0166 §7.2.16 (lower sid wins, then the
/// lower JID).
///
/// Driving it (sans-IO, ARCHITECTURE.md): pass every received IQ to `handle(_:now:)` (nil means
/// the IQ is not Jingle's), our user's actions to `initiate`/`send` or the shorthands in
/// `JingleSessionManager+Actions.swift`, and call `handleTimeout(now:)` when `nextDeadline` is
/// reached; send every `.send` IQ (its `from` is `local`, `to` the peer's full JID), hand every
/// `.event` to the application, then re-arm one timer at `nextDeadline`. `now` is the driver's
/// monotonic time as a `Duration` from any origin it keeps fixed.
public struct JingleSessionManager: Sendable {
    public let local: JID
    public let timeouts: JingleSessionTimeouts
    public private(set) var sessions: [String: JingleSession] = [:]

    /// What the manager asks its driver to do.
    public enum Output: Sendable, Hashable {
        case send(IQ)
        /// An event of session `sid`; a `received(session-initiate)` event means a new incoming session.
        case event(sid: String, JingleSessionEvent)
    }

    public init(local: JID, timeouts: JingleSessionTimeouts = .init()) {
        self.local = local
        self.timeouts = timeouts
    }

    public subscript(sid: String) -> JingleSession? { sessions[sid] }

    /// Drops a session (e.g. one that ended); its sid is free again.
    public mutating func forget(sid: String) { sessions[sid] = nil }

    /// Starts an outgoing session.
    public mutating func initiate(
        sid: String, to peer: JID, contents: [Content], groups: [Group] = [],
        now: EngineInstant
    ) throws(JingleSessionError) -> [Output] {
        guard sessions[sid] == nil else { throw .wrongSession(sid) }
        let (s, out) = JingleSession.initiate(
            sid: sid, local: local, peer: peer, contents: contents, groups: groups,
            timeouts: timeouts, now: now)
        sessions[sid] = s
        return wrap(sid, out)
    }

    /// Sends one of our actions in its session.
    public mutating func send(_ jingle: JingleElement, now: EngineInstant) throws(JingleSessionError) -> [Output] {
        guard var s = sessions[jingle.sid] else { throw .wrongSession(jingle.sid) }
        let out = try s.send(jingle, now: now)
        sessions[jingle.sid] = s
        return wrap(jingle.sid, out)
    }

    public var nextDeadline: EngineInstant? { sessions.values.compactMap(\.nextDeadline).min() }

    public mutating func handleTimeout(now: EngineInstant) -> [Output] {
        var out: [Output] = []
        for sid in sessions.keys.sorted() {
            guard var s = sessions[sid], let d = s.nextDeadline, d <= now else { continue }
            out += wrap(sid, s.handleTimeout(now: now))
            sessions[sid] = s
        }
        return out
    }

    /// Handles an incoming IQ; returns nil when it is not Jingle's (neither a Jingle request nor
    /// an answer to one of our requests).
    public mutating func handle(_ iq: IQ, now: EngineInstant) -> [Output]? {
        if iq.type == .result || iq.type == .error {
            guard let sid = sessions.first(where: { $0.value.isAwaiting(iq.id) })?.key, var s = sessions[sid] else { return nil }
            let out = s.handle(iq, now: now)
            sessions[sid] = s
            return wrap(sid, out)
        }
        guard let payload = iq.payload, payload.name == "jingle", payload.namespace == JingleNamespace.jingle else { return nil }
        let jingle: JingleElement
        do { jingle = try JingleElement(element: payload) } catch {
            return [.send(iq.error(StanzaError(.badRequest, text: error.description)))]
        }
        guard iq.type == .set, let from = iq.from else {
            return [.send(iq.error(StanzaError(.badRequest, text: "Jingle requests are IQ sets with a sender")))]
        }
        if jingle.action == .sessionInitiate {
            return handleInitiate(jingle, iq: iq, from: from, now: now)
        }
        guard var s = sessions[jingle.sid] else {
            return [.send(iq.error(JingleErrorCondition.unknownSession.stanzaError))]
        }
        let out = s.handle(iq, now: now)
        sessions[jingle.sid] = s
        return wrap(jingle.sid, out)
    }

    private mutating func handleInitiate(_ jingle: JingleElement, iq: IQ, from: JID, now: EngineInstant) -> [Output] {
        var out: [Output] = []
        // Crossing initiates with the same peer: the lower sid (i;octet) wins, then the lower initiator JID.
        for (sid, var mine) in sessions.sorted(by: { $0.key < $1.key })
        where mine.role == .initiator && mine.phase == .pending && mine.initiateUnanswered && mine.peer.bare == from.bare {
            let theirsWins =
                Self.octetLess(jingle.sid, sid)
                || (jingle.sid == sid && Self.octetLess(from.description, local.description))
            if !theirsWins { return [.send(iq.error(JingleErrorCondition.tieBreak.stanzaError))] }
            out += wrap(sid, mine.abandon(Reason(.alternativeSession(sid: jingle.sid), text: "tie-break")))
            sessions[sid] = mine
            if sid == jingle.sid { sessions[sid] = nil }
        }
        if sessions[jingle.sid] != nil { return out + [.send(iq.error(JingleErrorCondition.outOfOrder.stanzaError))] }
        guard let (s, sOut) = JingleSession.incoming(initiate: jingle, iq: iq, local: local, timeouts: timeouts, now: now) else {
            return out + [.send(iq.error(StanzaError(.badRequest)))]
        }
        sessions[jingle.sid] = s
        return out + wrap(jingle.sid, sOut)
    }

    static func octetLess(_ a: String, _ b: String) -> Bool { Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) }

    private func wrap(_ sid: String, _ out: [JingleSessionOutput]) -> [Output] {
        out.map {
            switch $0 {
            case .send(let iq): .send(iq)
            case .event(let e): .event(sid: sid, e)
            }
        }
    }
}
