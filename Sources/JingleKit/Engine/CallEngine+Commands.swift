import Jingle
import XMPPCore

// Our own actions on calls: place, accept, reject, hang up, session-info.
extension CallEngine {
    /// Places a call `sid` to `peer`: an XEP-0353 proposal to its bare JID, or (without JMI) a
    /// session to its full JID once the transport is made. The call ends with `<timeout/>` when
    /// unanswered at `now + timeout`.
    mutating func place(sid: String, to peer: JID, useJMI: Bool, timeout: Duration, now: EngineInstant) throws(CallError) -> [Action] {
        if useJMI {
            let r = CallRecord(
                sid: sid, peer: peer.bare, direction: .outgoing, usesJMI: true,
                stage: .proposed(ringing: false, deadline: now + timeout), placedAt: now)
            let description = ApplicationDescription.rtp(RTPDescription(media: "audio", payloadTypes: policy.audioCodecs))
            let out: [JingleMessageMachine.Output]
            do { out = try jmi.propose(id: sid, to: peer.bare, descriptions: [description], now: now) } catch {
                throw .messageRefused(error)
            }
            insert(r)
            return carryingOut(out, now: now)
        }
        guard peer.resourcepart != nil else { throw .fullJIDRequired(peer) }
        // Without a proposal the session starts at once: the session-initiate goes once the transport is made.
        let pending = CallRecord.Pending(
            progress: .proposing, offer: .ours(deadline: now + timeout),
            media: CallRecord.Media(transport: .awaited(requested: true, earlyCandidates: [])))
        insert(
            CallRecord(sid: sid, peer: peer, direction: .outgoing, usesJMI: false, stage: .pending(pending), device: peer, placedAt: now))
        return [.makeTransport(sid: sid, role: .initiator)]
    }

    /// Answers an incoming ringing call: a JMI `<proceed/>` (the session comes from the caller),
    /// or the transport for the session-accept.
    mutating func accept(sid: String, now: EngineInstant) throws(CallError) -> [Action] {
        guard let r = calls[sid] else { throw .managerUnavailable }
        guard r.direction == .incoming, r.state == .ringing else { throw .wrongState(r.state) }
        switch r.stage {
        case .ringing:
            // A proposal: proceed (XEP-0353 §3.3); the caller's session-initiate follows.
            let out: [JingleMessageMachine.Output]
            do { out = try jmi.accept(id: sid) } catch { throw .messageRefused(error) }
            update(sid) { _ = $0.accepted() }
            return carryingOut(out, now: now)
        case .pending:
            update(sid) { _ = $0.accepted() }
            return answer(sid: sid)
        case .proposed, .proceeded, .active, .ended:
            // An incoming call rings here only as a proposal or a pending session.
            throw .wrongState(r.state)
        }
    }

    mutating func reject(sid: String, reason: Reason, now: EngineInstant) throws(CallError) -> [Action] {
        guard let r = calls[sid] else { throw .managerUnavailable }
        guard r.direction == .incoming, r.state == .ringing else { throw .wrongState(r.state) }
        return giveUp(sid: sid, reason: reason, now: now)
    }

    /// Ends the call in any state, with `reason` or the one its stage implies.
    mutating func hangUp(sid: String, reason: Reason?, now: EngineInstant) -> [Action] {
        guard let r = calls[sid], !r.state.isEnded else { return [] }
        let why: Reason
        switch r.state {
        case .active: why = reason ?? Reason(.success)
        case .ringing where r.direction == .incoming: why = reason ?? Reason(.decline)
        default: why = reason ?? Reason(.cancel)
        }
        return giveUp(sid: sid, reason: why, now: now)
    }

    /// XEP-0167 §7.3 mute/unmute naming the session's own audio content (its creator and name as
    /// the initiator wrote them: Chromium and Conversations name it "0", not "audio").
    mutating func mute(sid: String, _ muted: Bool, now: EngineInstant) throws(CallError) -> [Action] {
        let audio = sessions[sid]?.contents.first { $0.rtp?.media == "audio" } ?? sessions[sid]?.contents.first
        let creator = audio?.creator ?? .initiator
        let name = audio?.name ?? "audio"
        return try sendInfo(sid: sid, muted ? .mute(creator: creator, name: name) : .unmute(creator: creator, name: name), now: now)
    }

    /// An XEP-0167 session-info (hold, unhold, mute) on an active call.
    mutating func sendInfo(sid: String, _ info: RTPSessionInfo, now: EngineInstant) throws(CallError) -> [Action] {
        guard let r = calls[sid] else { throw .managerUnavailable }
        guard r.state == .active else { throw .wrongState(r.state) }
        do {
            return carryingOut(try sessions.send(JingleElement(action: .sessionInfo, sid: sid, info: [.rtp(info)]), now: now), now: now)
        } catch {
            throw .sessionRefused(error)
        }
    }
}
