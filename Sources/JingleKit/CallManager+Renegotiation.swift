import Jingle
import XMPPCore

// What a call does after it is set up: ICE restarts (RFC 8445 §9, XEP-0176 §2.4), candidates by
// generation (RFC 8838 §4: candidates belong to the ufrag they were signalled with), and
// content-add answers (XEP-0166 §7.2.1 / §7.2.4).
extension CallManager {
    // MARK: transport-info

    /// A transport-info from the peer: trickled candidates of the current generation, new
    /// credentials (an ICE restart), or candidates of a retired ufrag (dropped).
    func receivedTransportInfo(sid: String, _ j: JingleElement) {
        guard let r = records[sid], !r.state.isEnded else { return }
        var candidates: [Candidate] = []
        for content in j.contents {
            guard case .iceUDP(let t)? = content.transport else { continue }
            if let ufrag = t.ufrag, r.retiredRemoteUfrags.contains(ufrag) { continue }
            if let ufrag = t.ufrag, let current = records[sid]?.remoteUfrag, ufrag != current {
                // New credentials: a restart. A new ufrag without a pwd cannot be used.
                if let pwd = t.pwd, !pwd.isEmpty { peerRestartedICE(sid: sid, content: content, transport: t) }
                continue
            }
            candidates += t.candidates
        }
        guard !candidates.isEmpty else { return }
        r.call.sink.yield(.remoteCandidates(candidates))
        if let media = r.media {
            Task { await media.addRemoteCandidates(candidates) }
        } else {
            // Our transport is still being made: keep them, bounded like the transport's own list.
            let held = records[sid]?.earlyCandidates.count ?? 0
            records[sid]?.earlyCandidates += candidates.prefix(max(0, CallMediaSettings.maximumRemoteCandidates - held))
        }
    }

    /// The peer sent new ICE credentials: restart ours (unless it answers our restart), hand over
    /// its credentials and candidates, and answer with our new ufrag/pwd and candidates.
    private func peerRestartedICE(sid: String, content: Content, transport t: ICEUDPTransport) {
        guard var r = records[sid], let ufrag = t.ufrag else { return }
        let previousRemote = r.remoteUfrag
        if let old = r.remoteUfrag { r.retiredRemoteUfrags.insert(old) }
        r.remoteUfrag = ufrag
        let answering = !r.restartPending
        r.restartPending = false
        if !t.candidates.isEmpty { r.call.sink.yield(.remoteCandidates(t.candidates)) }
        guard let media = r.media else {
            // Not answered yet: the offer's credentials and candidates are replaced; the
            // session-accept we send later carries our credentials.
            r.earlyCandidates = []
            if var initiate = r.initiate {
                initiate.contents = initiate.contents.map { c in
                    guard c.key == content.key, case .iceUDP(var old)? = c.transport else { return c }
                    old.ufrag = t.ufrag
                    old.pwd = t.pwd
                    old.candidates = t.candidates
                    var c = c
                    c.transport = .iceUDP(old)
                    return c
                }
                r.initiate = initiate
            }
            records[sid] = r
            return
        }
        records[sid] = r
        let remote = RemoteMediaParameters(ufrag: t.ufrag, pwd: t.pwd, candidates: t.candidates,
                                           fingerprint: t.fingerprints.first, dtlsRole: nil)
        Task {
            await self.completeRestart(sid: sid, media: media, remote: remote, answering: answering, content: content.key,
                                       previousRemote: previousRemote)
        }
    }

    private func completeRestart(sid: String, media: any MediaTransport, remote: RemoteMediaParameters, answering: Bool,
                                 content: ContentKey, previousRemote: String?) async {
        guard let local = await media.restartICE(remote: remote) else {
            log("ICE restart of \(sid) not possible with this transport; keeping the old credentials")
            return
        }
        guard let r = records[sid], !r.state.isEnded else { return }
        let previousLocal = answering ? r.localUfrag : r.ufragBeforeRestart
        records[sid]?.localUfrag = local.ufrag
        if answering {
            let candidates = await media.localCandidates()
            guard records[sid]?.state.isEnded == false else { return }
            sendRestartTransportInfo(sid: sid, content: content, local: local, candidates: candidates)
        }
        records[sid]?.call.sink.yield(.iceRestarted(ICERestart(
            byPeer: answering, localUfrag: local.ufrag, remoteUfrag: remote.ufrag ?? "",
            previousLocalUfrag: previousLocal, previousRemoteUfrag: previousRemote)))
    }

    /// Our restart: new credentials, sent in a transport-info; the peer answers with its own.
    /// While one is awaiting the peer's answer (up to 10 s), another call does nothing.
    func restartICE(sid: String) async throws(CallError) {
        guard let r = records[sid] else { throw .managerUnavailable }
        guard r.state == .active else { throw .wrongState(r.state) }
        guard let media = r.media, let content = sessions[sid]?.contents.first?.key else {
            throw .transportFailed("the call has no media transport")
        }
        // One restart at a time: a second offer would be answered as the peer's own restart. An
        // offer the peer left unanswered for 10 s no longer blocks a new one.
        if r.restartPending, let offered = r.restartOfferedAt, now - offered < .seconds(10) { return }
        records[sid]?.restartPending = true
        records[sid]?.restartOfferedAt = now
        records[sid]?.ufragBeforeRestart = r.localUfrag
        guard let local = await media.restartICE(remote: nil) else {
            records[sid]?.restartPending = false
            throw .transportFailed("this media transport cannot restart ICE")
        }
        records[sid]?.localUfrag = local.ufrag
        let candidates = await media.localCandidates()
        guard let state = records[sid]?.state, !state.isEnded else { throw .wrongState(records[sid]?.state ?? .ended(.noAnswer)) }
        sendRestartTransportInfo(sid: sid, content: content, local: local, candidates: candidates)
    }

    /// transport-info with our ufrag, pwd, fingerprint (XEP-0320: the DTLS association stays) and candidates.
    private func sendRestartTransportInfo(sid: String, content: ContentKey, local: LocalTransport, candidates: [Candidate]) {
        let fingerprints = local.fingerprint.map {
            [Fingerprint(hash: local.fingerprintHash, setup: records[sid]?.localSetup, value: $0)]
        } ?? []
        let transport = ICEUDPTransport(ufrag: local.ufrag, pwd: local.pwd, candidates: candidates, fingerprints: fingerprints)
        let info = Content(creator: content.creator, name: content.name, transport: .iceUDP(transport))
        do { carryOut(try sessions.send(JingleElement(action: .transportInfo, sid: sid, contents: [info]), now: now)) } catch {
            log("transport-info for the ICE restart of \(sid) not sent: \(error)")
        }
        rearm()
    }

    // MARK: content-add

    /// The peer proposed contents (XEP-0166 §7.2.1). A call carries one audio stream, so every
    /// proposal is refused with content-reject (§7.2.4): `<unsupported-applications/>` for other
    /// media or applications, `<failed-application/>` for a second audio stream.
    func receivedContentAdd(sid: String, _ j: JingleElement) {
        guard let r = records[sid], !r.state.isEnded else { return }
        for content in j.contents {
            let media = content.rtp?.media
            let reason = media == "audio"
                ? Reason(.failedApplication, text: "this call carries one audio stream only")
                : Reason(.unsupportedApplications, text: "only audio is supported; \(media ?? "this application") is not")
            let reject = JingleElement(action: .contentReject, sid: sid, contents: [
                Content(creator: content.creator, name: content.name, senders: content.senders),
            ], reason: reason)
            // After the engine's acknowledgement of the content-add has gone out.
            Task { self.sendContentReject(sid: sid, reject, content: content.name.rawValue, media: media, reason: reason) }
        }
    }

    private func sendContentReject(sid: String, _ reject: JingleElement, content: String, media: String?, reason: Reason) {
        guard let r = records[sid], !r.state.isEnded else { return }
        do { carryOut(try sessions.send(reject, now: now)) } catch {
            return log("content-reject for \(sid) not sent: \(error)")
        }
        rearm()
        r.call.sink.yield(.contentRejected(name: content, media: media, reason: reason))
    }
}
