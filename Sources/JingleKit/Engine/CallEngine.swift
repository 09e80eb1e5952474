import Foundation
import Jingle
import XMLStream
import XMPPCore

/// The decisions of the call runtime for one XMPP session's calls, as a sans-IO engine: XEP-0166
/// sessions and XEP-0353 proposals (through `JingleSessionManager` and `JingleMessageMachine`),
/// the media transport's reports, and our own actions go in with `now`; what to send, which
/// transport to make or start, and what each call reports come out as `Action`s, in order.
/// It reads no clock and does no I/O; `CallManager` is its driver (ARCHITECTURE.md's driver
/// contract: feed one input, carry out every action, re-arm one timer at `nextDeadline`).
struct CallEngine {
    let local: JID
    let policy: MediaPolicy
    /// How long an ended call stays known (its state, statistics, late stanzas answered in its
    /// context) before the engine drops it, so a runtime that lives for weeks keeps only its
    /// recent calls.
    let endedCallRetention: Duration
    var sessions: JingleSessionManager
    var jmi: JingleMessageMachine
    private(set) var calls: [String: CallRecord] = [:]

    /// What the driver does for the engine, in the order given.
    enum Action: Sendable {
        /// A stanza to send as it is (messages, IQ answers).
        case send(XMLElement)
        /// An IQ request; its answer comes back through `handleResponse(_:now:)`.
        case request(IQ)
        /// A new incoming call to present (its record is in `calls`).
        case incoming(sid: String)
        /// Something for the call's own event stream.
        case event(sid: String, CallEvent)
        /// Make the call's media transport for `role`, then report `transportMade` or `transportFailed`.
        case makeTransport(sid: String, role: Creator)
        /// The peer's parameters are known: start connectivity checks and DTLS.
        case startMedia(sid: String, RemoteMediaParameters)
        /// Candidates the peer trickled.
        case addRemoteCandidates(sid: String, [Candidate])
        /// The peer restarted ICE (or answered our restart): restart the transport with `restart.remote`,
        /// then report `peerRestartDone`.
        case restartMedia(sid: String, PeerRestart)
        /// The call ended: close its transport, count it, finish its event stream.
        case ended(sid: String, CallEndReason, CallStatistics)
        /// A transport made for a call that ended meanwhile: close it.
        case closeMedia(sid: String)
        /// The ended call's retention is over: drop whatever the driver keeps for it.
        case forget(sid: String)
        /// Something the operator should see in the log (a refusal, a transport that cannot restart).
        case notice(sid: String, String)
    }

    /// A restart the peer signalled, carried to the transport and back.
    struct PeerRestart: Sendable {
        var remote: RemoteMediaParameters
        /// The peer restarted (we answer with new credentials); false: it answered our restart.
        var answering: Bool
        var content: ContentKey
        var previousRemoteUfrag: String?
    }

    init(
        local: JID, policy: MediaPolicy, sessionTimeouts: JingleSessionTimeouts, proposalLifetime: Duration,
        maximumCalls: Int, endedCallRetention: Duration = .seconds(300)
    ) {
        self.local = local
        self.policy = policy
        self.endedCallRetention = endedCallRetention
        sessions = JingleSessionManager(local: local, timeouts: sessionTimeouts)
        jmi = JingleMessageMachine(local: local, proposalLifetime: proposalLifetime, maximumCalls: maximumCalls)
    }

    /// The earliest instant `handleTimeout(now:)` has work: a session's or proposal's timer, an
    /// outgoing call's no-answer deadline, or the end of an ended call's retention.
    var nextDeadline: EngineInstant? {
        ([sessions.nextDeadline, jmi.nextDeadline] + calls.values.flatMap { [$0.deadline, $0.forgetAt] }).compactMap { $0 }.min()
    }

    // MARK: Inputs

    /// What an inbound Jingle IQ request (`set`) gets: the answer to send back, the actions to carry
    /// out before it, and those that must follow it on the wire (a content-reject after the
    /// content-add's acknowledgement).
    struct RequestOutcome: Sendable {
        var answer: IQ
        var actions: [Action]
        var afterAnswer: [Action]
    }

    mutating func handleRequest(_ iq: IQ, now: EngineInstant) -> RequestOutcome {
        guard let out = sessions.handle(iq, now: now) else {
            return RequestOutcome(answer: iq.error(StanzaError(.serviceUnavailable)), actions: [], afterAnswer: [])
        }
        var answer: IQ?
        var rest: [JingleSessionManager.Output] = []
        for o in out {
            if case .send(let r) = o, answer == nil, r.id == iq.id, r.type == .result || r.type == .error {
                answer = r
            } else {
                rest.append(o)
            }
        }
        var actions: [Action] = []
        var afterAnswer: [Action] = []
        carryOut(rest, now: now, into: &actions, afterAnswer: &afterAnswer)
        return RequestOutcome(answer: answer ?? iq.error(StanzaError(.internalServerError)), actions: actions, afterAnswer: afterAnswer)
    }

    /// The answer (or nil: no answer in time) to one of our `request`s.
    mutating func handleResponse(_ iq: IQ, now: EngineInstant) -> [Action] {
        guard let out = sessions.handle(iq, now: now) else { return [] }
        return carryingOut(out, now: now)
    }

    /// Whether `message` carries an XEP-0353 element, directly or in an XEP-0280 carbon: the engine
    /// takes those; the driver passes the rest on.
    static func isJingleMessage(_ message: XMLElement) -> Bool {
        let carbon = message.child("sent", namespace: XMPPNamespace.carbons) ?? message.child("received", namespace: XMPPNamespace.carbons)
        let inner = carbon?.child("forwarded", namespace: XMPPNamespace.forward)?.child("message") ?? message
        return (try? JingleMessage.find(in: inner)) != nil
    }

    /// An XEP-0353 message; the JMI engine judges XEP-0203 delays against `wallClock`.
    mutating func handleMessage(_ message: XMLElement, now: EngineInstant, wallClock: XMPPDateTime) -> [Action] {
        carryingOut(jmi.handle(message, now: now, wallClock: wallClock), now: now)
    }

    mutating func handleTimeout(now: EngineInstant) -> [Action] {
        var actions = carryingOut(sessions.handleTimeout(now: now), now: now)
        actions += carryingOut(jmi.handleTimeout(now: now), now: now)
        for sid in calls.keys.sorted() {
            guard let r = calls[sid], let d = r.deadline, d <= now else { continue }
            update(sid) { $0.clearDeadline() }
            // Only an outgoing call's proposal or pending session has a deadline.
            if r.direction == .outgoing { actions += giveUp(sid: sid, reason: Reason(.timeout), now: now) }
        }
        for sid in calls.keys.sorted() {
            guard let at = calls[sid]?.forgetAt, at <= now else { continue }
            calls[sid] = nil
            sessions.forget(sid: sid)
            jmi.forget(id: sid)
            actions.append(.forget(sid: sid))
        }
        return actions
    }

    // MARK: Carrying out the signalling engines' outputs

    mutating func carryingOut(_ out: [JingleSessionManager.Output], now: EngineInstant) -> [Action] {
        var actions: [Action] = []
        var after: [Action] = []
        carryOut(out, now: now, into: &actions, afterAnswer: &after)
        return actions + after
    }

    mutating func carryOut(
        _ out: [JingleSessionManager.Output], now: EngineInstant, into actions: inout [Action],
        afterAnswer: inout [Action]
    ) {
        for o in out {
            switch o {
            case .send(let iq):
                actions.append(iq.type == .set || iq.type == .get ? .request(iq) : .send(iq.element))
            case .event(let sid, let e):
                sessionEvent(sid: sid, e, now: now, into: &actions, afterAnswer: &afterAnswer)
            }
        }
    }

    mutating func carryingOut(_ out: [JingleMessageMachine.Output], now: EngineInstant) -> [Action] {
        var actions: [Action] = []
        for o in out {
            switch o {
            case .send(let m): actions.append(.send(m))
            case .event(let e): actions += jmiEvent(e, now: now)
            }
        }
        return actions
    }

    /// Our own Jingle `action` on `sid` through the session engine: its outputs, or its refusal
    /// as a notice (never dropped in silence).
    mutating func send(_ jingle: JingleElement, _ action: String, now: EngineInstant) -> [Action] {
        do { return carryingOut(try sessions.send(jingle, now: now), now: now) } catch {
            return [.notice(sid: jingle.sid, "the signalling engine refused our \(action): \(error)")]
        }
    }

    /// Our own XEP-0353 `action` on `sid` through the JMI engine: its outputs, or its refusal.
    mutating func sendMessage(
        _ action: String, sid: String, now: EngineInstant,
        _ body: (inout JingleMessageMachine) throws(JingleMessageMachine.MisuseError) -> [JingleMessageMachine.Output]
    )
        -> [Action]
    {
        do { return carryingOut(try body(&jmi), now: now) } catch {
            return [.notice(sid: sid, "the signalling engine refused our \(action): \(error)")]
        }
    }

    /// Changes one call's record: what `change` returns, or nil (no change) for an unknown sid.
    @discardableResult
    mutating func update<T>(_ sid: String, _ change: (inout CallRecord) -> T) -> T? {
        guard var r = calls[sid] else { return nil }
        let result = change(&r)
        calls[sid] = r
        return result
    }

    mutating func insert(_ record: CallRecord) { calls[record.sid] = record }
}
