import Jingle
import XMPPCore

// What a call does after it is set up: ICE restarts (RFC 8445 §9, XEP-0176 §2.4), candidates by
// generation (RFC 8838 §4: candidates belong to the ufrag they were signalled with), and
// content-add answers (XEP-0166 §7.2.1 / §7.2.4).
extension CallEngine {
    // MARK: transport-info

    /// A transport-info from the peer: trickled candidates of the current generation, new
    /// credentials (an ICE restart), or candidates of a retired ufrag (dropped).
    mutating func receivedTransportInfo(sid: String, _ j: JingleElement) -> [Action] {
        // Only a session's stages have media; a transport-info comes from a session.
        guard let retired = calls[sid]?.media?.retiredRemoteUfrags else { return [] }
        var actions: [Action] = []
        var candidates: [Candidate] = []
        for content in j.contents {
            guard case .iceUDP(let t)? = content.transport else { continue }
            if let ufrag = t.ufrag, retired.contains(ufrag) { continue }
            if let ufrag = t.ufrag, let current = calls[sid]?.media?.remoteUfrag, ufrag != current {
                // New credentials: a restart. A new ufrag without a pwd cannot be used.
                if let pwd = t.pwd, !pwd.isEmpty { actions += peerRestartedICE(sid: sid, content: content, transport: t) }
                continue
            }
            candidates += t.candidates
        }
        guard !candidates.isEmpty else { return actions }
        actions.append(.event(sid: sid, .remoteCandidates(candidates)))
        if calls[sid]?.media?.hasTransport == true {
            actions.append(.addRemoteCandidates(sid: sid, candidates))
        } else {
            // Our transport is still being made: keep them, bounded like the transport's own list.
            update(sid) {
                $0.updateMedia { m in
                    guard case .awaited(let requested, let early) = m.transport else { return }
                    let room = max(0, CallMediaSettings.maximumRemoteCandidates - early.count)
                    m.transport = .awaited(requested: requested, earlyCandidates: early + candidates.prefix(room))
                }
            }
        }
        return actions
    }

    /// The peer sent new ICE credentials: restart ours (unless it answers our restart), hand over
    /// its credentials and candidates, and answer with our new ufrag/pwd and candidates.
    private mutating func peerRestartedICE(sid: String, content: Content, transport t: ICEUDPTransport) -> [Action] {
        guard let ufrag = t.ufrag, let restarted = update(sid, { $0.peerRestarted(content.key, t, ufrag: ufrag) }) ?? nil else {
            return []
        }
        let actions: [Action] = t.candidates.isEmpty ? [] : [.event(sid: sid, .remoteCandidates(t.candidates))]
        // No transport yet, nothing to restart: it is made with what we know now.
        guard calls[sid]?.media?.hasTransport == true else { return actions }
        let remote = RemoteMediaParameters(
            ufrag: t.ufrag, pwd: t.pwd, candidates: t.candidates, fingerprint: t.fingerprints.first, dtlsRole: nil)
        return actions + [
            .restartMedia(
                sid: sid,
                PeerRestart(
                    remote: remote, answering: restarted.answering, content: content.key,
                    previousRemoteUfrag: restarted.previousRemoteUfrag))
        ]
    }

    /// The transport restarted for the peer's restart: `local` is nil when it cannot. Answers a
    /// restart the peer began with our new credentials and `candidates`.
    mutating func peerRestartDone(
        sid: String, _ restart: PeerRestart, local: LocalTransport?, candidates: [Candidate],
        now: EngineInstant
    ) -> [Action] {
        guard let local else {
            return [.notice(sid: sid, "ICE restart not possible with this transport; keeping the old credentials")]
        }
        guard let r = calls[sid], !r.isEnded else { return [] }
        let previousLocal: String?
        if restart.answering {
            previousLocal = r.media?.localUfrag
        } else if case .active(let a) = r.stage {
            previousLocal = a.ufragBeforeRestart
        } else {
            previousLocal = nil // only an active call restarts ICE itself
        }
        update(sid) { $0.updateMedia { $0.restarted(localUfrag: local.ufrag) } }
        var actions: [Action] = []
        if restart.answering {
            actions += restartTransportInfo(sid: sid, content: restart.content, local: local, candidates: candidates, now: now)
        }
        actions.append(
            .event(
                sid: sid,
                .iceRestarted(
                    ICERestart(
                        byPeer: restart.answering, localUfrag: local.ufrag, remoteUfrag: restart.remote.ufrag ?? "",
                        previousLocalUfrag: previousLocal, previousRemoteUfrag: restart.previousRemoteUfrag))))
        return actions
    }

    /// Our restart, step one: whether to ask the transport for new credentials. Nil while an
    /// earlier offer awaits the peer's answer (for up to 10 s): a second offer would be answered
    /// as the peer's own restart.
    mutating func beginRestart(sid: String, now: EngineInstant) throws(CallError) -> ContentKey? {
        guard let r = calls[sid] else { throw .managerUnavailable }
        guard case .active(let a) = r.stage else { throw .wrongState(r.state) }
        guard a.media.hasTransport, let content = sessions[sid]?.contents.first?.key else {
            throw .transportFailed("the call has no media transport")
        }
        if let offered = a.restartOfferedAt, now - offered < .seconds(10) { return nil }
        update(sid) { _ = $0.offeredRestart(now: now) }
        return content
    }

    /// Our restart, step two: the transport's new credentials (nil: it cannot restart) and
    /// candidates go to the peer in a transport-info.
    mutating func restartMade(
        sid: String, content: ContentKey, local: LocalTransport?, candidates: [Candidate],
        now: EngineInstant
    ) throws(CallError) -> [Action] {
        guard let local else {
            update(sid) { $0.restartAbandoned() }
            throw .transportFailed("this media transport cannot restart ICE")
        }
        update(sid) { $0.updateMedia { $0.restarted(localUfrag: local.ufrag) } }
        guard let state = calls[sid]?.state, !state.isEnded else { throw .wrongState(calls[sid]?.state ?? .ended(.noAnswer)) }
        return restartTransportInfo(sid: sid, content: content, local: local, candidates: candidates, now: now)
    }

    /// transport-info with our ufrag, pwd, fingerprint (XEP-0320: the DTLS association stays) and candidates.
    private mutating func restartTransportInfo(
        sid: String, content: ContentKey, local: LocalTransport, candidates: [Candidate],
        now: EngineInstant
    ) -> [Action] {
        let fingerprints =
            local.fingerprint.map {
                [Fingerprint(hash: local.fingerprintHash, setup: calls[sid]?.media?.localSetup, value: $0)]
            } ?? []
        let transport = ICEUDPTransport(ufrag: local.ufrag, pwd: local.pwd, candidates: candidates, fingerprints: fingerprints)
        let info = Content(creator: content.creator, name: content.name, transport: .iceUDP(transport))
        return send(JingleElement(action: .transportInfo, sid: sid, contents: [info]), "transport-info for the ICE restart", now: now)
    }

    // MARK: content-add

    /// The peer proposed contents (XEP-0166 §7.2.1). A call carries one audio stream, so every
    /// proposal is refused with content-reject (§7.2.4): `<unsupported-applications/>` for other
    /// media or applications, `<failed-application/>` for a second audio stream. These go after
    /// the engine's acknowledgement of the content-add.
    mutating func receivedContentAdd(sid: String, _ j: JingleElement, now: EngineInstant) -> [Action] {
        guard let r = calls[sid], !r.state.isEnded else { return [] }
        var actions: [Action] = []
        for content in j.contents {
            let media = content.rtp?.media
            let reason =
                media == "audio"
                ? Reason(.failedApplication, text: "this call carries one audio stream only")
                : Reason(.unsupportedApplications, text: "only audio is supported; \(media ?? "this application") is not")
            let reject = JingleElement(
                action: .contentReject, sid: sid,
                contents: [
                    Content(creator: content.creator, name: content.name, senders: content.senders)
                ], reason: reason)
            do { actions += carryingOut(try sessions.send(reject, now: now), now: now) } catch {
                actions.append(.notice(sid: sid, "content-reject not sent: \(error)"))
                continue
            }
            actions.append(.event(sid: sid, .contentRejected(name: content.name.rawValue, media: media, reason: reason)))
        }
        return actions
    }
}
