import Jingle
import XMPPClient
import XMPPCore

// The public actions of the call runtime, and what `Call` handles read.
extension CallManager {
    /// Places a call. With `useJMI` (XEP-0353) the proposal goes to `peer`'s bare JID and rings
    /// all its devices; the session starts with the device that proceeds. Without it a
    /// session-initiate goes straight to `peer`, which must be a full JID. After `timeout`
    /// without an answer the proposal is retracted (or the session terminated) with `<timeout/>`
    /// and the call ends with `.noAnswer`.
    public func placeCall(to peer: JID, useJMI: Bool = true, timeout: Duration = .seconds(60)) async throws(CallError) -> Call {
        guard stanzaLoop != nil else { throw .managerUnavailable }
        let sid = Self.makeSID()
        let t = now
        if useJMI {
            let call = Call(sid: sid, peer: peer.bare, direction: .outgoing, usesJMI: true, manager: self)
            var r = CallRecord(call: call, state: .proposing, placedAt: t)
            r.deadline = t + timeout
            let description = ApplicationDescription.rtp(RTPDescription(media: "audio", payloadTypes: configuration.policy.audioCodecs))
            let out: [JingleMessageMachine.Output]
            do { out = try jmi.propose(id: sid, to: peer.bare, descriptions: [description], now: t) } catch {
                throw .messageRefused(error)
            }
            records[sid] = r
            carryOut(out)
            rearm()
            return call
        }
        guard peer.resourcepart != nil else { throw .fullJIDRequired(peer) }
        let call = Call(sid: sid, peer: peer, direction: .outgoing, usesJMI: false, manager: self)
        var r = CallRecord(call: call, state: .proposing, device: peer, placedAt: t)
        r.deadline = t + timeout
        records[sid] = r
        await initiateSession(sid: sid)
        if let s = records[sid]?.state, case .ended(let end) = s, records[sid]?.sessionStarted != true {
            throw .notStarted(end)
        }
        return call
    }

    /// A fresh session id (also the JMI proposal id): 16 random alphanumerics.
    static func makeSID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var g = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &g)] })
    }

    /// Calls not yet ended.
    public var activeCalls: [Call] { records.values.filter { !$0.state.isEnded }.map(\.call) }

    func state(of sid: String) -> CallState? { records[sid]?.state }
    func remoteDevice(of sid: String) -> JID? { records[sid]?.device }
    func statistics(of sid: String) -> CallStatistics? { records[sid]?.statistics }
    func sendDTMF(sid: String, _ digits: String) throws(CallError) {
        guard let r = records[sid] else { throw .managerUnavailable }
        guard r.state == .active else { throw .wrongState(r.state) }
        guard let media = r.media as? any AudioMediaTransport else { throw .dtmf("this call has no media transport") }
        try media.sendDTMF(digits)
    }

    func mediaStatistics(of sid: String) -> CallMediaStatistics? {
        (records[sid]?.media as? any AudioMediaTransport)?.mediaStatistics
    }

    func accept(sid: String) async throws(CallError) {
        guard var r = records[sid] else { throw .managerUnavailable }
        guard r.call.direction == .incoming, r.state == .ringing else { throw .wrongState(r.state) }
        r.state = .connecting
        if r.call.usesJMI && !r.sessionStarted {
            let out: [JingleMessageMachine.Output]
            do { out = try jmi.accept(id: sid) } catch { throw .messageRefused(error) }
            r.awaitingInitiate = true
            records[sid] = r
            carryOut(out)
            rearm()
            return
        }
        records[sid] = r
        await answer(sid: sid)
    }

    func reject(sid: String, reason: Reason) throws(CallError) {
        guard let r = records[sid] else { throw .managerUnavailable }
        guard r.call.direction == .incoming, r.state == .ringing else { throw .wrongState(r.state) }
        giveUp(sid: sid, reason: reason)
    }

    func hangUp(sid: String, reason: Reason?) {
        guard let r = records[sid], !r.state.isEnded else { return }
        let why: Reason
        switch r.state {
        case .active: why = reason ?? Reason(.success)
        case .ringing where r.call.direction == .incoming: why = reason ?? Reason(.decline)
        default: why = reason ?? Reason(.cancel)
        }
        giveUp(sid: sid, reason: why)
    }

    /// XEP-0167 §7.3 mute/unmute naming the session's own audio content (its creator and name as
    /// the initiator wrote them: Chromium and Conversations name it "0", not "audio").
    func sendMute(sid: String, _ muted: Bool) throws(CallError) {
        let audio = sessions[sid]?.contents.first { $0.rtp?.media == "audio" } ?? sessions[sid]?.contents.first
        let creator = audio?.creator ?? .initiator
        let name = audio?.name ?? "audio"
        try sendInfo(sid: sid, muted ? .mute(creator: creator, name: name) : .unmute(creator: creator, name: name))
    }

    func sendInfo(sid: String, _ info: RTPSessionInfo) throws(CallError) {
        guard let r = records[sid] else { throw .managerUnavailable }
        guard r.state == .active else { throw .wrongState(r.state) }
        do { carryOut(try sessions.send(JingleElement(action: .sessionInfo, sid: sid, info: [.rtp(info)]), now: now)) } catch {
            throw .sessionRefused(error)
        }
        rearm()
    }
}

extension CallManager {
    /// A manager for a connected `XMPPClient`, using its bound JID.
    public static func forClient(_ client: XMPPClient, configuration: CallConfiguration = .init()) async throws(CallError) -> CallManager {
        guard let jid = await client.connectionInfo?.boundJID else { throw .managerUnavailable }
        return CallManager(transport: client, local: jid, configuration: configuration)
    }
}
