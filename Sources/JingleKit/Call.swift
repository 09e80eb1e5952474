import Jingle
import Synchronization
import XMPPCore

/// One voice call (XEP-0166 session with an XEP-0167 audio content, optionally set up through
/// XEP-0353 Jingle Message Initiation). Its state lives in the `CallManager`; this handle reads
/// it and forwards actions. `events` delivers what happens, in order, and finishes when it ends.
public final class Call: Sendable, CustomStringConvertible {
    /// The Jingle sid, which is also the JMI proposal id.
    public let sid: String
    /// The JID the call was placed to (bare for JMI), or the caller's full JID.
    public let peer: JID
    public let direction: CallDirection
    public let usesJMI: Bool
    public let events: AsyncStream<CallEvent>
    let sink: AsyncStream<CallEvent>.Continuation
    /// The PCM source and sink the media transport reads.
    let audio = CallAudioRouting()
    private weak let manager: CallManager?
    /// What the call ended with, kept here for when the manager has dropped it.
    private let final = Mutex<Final?>(nil)

    struct Final: Sendable {
        var state: CallState
        var device: JID?
        var statistics: CallStatistics
        var media: CallMediaStatistics?
    }

    func keepFinal(_ figures: Final) { final.withLock { $0 = figures } }

    init(sid: String, peer: JID, direction: CallDirection, usesJMI: Bool, manager: CallManager) {
        self.sid = sid
        self.peer = peer
        self.direction = direction
        self.usesJMI = usesJMI
        self.manager = manager
        (events, sink) = AsyncStream.makeStream(of: CallEvent.self)
    }

    public var description: String { "call \(sid) \(direction == .outgoing ? "to" : "from") \(peer)" }

    public var state: CallState {
        get async {
            if let state = await manager?.state(of: sid) { return state }
            return final.withLock { $0?.state } ?? .ended(.failed(nil, byPeer: false))
        }
    }

    /// The peer's full JID once known (the device that answered, or the caller).
    public var remoteDevice: JID? {
        get async {
            if let device = await manager?.remoteDevice(of: sid) { return device }
            return final.withLock { $0?.device }
        }
    }

    public var statistics: CallStatistics {
        get async {
            if let statistics = await manager?.statistics(of: sid) { return statistics }
            return final.withLock { $0?.statistics } ?? CallStatistics()
        }
    }

    /// Answers an incoming ringing call.
    public func accept() async throws(CallError) {
        guard let manager else { throw .managerUnavailable }
        try await manager.accept(sid: sid)
    }

    /// Refuses an incoming ringing call, `<decline/>` by default (use `Reason(.busy)` for busy).
    public func reject(reason: Reason = Reason(.decline)) async throws(CallError) {
        guard let manager else { throw .managerUnavailable }
        try await manager.reject(sid: sid, reason: reason)
    }

    /// Ends the call in any state: retracts a proposal, cancels an unanswered session, declines an
    /// incoming ringing call, or terminates an active one with `<success/>`. No-op when ended.
    public func hangUp(reason: Reason? = nil) async {
        await manager?.hangUp(sid: sid, reason: reason)
    }

    /// Audio to send: 20 ms frames of 48 kHz mono PCM, pulled by the call's media clock once
    /// DTLS-SRTP is up. Set it any time (before answering, or to switch prompts); nil sends silence.
    public func setAudioSource(_ source: (any CallAudioSource)?) {
        audio.source = source
    }

    /// Where received audio goes, one 20 ms frame per tick from the jitter buffer; nil discards it.
    public func setAudioSink(_ sink: (any CallAudioSink)?) {
        audio.sink = sink
    }

    /// Media counters (packets, loss, jitter, RTT, concealment, FEC, selected pair); nil before
    /// the media session exists or with a signalling-only transport.
    public var mediaStatistics: CallMediaStatistics? {
        get async {
            if let media = await manager?.mediaStatistics(of: sid) { return media }
            return final.withLock { $0?.media }
        }
    }

    /// Sends DTMF digits (0-9, *, #, A-D) as RFC 4733 telephone-events, about 100 ms each with
    /// 100 ms between them, once media is connected. The peer sees `CallEvent.dtmf` per digit.
    public func sendDTMF(_ digits: String) async throws(CallError) {
        guard let manager else { throw .managerUnavailable }
        try await manager.sendDTMF(sid: sid, digits)
    }

    /// Mutes or unmutes our audio (silence is sent) and tells the peer (XEP-0167 §7.3).
    public func setMuted(_ muted: Bool) async throws(CallError) {
        guard let manager else { throw .managerUnavailable }
        audio.muted = muted
        try await manager.sendMute(sid: sid, muted)
    }

    /// Restarts ICE (RFC 8445 §9, XEP-0176 §2.4), e.g. after a network change: new local
    /// credentials go to the peer in a transport-info, the peer answers with its own, and
    /// connectivity checks run again while DTLS-SRTP keeps its keys (XEP-0320). The call reports
    /// `.iceRestarted` when the peer's answer arrives, then `.iceConnected` on the new pair.
    /// A restart still waiting for the peer's answer (up to 10 s) is not started again. Throws `.wrongState`
    /// unless active, `.transportFailed` when the transport cannot restart.
    public func restartICE() async throws(CallError) {
        guard let manager else { throw .managerUnavailable }
        try await manager.restartICE(sid: sid)
    }

    /// Tells the peer we put the call on hold or resumed it (XEP-0167 §7.2).
    public func setHeld(_ held: Bool) async throws(CallError) {
        guard let manager else { throw .managerUnavailable }
        try await manager.sendInfo(sid: sid, held ? .hold : .unhold)
    }
}
