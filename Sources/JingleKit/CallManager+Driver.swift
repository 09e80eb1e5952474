import CoreMetrics
import Foundation
import Jingle
import XMLStream
import XMPPCore

// The driver: inputs (IQ requests and answers, messages, timers, our actions) go to the engines
// with `now`; every output is carried out here.
extension CallManager {
    // MARK: Inputs

    func receiveRequest(_ iq: IQ) -> IQ {
        guard let out = sessions.handle(iq, now: now) else { return iq.error(StanzaError(.serviceUnavailable)) }
        var response: IQ?
        var rest: [JingleSessionManager.Output] = []
        for o in out {
            if case .send(let r) = o, response == nil, r.id == iq.id, r.type == .result || r.type == .error {
                response = r
            } else {
                rest.append(o)
            }
        }
        carryOut(rest)
        rearm()
        return response ?? iq.error(StanzaError(.internalServerError))
    }

    func receiveResponse(_ iq: IQ) {
        guard let out = sessions.handle(iq, now: now) else { return }
        carryOut(out)
        rearm()
    }

    func receive(_ stanza: Stanza) {
        guard case .message(let m) = stanza else { otherSink.yield(stanza); return }
        let element = m.element
        let carbon = element.child("sent", namespace: XMPPNamespace.carbons) ?? element.child("received", namespace: XMPPNamespace.carbons)
        let inner = carbon?.child("forwarded", namespace: XMPPNamespace.forward)?.child("message") ?? element
        guard (try? JingleMessage.find(in: inner)) != nil else { otherSink.yield(stanza); return }
        // The JMI engine judges XEP-0203 delays itself (stale proposals must not ring); it is
        // handed the wall clock, read here in the runtime.
        let wallClock = XMPPDateTime(secondsSince1970: Date().timeIntervalSince1970)
        carryOut(jmi.handle(element, now: now, wallClock: wallClock))
        rearm()
    }

    func fireTimer() {
        let t = now
        carryOut(sessions.handleTimeout(now: t))
        carryOut(jmi.handleTimeout(now: t))
        for sid in records.keys.sorted() {
            guard let r = records[sid], let d = r.deadline, d <= t else { continue }
            records[sid]?.deadline = nil
            switch r.state {
            case .proposing, .ringing, .connecting:
                if r.call.direction == .outgoing { giveUp(sid: sid, reason: Reason(.timeout)) }
            case .active, .ended: break
            }
        }
        rearm()
    }

    func rearm() {
        let deadlines = [sessions.nextDeadline, jmi.nextDeadline] + records.values.map(\.deadline)
        timer?.cancel()
        guard let next = deadlines.compactMap({ $0 }).min() else { timer = nil; return }
        let at = origin + next
        let clock = self.clock
        timer = Task { [weak self] in
            do { try await clock.sleep(until: at, tolerance: nil) } catch { return }
            await self?.fireTimer()
        }
    }

    // MARK: Outputs

    func carryOut(_ out: [JingleSessionManager.Output]) {
        for o in out {
            switch o {
            case .send(let iq):
                if iq.type == .set || iq.type == .get { enqueue(.request(iq, nil)) } else { enqueue(.stanza(iq.element)) }
            case .event(let sid, let e):
                sessionEvent(sid: sid, e)
            }
        }
    }

    /// Our own Jingle `action` on `sid` through the session engine: carried out, or its refusal
    /// logged (never dropped in silence).
    func send(_ jingle: JingleElement, _ action: String) {
        do { carryOut(try sessions.send(jingle, now: now)) } catch { logRefusal(action, sid: jingle.sid, error) }
    }

    /// Our own XEP-0353 `action` on `sid` through the JMI engine: carried out, or its refusal
    /// logged.
    func sendMessage(_ action: String, sid: String, _ body: () throws(JingleMessageMachine.MisuseError) -> [JingleMessageMachine.Output]) {
        do { carryOut(try body()) } catch { logRefusal(action, sid: sid, error) }
    }

    func carryOut(_ out: [JingleMessageMachine.Output]) {
        for o in out {
            switch o {
            case .send(let m): enqueue(.stanza(m))
            case .event(let e): jmiEvent(e)
            }
        }
    }

    private func sessionEvent(sid: String, _ e: JingleSessionEvent) {
        switch e {
        case .received(let j):
            switch j.action {
            case .sessionInitiate: incomingInitiate(j)
            case .sessionAccept: remoteAccepted(sid: sid, j)
            case .sessionInfo: for i in j.info { if case .rtp(let info) = i { sessionInfo(sid: sid, info) } }
            case .transportInfo: receivedTransportInfo(sid: sid, j)
            case .contentAdd: receivedContentAdd(sid: sid, j)
            default: break
            }
        case .active:
            guard var r = records[sid], !r.state.isEnded else { return }
            r.state = .active
            r.acceptedAt = now
            r.deadline = nil
            records[sid] = r
            r.call.sink.yield(.accepted)
        case .ended(let reason, let byPeer):
            guard let r = records[sid], !r.state.isEnded else { return }
            finish(sid: sid, CallEndReason.from(reason, byPeer: byPeer, wasActive: r.state == .active))
        case .acknowledged, .rejected, .timedOut:
            break
        }
    }

    private func sessionInfo(sid: String, _ info: RTPSessionInfo) {
        guard var r = records[sid] else { return }
        switch info {
        case .ringing:
            guard r.call.direction == .outgoing else { return }
            if r.state == .proposing { r.state = .ringing }
            if r.ringingAt == nil { r.ringingAt = now }
            records[sid] = r
            r.call.sink.yield(.ringing(device: r.device ?? r.call.peer))
        case .mute: r.call.sink.yield(.remoteMuted(true))
        case .unmute: r.call.sink.yield(.remoteMuted(false))
        case .hold: r.call.sink.yield(.remoteHeld(true))
        case .unhold, .active: r.call.sink.yield(.remoteHeld(false))
        }
    }

    private func jmiEvent(_ e: JingleMessageMachine.JMIEvent) {
        switch e {
        case .incoming(let id, let from, _):
            guard records[id] == nil else { return }
            let call = Call(sid: id, peer: from, direction: .incoming, usesJMI: true, manager: self)
            records[id] = CallRecord(call: call, state: .ringing, device: from, placedAt: now)
            sendMessage("ringing", sid: id) { () throws(JingleMessageMachine.MisuseError) in try jmi.ringing(id: id) }
            incomingSink.yield(call)
        case .ringing(let id, let device):
            guard var r = records[id], r.state == .proposing || r.state == .ringing else { return }
            r.state = .ringing
            let first = r.ringingAt == nil
            if first { r.ringingAt = now }
            records[id] = r
            if first { r.call.sink.yield(.ringing(device: device)) }
        case .proceeded(let id, let device):
            guard var r = records[id], !r.state.isEnded, !r.sessionStarted else { return }
            r.state = .connecting
            r.device = device
            r.proceededAt = now
            records[id] = r
            r.call.sink.yield(.proceeded(device: device))
            Task { await self.initiateSession(sid: id) }
        case .ended(let id, let end):
            guard let r = records[id], !r.state.isEnded, !r.sessionStarted else { return }
            let reason: CallEndReason
            switch end {
            case .rejected(let why):
                let cond = why?.condition
                reason = cond == .busy ? .busy(byPeer: true) : cond == .decline || cond == nil ? .declined(byPeer: true) : .failed(why, byPeer: true)
            case .retracted(let why): reason = why?.condition == .timeout ? .noAnswer : .cancelled(byPeer: r.call.direction == .incoming)
            case .finished(let why): reason = .from(why, byPeer: true, wasActive: r.state == .active)
            case .answeredElsewhere: reason = .answeredElsewhere
            case .lostTieBreak: reason = .lostTieBreak
            case .timedOut: reason = .noAnswer
            case .busy: reason = .busy(byPeer: false)
            }
            finish(sid: id, reason)
        }
    }

    // MARK: Steps of a call

    /// Outgoing: create the media transport and send session-initiate with our offer.
    func initiateSession(sid: String) async {
        guard let r = records[sid], !r.state.isEnded, !r.sessionStarted, let device = r.device else { return }
        records[sid]?.sessionStarted = true
        guard let prepared = await prepareTransport(sid: sid, role: .initiator) else { return }
        let (_, localTransport, candidates) = prepared
        var offer = Negotiation.offer(policy: configuration.policy, transport: localTransport)
        if case .iceUDP(var t)? = offer.transport { t.candidates = candidates; offer.transport = .iceUDP(t) }
        do {
            carryOut(try sessions.initiate(sid: sid, to: device, contents: [offer], groups: Negotiation.bundle([offer]), now: now))
            records[sid]?.initiatedAt = now
        } catch {
            records[sid]?.sessionStarted = false
            giveUp(sid: sid, reason: Reason(.generalError, text: error.description))
        }
        rearm()
    }

    private func incomingInitiate(_ j: JingleElement) {
        guard let session = sessions[j.sid] else { return }
        if var r = records[j.sid] {
            // The session of a JMI call we accepted: only its caller may start it.
            guard r.call.direction == .incoming, r.awaitingInitiate, r.device == session.peer else {
                send(JingleElement(action: .sessionTerminate, sid: j.sid, reason: Reason(.generalError, text: "unexpected session")),
                     "session-terminate of an unexpected session")
                return
            }
            r.initiate = j
            r.remoteUfrag = Self.ufrag(of: j)
            r.sessionStarted = true
            r.initiatedAt = now
            records[j.sid] = r
            Task { await self.answer(sid: j.sid) }
            return
        }
        let call = Call(sid: j.sid, peer: session.peer, direction: .incoming, usesJMI: false, manager: self)
        var r = CallRecord(call: call, state: .ringing, device: session.peer, placedAt: now)
        r.initiate = j
        r.remoteUfrag = Self.ufrag(of: j)
        r.sessionStarted = true
        r.initiatedAt = now
        records[j.sid] = r
        send(JingleElement(action: .sessionInfo, sid: j.sid, info: [.rtp(.ringing)]), "ringing")
        incomingSink.yield(call)
    }

    private func remoteAccepted(sid: String, _ j: JingleElement) {
        guard let r = records[sid], let media = r.media, let content = j.contents.first,
              case .iceUDP(let t)? = content.transport else { return }
        let fp = t.fingerprints.first
        let role = fp.flatMap { $0.setup }.flatMap { Negotiation.dtlsRole(local: .actpass, remote: $0) }
        records[sid]?.remoteUfrag = t.ufrag
        records[sid]?.localSetup = role.map { $0 == .client ? .active : .passive }
        let remote = RemoteMediaParameters(ufrag: t.ufrag, pwd: t.pwd, candidates: t.candidates, fingerprint: fp, dtlsRole: role,
                                           payloadTypes: Self.payloadTypes(of: content))
        Task { await media.start(remote: remote) }
    }

    /// The ICE ufrag of an offer's first content (XEP-0176 §5).
    static func ufrag(of j: JingleElement) -> String? {
        if case .iceUDP(let t)? = j.contents.first?.transport { t.ufrag } else { nil }
    }

    /// The RTP payload types of a content's description (XEP-0167 §4).
    static func payloadTypes(of content: Content) -> [PayloadType] {
        if case .rtp(let d)? = content.description { d.payloadTypes } else { [] }
    }

    /// Incoming: create the media transport and answer the session-initiate with session-accept.
    func answer(sid: String) async {
        guard let r = records[sid], r.initiate != nil, !r.state.isEnded, r.media == nil else { return }
        guard let prepared = await prepareTransport(sid: sid, role: .responder) else { return }
        let (media, localTransport, candidates) = prepared
        // Read after the transport is made: an ICE restart meanwhile may have replaced its credentials.
        guard let initiate = records[sid]?.initiate else { return await media.close() }
        switch Negotiation.accept(initiate, policy: configuration.policy, transport: { _ in localTransport }) {
        case .failure(let reason):
            giveUp(sid: sid, reason: reason)
        case .success(var accept):
            accept.contents = accept.contents.map { c in
                var c = c
                if case .iceUDP(var t)? = c.transport { t.candidates = candidates; c.transport = .iceUDP(t) }
                return c
            }
            do { carryOut(try sessions.send(accept, now: now)) } catch {
                giveUp(sid: sid, reason: Reason(.generalError, text: error.description))
            }
            if let offered = initiate.contents.first, case .iceUDP(let t)? = offered.transport {
                let fp = t.fingerprints.first
                let ours = accept.contents.first.flatMap { c -> DTLSSetup? in
                    if case .iceUDP(let a)? = c.transport { a.fingerprints.first?.setup } else { nil }
                }
                let role = ours.flatMap { o in fp?.setup.flatMap { Negotiation.dtlsRole(local: o, remote: $0) } }
                records[sid]?.remoteUfrag = t.ufrag
                records[sid]?.localSetup = ours
                let agreed = accept.contents.first.map(Self.payloadTypes(of:)) ?? []
                let remote = RemoteMediaParameters(ufrag: t.ufrag, pwd: t.pwd, candidates: t.candidates, fingerprint: fp, dtlsRole: role,
                                                   payloadTypes: agreed)
                Task { await media.start(remote: remote) }
            }
        }
        rearm()
    }

    /// Makes the call's media transport and waits for its credentials and candidates; attaches it
    /// unless the call ended meanwhile (then closes it). Nil when there is nothing to go on with.
    private func prepareTransport(sid: String, role: Creator) async -> (any MediaTransport, LocalTransport, [Candidate])? {
        let media: any MediaTransport
        do { media = try await configuration.mediaTransports.makeTransport(sid: sid, role: role) } catch {
            giveUp(sid: sid, reason: Reason(.failedTransport, text: "\(error)"))
            return nil
        }
        let localTransport = await media.localTransport()
        let candidates = await media.localCandidates()
        guard records[sid]?.state.isEnded == false else {
            await media.close()
            return nil
        }
        attach(media, to: sid)
        records[sid]?.localUfrag = localTransport.ufrag
        return (media, localTransport, candidates)
    }

    private func attach(_ media: any MediaTransport, to sid: String) {
        records[sid]?.media = media
        if let audioMedia = media as? any AudioMediaTransport, let call = records[sid]?.call { audioMedia.route(call.audio) }
        if let early = records[sid]?.earlyCandidates, !early.isEmpty {
            records[sid]?.earlyCandidates = []
            Task { await media.addRemoteCandidates(early) }
        }
        records[sid]?.mediaEvents = Task { [weak self] in
            for await event in media.events {
                await self?.mediaEvent(sid: sid, event)
            }
        }
    }

    private func mediaEvent(sid: String, _ event: MediaTransportEvent) {
        guard let r = records[sid], !r.state.isEnded else { return }
        switch event {
        case .iceConnected(let pair):
            records[sid]?.iceConnectedAt = now
            r.call.sink.yield(.iceConnected(pair))
        case .connected:
            records[sid]?.dtlsConnectedAt = now
            r.call.sink.yield(.mediaConnected)
        case .firstAudio:
            records[sid]?.firstAudioAt = now
            r.call.sink.yield(.firstAudio)
        case .dtmf(let digit): r.call.sink.yield(.dtmf(digit))
        case .audioSourceFinished: r.call.sink.yield(.audioSourceFinished)
        case .iceRestarted, .mediaResumed: break   // the call reports restarts from the signalling
        case .failed(let reason): giveUp(sid: sid, reason: reason)
        case .localCandidates(let candidates):
            guard let content = sessions[sid]?.contents.first else { return }
            let info = Content(creator: content.creator, name: content.name,
                               transport: .iceUDP(ICEUDPTransport(ufrag: r.localUfrag, pwd: nil, candidates: candidates)))
            send(JingleElement(action: .transportInfo, sid: sid, contents: [info]), "transport-info with new candidates")
            rearm()
        }
    }

    /// Ends a call from our side with `reason`, by whatever means its stage needs.
    func giveUp(sid: String, reason: Reason) {
        guard let r = records[sid], !r.state.isEnded else { return }
        let wasActive = r.state == .active
        if let session = sessions[sid], session.phase != .ended {
            // The session's `ended` event finishes the record.
            send(JingleElement(action: .sessionTerminate, sid: sid, reason: reason), "session-terminate")
        } else if r.call.usesJMI {
            // The JMI machine ends the call first, so that `finish` finds it ended and sends
            // nothing of its own; what it says goes out after the record is finished.
            var out: [JingleMessageMachine.Output] = []
            do throws(JingleMessageMachine.MisuseError) {
                if r.call.direction == .outgoing, r.state == .proposing || r.state == .ringing {
                    out = try jmi.retract(id: sid, reason: reason)
                } else if r.call.direction == .incoming, r.state == .ringing {
                    out = try jmi.reject(id: sid, reason: reason)
                } else if let device = r.device {
                    out = try jmi.finish(id: sid, peer: device, reason: reason)
                }
            } catch {
                logRefusal("end of the call (\(reason.condition))", sid: sid, error)
            }
            finish(sid: sid, CallEndReason.from(reason, byPeer: false, wasActive: wasActive))
            carryOut(out)
        }
        if records[sid]?.state.isEnded == false {
            finish(sid: sid, CallEndReason.from(reason, byPeer: false, wasActive: wasActive))
        }
        rearm()
    }

    func finish(sid: String, _ end: CallEndReason) {
        guard var r = records[sid], !r.state.isEnded else { return }
        r.state = .ended(end)
        r.deadline = nil
        records[sid] = r
        r.call.sink.yield(.ended(end))
        r.call.sink.finish()
        CallMetrics.record(direction: r.call.direction, end: end, statistics: r.statistics, media: r.media?.mediaStatistics,
                           factory: configuration.metricsFactory ?? MetricsSystem.factory)
        if let media = r.media { Task { await media.close() } }
        // A JMI call that reached Jingle ends in the JMI machine too (else it would answer every
        // later proposal busy); the side that ended it sends `<finish/>` (XEP-0353 §3.6).
        if r.call.usesJMI, let device = r.device, let c = jmi.calls[sid] {
            switch c.state {
            case .proceeded, .accepted:
                if end.isByPeer {
                    jmi.sessionEndedByPeer(id: sid, reason: end.jingleReason)
                } else {
                    sendMessage("finish", sid: sid) { () throws(JingleMessageMachine.MisuseError) in
                        try jmi.finish(id: sid, peer: device, reason: end.jingleReason)
                    }
                }
            case .proposing, .incoming, .ended: break
            }
        }
    }
}
