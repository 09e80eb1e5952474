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
        var actions = try engine.place(sid: sid, to: peer, useJMI: useJMI, timeout: timeout, now: now)
        let call = Call(sid: sid, peer: useJMI ? peer.bare : peer, direction: .outgoing, usesJMI: useJMI, manager: self)
        calls[sid] = call
        // A direct call's session-initiate goes once its transport is made: awaited here, so
        // that a session the engine refused to start is this call's error.
        let transport = Self.takeTransport(from: &actions)
        carryOut(actions)
        if let (sid, role) = transport { await makeTransport(sid: sid, role: role) }
        if let r = engine.calls[sid], case .ended(let end) = r.state, !r.sessionStarted {
            throw .notStarted(end)
        }
        return call
    }

    /// Removes the first transport to make from `actions`, for a caller that awaits it.
    static func takeTransport(from actions: inout [CallEngine.Action]) -> (String, Creator)? {
        guard let i = actions.firstIndex(where: { if case .makeTransport = $0 { true } else { false } }),
            case .makeTransport(let sid, let role) = actions.remove(at: i)
        else { return nil }
        return (sid, role)
    }

    /// A fresh session id (also the JMI proposal id): 16 random alphanumerics.
    static func makeSID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var g = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &g)] })
    }

    /// Calls not yet ended.
    public var activeCalls: [Call] {
        engine.calls.values.filter { !$0.state.isEnded }.compactMap { calls[$0.sid] }
    }

    /// How many calls the engine, the handles and the media transports still hold (ended ones
    /// until their retention is over).
    func retainedCallCounts() -> (engine: Int, handles: Int, transports: Int) {
        (engine.calls.count, calls.count, media.count)
    }

    func state(of sid: String) -> CallState? { engine.calls[sid]?.state }
    func remoteDevice(of sid: String) -> JID? { engine.calls[sid]?.device }
    func statistics(of sid: String) -> CallStatistics? { engine.calls[sid]?.statistics }
    func sendDTMF(sid: String, _ digits: String) throws(CallError) {
        guard let r = engine.calls[sid] else { throw .managerUnavailable }
        guard r.state == .active else { throw .wrongState(r.state) }
        guard let audio = media[sid] as? any AudioMediaTransport else { throw .dtmf("this call has no media transport") }
        try audio.sendDTMF(digits)
    }

    func mediaStatistics(of sid: String) -> CallMediaStatistics? {
        (media[sid] as? any AudioMediaTransport)?.mediaStatistics
    }

    func accept(sid: String) async throws(CallError) {
        var actions = try engine.accept(sid: sid, now: now)
        // A direct call's session-accept goes once the transport is made: awaited here.
        let transport = Self.takeTransport(from: &actions)
        carryOut(actions)
        if let (sid, role) = transport { await makeTransport(sid: sid, role: role) }
    }

    func reject(sid: String, reason: Reason) throws(CallError) {
        carryOut(try engine.reject(sid: sid, reason: reason, now: now))
    }

    func hangUp(sid: String, reason: Reason?) {
        carryOut(engine.hangUp(sid: sid, reason: reason, now: now))
    }

    func sendMute(sid: String, _ muted: Bool) throws(CallError) {
        carryOut(try engine.mute(sid: sid, muted, now: now))
    }

    func sendInfo(sid: String, _ info: RTPSessionInfo) throws(CallError) {
        carryOut(try engine.sendInfo(sid: sid, info, now: now))
    }

    /// Our ICE restart: the engine says whether to restart, the transport makes new
    /// credentials, and the engine sends them to the peer in a transport-info.
    func restartICE(sid: String) async throws(CallError) {
        guard let content = try engine.beginRestart(sid: sid, now: now), let transport = media[sid] else { return }
        let local = await transport.restartICE(remote: nil)
        let candidates = local != nil ? await transport.localCandidates() : []
        carryOut(try engine.restartMade(sid: sid, content: content, local: local, candidates: candidates, now: now))
    }
}

extension CallManager {
    /// A manager for a connected `XMPPClient`, using its bound JID.
    public static func forClient(_ client: XMPPClient, configuration: CallConfiguration = .init()) async throws(CallError) -> CallManager {
        guard let jid = await client.connectionInfo?.boundJID else { throw .managerUnavailable }
        return CallManager(transport: client, local: jid, configuration: configuration)
    }
}
