import CoreMetrics
import Foundation
import Jingle
import XMLStream
import XMPPCore

// The driver: inputs (IQ requests and answers, messages, timers, media reports, our actions) go
// to the engine with `now`; every action it returns is carried out here, in order.
extension CallManager {
    // MARK: Inputs

    func receiveRequest(_ iq: IQ) -> IQ {
        let outcome = engine.handleRequest(iq, now: now)
        carryOut(outcome.actions)
        if !outcome.afterAnswer.isEmpty {
            // After the answer has gone back to the stream handler.
            let later = outcome.afterAnswer
            Task { self.carryOut(later) }
        }
        return outcome.answer
    }

    func receiveResponse(_ iq: IQ) {
        carryOut(engine.handleResponse(iq, now: now))
    }

    func receive(_ stanza: Stanza) {
        guard case .message(let m) = stanza, CallEngine.isJingleMessage(m.element) else { otherSink.yield(stanza); return }
        // The JMI engine judges XEP-0203 delays itself (stale proposals must not ring); it is
        // handed the wall clock, read here in the runtime.
        let wallClock = XMPPDateTime(secondsSince1970: Date().timeIntervalSince1970)
        carryOut(engine.handleMessage(m.element, now: now, wallClock: wallClock))
    }

    func fireTimer() {
        carryOut(engine.handleTimeout(now: now))
    }

    func rearm() {
        timer?.cancel()
        guard let next = engine.nextDeadline else { timer = nil; return }
        let at = clock.continuousInstant(next)
        timer = Task { [weak self] in
            do { try await ContinuousClock().sleep(until: at, tolerance: nil) } catch { return }
            await self?.fireTimer()
        }
    }

    // MARK: Actions

    /// Carries out the engine's actions in order, then re-arms the timer. A transport to make is
    /// made in a task of its own, unless `awaitingTransport` names its call (then the caller awaits it).
    func carryOut(_ actions: [CallEngine.Action]) {
        for action in actions {
            switch action {
            case .send(let element): enqueue(.stanza(element))
            case .request(let iq): enqueue(.request(iq, nil))
            case .incoming(let sid):
                guard let r = engine.calls[sid] else { continue }
                let call = Call(sid: sid, peer: r.peer, direction: r.direction, usesJMI: r.usesJMI, manager: self)
                calls[sid] = call
                incomingSink.yield(call)
            case .event(let sid, let event): calls[sid]?.sink.yield(event)
            case .makeTransport(let sid, let role): Task { await self.makeTransport(sid: sid, role: role) }
            case .startMedia(let sid, let remote):
                if let media = media[sid] { Task { await media.start(remote: remote) } }
            case .addRemoteCandidates(let sid, let candidates):
                if let media = media[sid] { Task { await media.addRemoteCandidates(candidates) } }
            case .restartMedia(let sid, let restart):
                if let media = media[sid] { Task { await self.restartMedia(sid: sid, media: media, restart) } }
            case .ended(let sid, let end, let statistics): ended(sid: sid, end, statistics)
            case .closeMedia(let sid): closeMedia(sid: sid)
            case .forget(let sid):
                calls.removeValue(forKey: sid)
                media.removeValue(forKey: sid)
                mediaEvents.removeValue(forKey: sid)?.cancel()
            case .notice(let sid, let text): notice(sid: sid, text)
            }
        }
        rearm()
    }

    /// Makes the call's media transport and waits for its credentials and candidates, then hands
    /// them to the engine (which sends the offer or answer, or closes it if the call ended).
    func makeTransport(sid: String, role: Creator) async {
        let made: any MediaTransport
        do { made = try await configuration.mediaTransports.makeTransport(sid: sid, role: role) } catch {
            return carryOut(engine.transportFailed(sid: sid, "\(error)", now: now))
        }
        let localTransport = await made.localTransport()
        let candidates = await made.localCandidates()
        if engine.calls[sid]?.state.isEnded == false { attach(made, to: sid) } else { media[sid] = made }
        carryOut(engine.transportMade(sid: sid, local: localTransport, candidates: candidates, now: now))
    }

    private func attach(_ transport: any MediaTransport, to sid: String) {
        media[sid] = transport
        if let audioMedia = transport as? any AudioMediaTransport, let call = calls[sid] { audioMedia.route(call.audio) }
        mediaEvents[sid] = Task { [weak self] in
            for await event in transport.events {
                await self?.mediaEvent(sid: sid, event)
            }
        }
    }

    private func mediaEvent(sid: String, _ event: MediaTransportEvent) {
        carryOut(engine.handle(event, sid: sid, now: now))
    }

    /// The peer restarted ICE (or answered our restart): the transport restarts, and the engine
    /// answers with our new credentials.
    private func restartMedia(sid: String, media: any MediaTransport, _ restart: CallEngine.PeerRestart) async {
        let local = await media.restartICE(remote: restart.remote)
        let candidates = local != nil && restart.answering ? await media.localCandidates() : []
        carryOut(engine.peerRestartDone(sid: sid, restart, local: local, candidates: candidates, now: now))
    }

    private func ended(sid: String, _ end: CallEndReason, _ statistics: CallStatistics) {
        let call = calls[sid]
        call?.keepFinal(
            Call.Final(
                state: .ended(end), device: engine.calls[sid]?.device, statistics: statistics,
                media: (media[sid] as? any AudioMediaTransport)?.mediaStatistics))
        call?.sink.yield(.ended(end))
        call?.sink.finish()
        if let call {
            CallMetrics.record(
                direction: call.direction, end: end, statistics: statistics, media: media[sid]?.mediaStatistics,
                factory: configuration.metricsFactory ?? MetricsSystem.factory)
        }
        closeMedia(sid: sid)
    }

    private func closeMedia(sid: String) {
        guard let transport = media[sid] else { return }
        Task { await transport.close() }
    }
}
