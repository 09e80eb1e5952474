import Jingle
import XMPPCore

// The steps of a call: session and JMI events, the offer and the answer once the transport is
// made, the media transport's reports, and the end.
extension CallEngine {
    // MARK: Session and JMI events

    mutating func sessionEvent(
        sid: String, _ e: JingleSessionEvent, now: EngineInstant, into actions: inout [Action],
        afterAnswer: inout [Action]
    ) {
        switch e {
        case .received(let j):
            switch j.action {
            case .sessionInitiate: actions += incomingInitiate(j, now: now, afterAnswer: &afterAnswer)
            case .sessionAccept: actions += remoteAccepted(sid: sid, j)
            case .sessionInfo: for i in j.info { if case .rtp(let info) = i { actions += sessionInfo(sid: sid, info, now: now) } }
            case .transportInfo: actions += receivedTransportInfo(sid: sid, j)
            case .contentAdd: afterAnswer += receivedContentAdd(sid: sid, j, now: now)
            default: break
            }
        case .active:
            // Only a pending session becomes active; the no-answer deadline goes with it.
            guard update(sid, { $0.sessionActivated(now: now) }) == true else { return }
            actions.append(.event(sid: sid, .accepted))
        case .ended(let reason, let byPeer):
            guard let r = calls[sid], !r.state.isEnded else { return }
            actions += finish(sid: sid, CallEndReason.from(reason, byPeer: byPeer, wasActive: r.state == .active), now: now)
        case .acknowledged, .rejected, .timedOut:
            break
        }
    }

    private mutating func sessionInfo(sid: String, _ info: RTPSessionInfo, now: EngineInstant) -> [Action] {
        guard let r = calls[sid] else { return [] }
        switch info {
        case .ringing:
            guard r.direction == .outgoing else { return [] }
            update(sid) {
                $0.sessionRang()
                if $0.ringingAt == nil { $0.ringingAt = now }
            }
            return [.event(sid: sid, .ringing(device: r.device ?? r.peer))]
        case .mute: return [.event(sid: sid, .remoteMuted(true))]
        case .unmute: return [.event(sid: sid, .remoteMuted(false))]
        case .hold: return [.event(sid: sid, .remoteHeld(true))]
        case .unhold, .active: return [.event(sid: sid, .remoteHeld(false))]
        }
    }

    mutating func jmiEvent(_ e: JingleMessageMachine.JMIEvent, now: EngineInstant) -> [Action] {
        switch e {
        case .incoming(let id, let from, _):
            guard calls[id] == nil else { return [] }
            insert(CallRecord(sid: id, peer: from, direction: .incoming, usesJMI: true, stage: .ringing, device: from, placedAt: now))
            let ringing = sendMessage("ringing", sid: id, now: now) { (m) throws(JingleMessageMachine.MisuseError) in try m.ringing(id: id)
            }
            return ringing + [.incoming(sid: id)]
        case .ringing(let id, let device):
            guard var r = calls[id], r.proposalRang() else { return [] }
            let first = r.ringingAt == nil
            if first { r.ringingAt = now }
            insert(r)
            return first ? [.event(sid: id, .ringing(device: device))] : []
        case .proceeded(let id, let device):
            // Our session starts: the session-initiate goes once its transport is made.
            guard update(id, { $0.proposalProceeded(device: device, now: now) }) == true else { return [] }
            return [.event(sid: id, .proceeded(device: device)), .makeTransport(sid: id, role: .initiator)]
        case .ended(let id, let end):
            guard let r = calls[id], !r.state.isEnded else { return [] }
            if r.sessionStarted {
                // Once its session started the call ends with the session, but for a finish
                // that overtook our session-initiate.
                guard case .finished(let why) = end else { return [] }
                return finishedBeforeAnswer(sid: id, why, now: now)
            }
            let reason: CallEndReason
            switch end {
            case .rejected(let why):
                let cond = why?.condition
                reason =
                    cond == .busy
                    ? .busy(byPeer: true) : cond == .decline || cond == nil ? .declined(byPeer: true) : .failed(why, byPeer: true)
            case .retracted(let why): reason = why?.condition == .timeout ? .noAnswer : .cancelled(byPeer: r.direction == .incoming)
            case .finished(let why): reason = .from(why, byPeer: true, wasActive: r.state == .active)
            case .answeredElsewhere: reason = .answeredElsewhere
            case .lostTieBreak: reason = .lostTieBreak
            case .timedOut: reason = .noAnswer
            case .busy: reason = .busy(byPeer: false)
            }
            return finish(sid: id, reason, now: now)
        }
    }

    /// Outgoing, XEP-0353 "Finishing a Started Session": the callee's device that proceeded
    /// finished the call before it answered our session, e.g. it hung up before our
    /// session-initiate reached it. The call ends at once with the reason the finish carried,
    /// rather than at its no-answer deadline. The session we started, if our session-initiate
    /// left, is terminated with `<cancel/>`: XEP-0166 §6.7 has the party that ends a session
    /// send session-terminate, and §7.4's `<cancel/>` is the initiator withdrawing its request.
    /// An active call ends with its session, as before.
    private mutating func finishedBeforeAnswer(sid: String, _ why: Reason?, now: EngineInstant) -> [Action] {
        guard let r = calls[sid], r.direction == .outgoing, case .pending = r.stage else { return [] }
        // Finished first: the JMI call is over already and the session's end adds nothing.
        var actions = finish(sid: sid, CallEndReason.from(why, byPeer: true, wasActive: false), now: now)
        if let session = sessions[sid], session.phase != .ended {
            actions += send(
                JingleElement(action: .sessionTerminate, sid: sid, reason: Reason(.cancel)), "session-terminate after the peer's finish",
                now: now)
        }
        return actions
    }

    // MARK: Offer and answer

    /// Incoming: ask for the media transport (once); the session-accept goes once it is made.
    mutating func answer(sid: String) -> [Action] {
        guard update(sid, { $0.requestAnswerTransport() }) == true else { return [] }
        return [.makeTransport(sid: sid, role: .responder)]
    }

    private mutating func incomingInitiate(_ j: JingleElement, now: EngineInstant, afterAnswer: inout [Action]) -> [Action] {
        guard let session = sessions[j.sid] else { return [] }
        if var r = calls[j.sid] {
            // The session of a JMI call we accepted: only its caller may start it.
            guard r.direction == .incoming, r.device == session.peer else { return terminateUnexpected(j.sid, now: now) }
            if case .ended(let end, .awaited, _) = r.stage {
                // The call ended while its session was on the way (our finish may not have
                // reached the caller yet): acknowledged, then terminated (XEP-0166 §6.7) with
                // the reason the call's finish carried (else the one its end implies), so that
                // the caller does not wait for an answer that never comes.
                r.initiatedAt = now
                insert(r)
                let reason: Reason
                if case .ended(.finished(let finished?))? = jmi.calls[j.sid]?.state { reason = finished } else { reason = end.jingleReason }
                afterAnswer += send(
                    JingleElement(action: .sessionTerminate, sid: j.sid, reason: reason), "session-terminate of a call that had ended",
                    now: now)
                return []
            }
            guard r.sessionInitiated(j, remoteUfrag: Self.ufrag(of: j), now: now) else { return terminateUnexpected(j.sid, now: now) }
            insert(r)
            return answer(sid: j.sid)
        }
        var r = CallRecord(
            sid: j.sid, peer: session.peer, direction: .incoming, usesJMI: false,
            stage: .pending(
                CallRecord.Pending(progress: .ringing, offer: .theirs(j), media: CallRecord.Media(remoteUfrag: Self.ufrag(of: j)))),
            device: session.peer, placedAt: now)
        r.initiatedAt = now
        insert(r)
        return send(JingleElement(action: .sessionInfo, sid: j.sid, info: [.rtp(.ringing)]), "ringing", now: now)
            + [.incoming(sid: j.sid)]
    }

    private mutating func terminateUnexpected(_ sid: String, now: EngineInstant) -> [Action] {
        send(
            JingleElement(action: .sessionTerminate, sid: sid, reason: Reason(.generalError, text: "unexpected session")),
            "session-terminate of an unexpected session", now: now)
    }

    private mutating func remoteAccepted(sid: String, _ j: JingleElement) -> [Action] {
        guard calls[sid]?.media?.hasTransport == true, let content = j.contents.first, case .iceUDP(let t)? = content.transport else {
            return []
        }
        let fp = t.fingerprints.first
        let role = fp.flatMap { $0.setup }.flatMap { Negotiation.dtlsRole(local: .actpass, remote: $0) }
        update(sid) {
            $0.updateMedia { m in
                m.remoteUfrag = t.ufrag
                m.localSetup = role.map { $0 == .client ? .active : .passive }
            }
        }
        return [
            .startMedia(
                sid: sid,
                RemoteMediaParameters(
                    ufrag: t.ufrag, pwd: t.pwd, candidates: t.candidates, fingerprint: fp,
                    dtlsRole: role, payloadTypes: Self.payloadTypes(of: content)))
        ]
    }

    /// The ICE ufrag of an offer's first content (XEP-0176 §5).
    static func ufrag(of j: JingleElement) -> String? {
        if case .iceUDP(let t)? = j.contents.first?.transport { t.ufrag } else { nil }
    }

    /// The RTP payload types of a content's description (XEP-0167 §4).
    static func payloadTypes(of content: Content) -> [PayloadType] {
        if case .rtp(let d)? = content.description { d.payloadTypes } else { [] }
    }

    // MARK: The media transport

    /// The driver made the call's transport: `local` credentials and the `candidates` gathered so
    /// far. Sends our offer or answer. When the call ended meanwhile the transport is closed.
    mutating func transportMade(sid: String, local: LocalTransport, candidates: [Candidate], now: EngineInstant) -> [Action] {
        guard var r = calls[sid], !r.isEnded else { return [.closeMedia(sid: sid)] }
        guard let early = r.transportMade(localUfrag: local.ufrag) else {
            // Only a pending session asks for its transport, once.
            return [.notice(sid: sid, "a media transport made for a call in state \(r.state) that awaits none: ignored")]
        }
        insert(r)
        var actions: [Action] = early.isEmpty ? [] : [.addRemoteCandidates(sid: sid, early)]
        actions +=
            r.direction == .outgoing
            ? sendOffer(sid: sid, local: local, candidates: candidates, now: now)
            : sendAnswer(sid: sid, local: local, candidates: candidates, now: now)
        return actions
    }

    /// The transport could not be made: the call ends with `<failed-transport/>`.
    mutating func transportFailed(sid: String, _ error: String, now: EngineInstant) -> [Action] {
        giveUp(sid: sid, reason: Reason(.failedTransport, text: error), now: now)
    }

    private mutating func sendOffer(sid: String, local: LocalTransport, candidates: [Candidate], now: EngineInstant) -> [Action] {
        guard let device = calls[sid]?.device else { return [] }
        var offer = Negotiation.offer(policy: policy, transport: local)
        if case .iceUDP(var t)? = offer.transport { t.candidates = candidates; offer.transport = .iceUDP(t) }
        do {
            let out = try sessions.initiate(sid: sid, to: device, contents: [offer], groups: Negotiation.bundle([offer]), now: now)
            update(sid) { $0.initiatedAt = now }
            return carryingOut(out, now: now)
        } catch {
            let actions = giveUp(sid: sid, reason: Reason(.generalError, text: error.description), now: now)
            update(sid) { $0.sessionRefused() }
            return actions
        }
    }

    private mutating func sendAnswer(sid: String, local: LocalTransport, candidates: [Candidate], now: EngineInstant) -> [Action] {
        // Read now: an ICE restart while the transport was made may have replaced the offer's credentials.
        guard case .pending(let p) = calls[sid]?.stage, case .theirs(let initiate) = p.offer else { return [] }
        switch Negotiation.accept(initiate, policy: policy, transport: { _ in local }) {
        case .failure(let reason):
            return giveUp(sid: sid, reason: reason, now: now)
        case .success(var accept):
            accept.contents = accept.contents.map { c in
                var c = c
                if case .iceUDP(var t)? = c.transport { t.candidates = candidates; c.transport = .iceUDP(t) }
                return c
            }
            var actions: [Action]
            do { actions = carryingOut(try sessions.send(accept, now: now), now: now) } catch {
                actions = giveUp(sid: sid, reason: Reason(.generalError, text: error.description), now: now)
            }
            if let offered = initiate.contents.first, case .iceUDP(let t)? = offered.transport {
                let fp = t.fingerprints.first
                let ours = accept.contents.first.flatMap { c -> DTLSSetup? in
                    if case .iceUDP(let a)? = c.transport { a.fingerprints.first?.setup } else { nil }
                }
                let role = ours.flatMap { o in fp?.setup.flatMap { Negotiation.dtlsRole(local: o, remote: $0) } }
                update(sid) {
                    $0.updateMedia {
                        $0.remoteUfrag = t.ufrag
                        $0.localSetup = ours
                    }
                }
                let agreed = accept.contents.first.map(Self.payloadTypes(of:)) ?? []
                actions.append(
                    .startMedia(
                        sid: sid,
                        RemoteMediaParameters(
                            ufrag: t.ufrag, pwd: t.pwd, candidates: t.candidates,
                            fingerprint: fp, dtlsRole: role, payloadTypes: agreed)))
            }
            return actions
        }
    }

    /// A report of the call's media transport.
    mutating func handle(_ event: MediaTransportEvent, sid: String, now: EngineInstant) -> [Action] {
        guard let r = calls[sid], !r.isEnded else { return [] }
        switch event {
        case .iceConnected(let pair):
            update(sid) { $0.iceConnectedAt = now }
            return [.event(sid: sid, .iceConnected(pair))]
        case .connected:
            update(sid) { $0.dtlsConnectedAt = now }
            return [.event(sid: sid, .mediaConnected)]
        case .firstAudio:
            update(sid) { $0.firstAudioAt = now }
            return [.event(sid: sid, .firstAudio)]
        case .dtmf(let digit): return [.event(sid: sid, .dtmf(digit))]
        case .audioSourceFinished: return [.event(sid: sid, .audioSourceFinished)]
        case .iceRestarted, .mediaResumed: return [] // the call reports restarts from the signalling
        case .failed(let reason): return giveUp(sid: sid, reason: reason, now: now)
        case .localCandidates(let candidates):
            guard let content = sessions[sid]?.contents.first else { return [] }
            let info = Content(
                creator: content.creator, name: content.name,
                transport: .iceUDP(ICEUDPTransport(ufrag: r.media?.localUfrag, pwd: nil, candidates: candidates)))
            return send(JingleElement(action: .transportInfo, sid: sid, contents: [info]), "transport-info with new candidates", now: now)
        }
    }

    // MARK: The end

    /// Ends a call from our side with `reason`, by whatever means its stage needs.
    mutating func giveUp(sid: String, reason: Reason, now: EngineInstant) -> [Action] {
        guard let r = calls[sid], !r.state.isEnded else { return [] }
        let wasActive = r.state == .active
        var actions: [Action] = []
        if let session = sessions[sid], session.phase != .ended {
            // The session's `ended` event finishes the record.
            actions += send(JingleElement(action: .sessionTerminate, sid: sid, reason: reason), "session-terminate", now: now)
        } else if r.usesJMI {
            // The JMI machine ends the call first, so that `finish` finds it ended and sends
            // nothing of its own; what it says goes out after the record is finished.
            var out: [JingleMessageMachine.Output] = []
            do throws(JingleMessageMachine.MisuseError) {
                if r.direction == .outgoing, r.state == .proposing || r.state == .ringing {
                    out = try jmi.retract(id: sid, reason: reason)
                } else if r.direction == .incoming, r.state == .ringing {
                    out = try jmi.reject(id: sid, reason: reason)
                } else if let device = r.device {
                    out = try jmi.finish(id: sid, peer: device, reason: reason)
                }
            } catch {
                actions.append(.notice(sid: sid, "the signalling engine refused our end of the call (\(reason.condition)): \(error)"))
            }
            actions += finish(sid: sid, CallEndReason.from(reason, byPeer: false, wasActive: wasActive), now: now)
            actions += carryingOut(out, now: now)
        }
        if calls[sid]?.state.isEnded == false {
            actions += finish(sid: sid, CallEndReason.from(reason, byPeer: false, wasActive: wasActive), now: now)
        }
        return actions
    }

    mutating func finish(sid: String, _ end: CallEndReason, now: EngineInstant) -> [Action] {
        guard let r = calls[sid], !r.state.isEnded else { return [] }
        let forgetAt = now + endedCallRetention
        update(sid) { _ = $0.ended(end, forgetAt: forgetAt) }
        var actions: [Action] = [.ended(sid: sid, end, r.statistics)]
        // A JMI call that reached Jingle ends in the JMI machine too (else it would answer every
        // later proposal busy); the side that ended it sends `<finish/>` (XEP-0353 §3.6).
        if r.usesJMI, let device = r.device, let c = jmi.calls[sid] {
            switch c.state {
            case .proceeded, .accepted:
                if end.isByPeer {
                    jmi.sessionEndedByPeer(id: sid, reason: end.jingleReason)
                } else {
                    actions += sendMessage("finish", sid: sid, now: now) { (m) throws(JingleMessageMachine.MisuseError) in
                        try m.finish(id: sid, peer: device, reason: end.jingleReason)
                    }
                }
            case .proposing, .incoming, .ended: break
            }
        }
        return actions
    }
}
