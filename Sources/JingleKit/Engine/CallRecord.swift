import Jingle
import XMPPCore

/// What the call engine knows about one call besides the Jingle and JMI engines' state: the
/// call-wide facts and timings, and its `Stage`, which carries the data of the stage it is in
/// (XEP-0353 §3 for a proposal, XEP-0166 §6 for the session: pending, active, ended).
struct CallRecord: Sendable {
    let sid: String
    /// The JID the call was placed to (bare for JMI), or the caller's full JID.
    let peer: JID
    let direction: CallDirection
    let usesJMI: Bool
    var stage: Stage
    /// The peer's full JID once known.
    var device: JID?

    // Timings (the engine's clock, as passed in).
    var placedAt: EngineInstant
    var ringingAt: EngineInstant?
    var proceededAt: EngineInstant?
    var initiatedAt: EngineInstant?
    var acceptedAt: EngineInstant?
    var iceConnectedAt: EngineInstant?
    var dtlsConnectedAt: EngineInstant?
    var firstAudioAt: EngineInstant?

    init(
        sid: String, peer: JID, direction: CallDirection, usesJMI: Bool, stage: Stage, device: JID? = nil,
        placedAt: EngineInstant
    ) {
        self.sid = sid
        self.peer = peer
        self.direction = direction
        self.usesJMI = usesJMI
        self.stage = stage
        self.device = device
        self.placedAt = placedAt
    }

    /// One call's stage, each carrying only its own data. Before a Jingle session a JMI call is
    /// an XEP-0353 proposal (§3.1 propose, §3.2 ringing, §3.3 proceed); the session then goes
    /// through XEP-0166 §6's pending, active and ended.
    enum Stage: Sendable {
        /// Outgoing, XEP-0353 §3.1: our proposal is out; `ringing` once a callee device said so
        /// (§3.2). The call ends with `<timeout/>` at `deadline`.
        case proposed(ringing: Bool, deadline: EngineInstant?)
        /// Incoming, XEP-0353 §3.2: a proposal rings here, waiting for `accept()`.
        case ringing
        /// Incoming, XEP-0353 §3.3: we proceeded; the caller's session-initiate is awaited.
        case proceeded
        /// XEP-0166 pending: the session is under way (we asked for the transport for our
        /// session-initiate, or received the peer's) and not accepted yet.
        case pending(Pending)
        /// XEP-0166 active: session-accept sent or received.
        case active(Active)
        /// XEP-0166 ended; the record is dropped at `forgetAt` (`CallEngine.endedCallRetention`).
        case ended(CallEndReason, session: SessionAtEnd, forgetAt: EngineInstant)
    }

    /// The Jingle session when the call ended.
    enum SessionAtEnd: Sendable, Hashable {
        case none
        /// An incoming JMI call we had proceeded: the caller's session-initiate may still come
        /// (it is acknowledged, then terminated).
        case awaited
        /// A session was under way (XEP-0166 pending or active).
        case started
    }

    /// A pending session (XEP-0166 §6.2).
    struct Pending: Sendable {
        /// What `Call.state` reports meanwhile.
        var progress: Progress
        var offer: Offer
        var media: Media

        enum Progress: Sendable { case proposing, ringing, connecting }
    }

    /// Whose offer the pending session carries.
    enum Offer: Sendable {
        /// Outgoing: our session-initiate (sent once the transport is made); the call ends with
        /// `<timeout/>` at `deadline`.
        case ours(deadline: EngineInstant?)
        /// Incoming: the peer's session-initiate, to answer.
        case theirs(JingleElement)
    }

    /// An active session (XEP-0166 §6.3): its media, and our ICE restart (RFC 8445 §9).
    struct Active: Sendable {
        var media: Media
        /// We restarted ICE and wait for the peer's new credentials since then.
        var restartOfferedAt: EngineInstant?
        /// Our ufrag before our latest restart.
        var ufragBeforeRestart: String?
    }

    /// The call's media transport and ICE/DTLS parameters (XEP-0176, XEP-0320).
    struct Media: Sendable {
        var transport: Transport = .awaited(requested: false, earlyCandidates: [])
        /// The peer's current ICE ufrag (XEP-0176), and the ones an ICE restart retired: candidates
        /// signalled with a retired ufrag belong to an old generation and are dropped (RFC 8838 §4).
        var remoteUfrag: String?
        var retiredRemoteUfrags: Set<String> = []
        /// Our DTLS setup as negotiated (XEP-0320), repeated in a restart's fingerprint.
        var localSetup: DTLSSetup?

        var hasTransport: Bool { if case .made = transport { true } else { false } }
        /// Our current ufrag, sent with trickled candidates so the peer can tell generations apart.
        var localUfrag: String? { if case .made(let u) = transport { u } else { nil } }

        /// Our new ufrag after an ICE restart; only a made transport restarts.
        mutating func restarted(localUfrag: String) {
            if case .made = transport { transport = .made(localUfrag: localUfrag) }
        }
    }

    enum Transport: Sendable {
        /// Not made yet; `requested`: the driver was asked to make it (once per call).
        /// `earlyCandidates`: the peer trickled them meanwhile; handed over when it is made.
        case awaited(requested: Bool, earlyCandidates: [Candidate])
        /// Made, with our current ufrag: media actions may name this call.
        case made(localUfrag: String)
    }

    /// What `Call.state` reports.
    var state: CallState {
        switch stage {
        case .proposed(let ringing, _): ringing ? .ringing : .proposing
        case .ringing: .ringing
        case .proceeded: .connecting
        case .pending(let p):
            switch p.progress {
            case .proposing: .proposing
            case .ringing: .ringing
            case .connecting: .connecting
            }
        case .active: .active
        case .ended(let end, _, _): .ended(end)
        }
    }

    var isEnded: Bool { if case .ended = stage { true } else { false } }

    /// Whether a Jingle session is (or was, when the call ended) under way for this sid.
    var sessionStarted: Bool {
        switch stage {
        case .proposed, .ringing, .proceeded: false
        case .pending, .active: true
        case .ended(_, let session, _): session == .started
        }
    }

    /// The outgoing call's no-answer deadline, while it is not answered.
    var deadline: EngineInstant? {
        switch stage {
        case .proposed(_, let deadline): deadline
        case .pending(let p): if case .ours(let deadline) = p.offer { deadline } else { nil }
        case .ringing, .proceeded, .active, .ended: nil
        }
    }

    var forgetAt: EngineInstant? { if case .ended(_, _, let at) = stage { at } else { nil } }

    /// The media of a pending or active session.
    var media: Media? {
        switch stage {
        case .pending(let p): p.media
        case .active(let a): a.media
        case .proposed, .ringing, .proceeded, .ended: nil
        }
    }

    /// Changes the media of a pending or active session; in other stages there is none: no-op.
    mutating func updateMedia(_ change: (inout Media) -> Void) {
        switch stage {
        case .pending(var p):
            change(&p.media)
            stage = .pending(p)
        case .active(var a):
            change(&a.media)
            stage = .active(a)
        case .proposed, .ringing, .proceeded, .ended: break
        }
    }

    // MARK: Transitions
    //
    // Each switches over the current stage and moves to the next; an input that has no meaning
    // in the current stage changes nothing and says so (nil or false), for the engine to ignore
    // or refuse as before. None of them traps: they all follow what peers send.

    /// The no-answer deadline passed (or no longer applies): the stage keeps no deadline.
    mutating func clearDeadline() {
        switch stage {
        case .proposed(let ringing, _): stage = .proposed(ringing: ringing, deadline: nil)
        case .pending(var p):
            guard case .ours = p.offer else { return }
            p.offer = .ours(deadline: nil)
            stage = .pending(p)
        case .ringing, .proceeded, .active, .ended: break
        }
    }

    /// XEP-0353 §3.2: a callee device rings our proposal. False in any other stage.
    mutating func proposalRang() -> Bool {
        guard case .proposed(_, let deadline) = stage else { return false }
        stage = .proposed(ringing: true, deadline: deadline)
        return true
    }

    /// A session-info `<ringing/>` (XEP-0167 §7.2) on a call still proposing shows it ringing.
    mutating func sessionRang() {
        switch stage {
        case .proposed(false, let deadline): stage = .proposed(ringing: true, deadline: deadline)
        case .pending(var p) where p.progress == .proposing:
            p.progress = .ringing
            stage = .pending(p)
        case .proposed, .ringing, .proceeded, .pending, .active, .ended: break
        }
    }

    /// XEP-0353 §3.3: the callee's `device` proceeded; our session starts with a transport to make
    /// (the session-initiate goes once it is made). False in any other stage than `proposed`.
    mutating func proposalProceeded(device: JID, now: EngineInstant) -> Bool {
        guard case .proposed(_, let deadline) = stage else { return false }
        stage = .pending(
            Pending(
                progress: .connecting, offer: .ours(deadline: deadline),
                media: Media(transport: .awaited(requested: true, earlyCandidates: []))))
        self.device = device
        proceededAt = now
        return true
    }

    /// We accept an incoming call: a ringing proposal proceeds (XEP-0353 §3.3), a ringing session
    /// connects. False when it does not ring here.
    mutating func accepted() -> Bool {
        switch stage {
        case .ringing:
            stage = .proceeded
            return true
        case .pending(var p) where p.progress == .ringing:
            guard case .theirs = p.offer else { return false }
            p.progress = .connecting
            stage = .pending(p)
            return true
        case .proposed, .proceeded, .pending, .active, .ended: return false
        }
    }

    /// The caller's session-initiate for a proposal we proceeded. False in any other stage.
    mutating func sessionInitiated(_ initiate: JingleElement, remoteUfrag: String?, now: EngineInstant) -> Bool {
        guard case .proceeded = stage else { return false }
        stage = .pending(Pending(progress: .connecting, offer: .theirs(initiate), media: Media(remoteUfrag: remoteUfrag)))
        initiatedAt = now
        return true
    }

    /// Incoming: whether to ask for the transport of our answer now (once per call).
    mutating func requestAnswerTransport() -> Bool {
        guard case .pending(var p) = stage, case .theirs = p.offer, case .awaited(false, let early) = p.media.transport
        else { return false }
        p.media.transport = .awaited(requested: true, earlyCandidates: early)
        stage = .pending(p)
        return true
    }

    /// The transport was made: our ufrag, and the candidates the peer trickled meanwhile (nil:
    /// no transport was awaited in this stage).
    mutating func transportMade(localUfrag: String) -> [Candidate]? {
        guard case .pending(var p) = stage, case .awaited(_, let early) = p.media.transport else { return nil }
        p.media.transport = .made(localUfrag: localUfrag)
        stage = .pending(p)
        return early
    }

    /// XEP-0166: session-accept sent or received. False unless pending.
    mutating func sessionActivated(now: EngineInstant) -> Bool {
        guard case .pending(let p) = stage else { return false }
        stage = .active(Active(media: p.media))
        acceptedAt = now
        return true
    }

    /// Our ICE restart (RFC 8445 §9) is offered at `now`, from our current ufrag. False unless
    /// the call is active with its transport made.
    mutating func offeredRestart(now: EngineInstant) -> Bool {
        guard case .active(var a) = stage, a.media.hasTransport else { return false }
        a.restartOfferedAt = now
        a.ufragBeforeRestart = a.media.localUfrag
        stage = .active(a)
        return true
    }

    /// Our restart is not going out (the transport cannot restart): no answer is awaited.
    mutating func restartAbandoned() {
        guard case .active(var a) = stage else { return }
        a.restartOfferedAt = nil
        stage = .active(a)
    }

    /// The peer signalled new ICE credentials for `content` (XEP-0176 §2.4): its old ufrag is
    /// retired. While our transport is not made, its early candidates are void and an offer we
    /// have not answered yet takes the new credentials. `answering`: the peer restarted (else it
    /// answered our restart). Nil in a stage without media.
    mutating func peerRestarted(_ content: ContentKey, _ t: ICEUDPTransport, ufrag: String) -> (
        previousRemoteUfrag: String?, answering: Bool
    )? {
        guard var media else { return nil }
        let previous = media.remoteUfrag
        if let previous { media.retiredRemoteUfrags.insert(previous) }
        media.remoteUfrag = ufrag
        if case .awaited(let requested, _) = media.transport {
            media.transport = .awaited(requested: requested, earlyCandidates: [])
        }
        switch stage {
        case .active(var a):
            let answering = a.restartOfferedAt == nil
            a.restartOfferedAt = nil
            a.media = media
            stage = .active(a)
            return (previous, answering)
        case .pending(var p):
            if !media.hasTransport, case .theirs(var initiate) = p.offer {
                // Not answered yet: the offer's credentials and candidates are replaced; the
                // session-accept we send later carries our credentials.
                initiate.contents = initiate.contents.map { c in
                    guard c.key == content, case .iceUDP(var old)? = c.transport else { return c }
                    old.ufrag = t.ufrag
                    old.pwd = t.pwd
                    old.candidates = t.candidates
                    var c = c
                    c.transport = .iceUDP(old)
                    return c
                }
                p.offer = .theirs(initiate)
            }
            p.media = media
            stage = .pending(p)
            return (previous, true)
        case .proposed, .ringing, .proceeded, .ended: return nil
        }
    }

    /// The call ends with `end`. False when it had ended already.
    mutating func ended(_ end: CallEndReason, forgetAt: EngineInstant) -> Bool {
        let session: SessionAtEnd
        switch stage {
        case .proposed, .ringing: session = .none
        case .proceeded: session = .awaited
        case .pending, .active: session = .started
        case .ended: return false
        }
        stage = .ended(end, session: session, forgetAt: forgetAt)
        return true
    }

    /// Our session-initiate was refused after the call ended for it: no session ever existed.
    mutating func sessionRefused() {
        guard case .ended(let end, .started, let at) = stage else { return }
        stage = .ended(end, session: .none, forgetAt: at)
    }

    var statistics: CallStatistics {
        var s = CallStatistics()
        if usesJMI && direction == .outgoing {
            s.proposeToRinging = ringingAt.map { $0 - placedAt }
            s.proposeToProceed = proceededAt.map { $0 - placedAt }
        }
        if let i = initiatedAt, let a = acceptedAt { s.initiateToAccept = a - i }
        s.setup = acceptedAt.map { $0 - placedAt }
        s.iceConnected = iceConnectedAt.map { $0 - placedAt }
        s.dtlsConnected = dtlsConnectedAt.map { $0 - placedAt }
        s.firstAudio = firstAudioAt.map { $0 - placedAt }
        return s
    }
}
