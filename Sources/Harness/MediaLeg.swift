import EngineTime
import Jingle
import JingleKit
import XMLStream

/// One call's media plane in `--media` runs: a JingleKit `MediaTransport` (ICE per XEP-0176 /
/// RFC 8445, DTLS-SRTP per XEP-0320 / RFC 5763, Opus per RFC 7587) driven by the call's stanzas.
///
/// The harness fills the ICE-UDP transport of the call's outgoing session-initiate or
/// session-accept with the leg's real ufrag, pwd, certificate fingerprint and host candidates,
/// starts the leg with the peer's transport from the received offer or answer, and adds
/// candidates trickled in transport-info. Once DTLS is up the transport sends a 20 ms Opus frame
/// of silence at a time, so the peer decodes its first packet without an audio source.
///
/// ICE restart (RFC 8445 §9, XEP-0176 §2.4): an outgoing transport-info whose template ufrag
/// differs from the one sent before (the scenario `set` new credentials) restarts the leg's ICE
/// and carries its real new ufrag, pwd and candidates; a received transport-info with a new
/// ufrag and pwd restarts the leg too (or answers its own restart), and the next outgoing
/// transport-info carries the new credentials. Candidates of a retired ufrag are dropped.
actor MediaLeg {
    /// What the media plane of a call came to.
    struct Outcome: Sendable {
        var measurements: [CallInterpreter.Measurement]
        /// nil when the first media packet was decoded.
        var failure: FailureCause?
    }

    private let role: Creator
    /// How long an outgoing restart waits for first media before it restarts anyway.
    static let restartWait: Duration = .seconds(5)
    private let setup: Task<(any MediaTransport)?, Never>
    private var transport: (any MediaTransport)?
    private var setupError: String?
    private var listening = false
    private var started = false
    private var closed = false
    private var acceptAt: ContinuousClock.Instant?
    private var iceAt: ContinuousClock.Instant?
    private var dtlsAt: ContinuousClock.Instant?
    private var mediaAt: ContinuousClock.Instant?
    private var failure: Reason?
    private var waiters: [CheckedContinuation<Void, Never>] = []
    // ICE restart bookkeeping.
    /// The ufrag of the scenario's last offer, answer or restart template (before rewriting).
    private var templateUfrag: String?
    private var peerUfrag: String?
    private var retiredPeerUfrags: Set<String> = []
    /// We restarted and wait for the peer's credentials.
    private var restartPending = false
    /// The peer restarted; our next transport-info answers with the new credentials.
    private var answerPending = false
    private var restartAt: ContinuousClock.Instant?
    /// The transport reported its restart: the next `iceConnected` is the new generation's.
    private var transportRestarted = false
    private var restartICEAt: ContinuousClock.Instant?
    private var restartMediaAt: ContinuousClock.Instant?

    private let qualityGuard: MediaQualityGuard
    /// The received-audio statistics when the call was hung up (by either side). Frames the
    /// playout conceals after that are the end of the call, not loss, so the guard judges these.
    private var statisticsAtHangUp: CallMediaStatistics?

    init(provider: any MediaTransportProvider, sid: String, role: Creator, qualityGuard: MediaQualityGuard = MediaQualityGuard()) {
        self.role = role
        self.qualityGuard = qualityGuard
        setup = Task { try? await provider.makeTransport(sid: sid, role: role) }
    }

    private func ready() async -> (any MediaTransport)? {
        if let transport { return transport }
        guard let made = await setup.value else {
            if failure == nil { failure = Reason(.failedTransport, text: "the media transport could not be made") }
            wake()
            return nil
        }
        transport = made
        if !listening {
            listening = true
            let events = made.events
            Task { [weak self] in
                for await event in events { await self?.handle(event) }
                await self?.ended()
            }
        }
        return made
    }

    /// `element` with the ICE-UDP transport of an outgoing session-initiate, session-accept or
    /// transport-info carrying this leg's credentials, fingerprint and candidates; a
    /// transport-info with new template credentials first restarts the leg's ICE.
    func fill(_ element: XMLElement) async -> XMLElement {
        guard let jingle = element.child("jingle", namespace: JingleNamespace.jingle),
            let action = jingle.attribute("action")
        else { return element }
        let ufrag = StanzaPath.find("transport", in: jingle)?.attribute("ufrag")
        switch action {
        case JingleAction.sessionTerminate.rawValue:
            hangUp()
            return element
        case JingleAction.sessionInitiate.rawValue, JingleAction.sessionAccept.rawValue:
            guard let transport = await ready() else { return element }
            if action == JingleAction.sessionAccept.rawValue { acceptAt = .now }
            templateUfrag = ufrag
            let local = await transport.localTransport()
            let candidates = await transport.localCandidates()
            return Self.rewrite(element, local: local, candidates: candidates)
        case JingleAction.transportInfo.rawValue:
            guard let ufrag, let transport = await ready() else { return element }
            let local: LocalTransport
            if answerPending {
                answerPending = false
                local = await transport.localTransport()
            } else if let previous = templateUfrag, ufrag != previous {
                // The scenario set new credentials: our restart, of a call whose media flows
                // (bounded wait, as for the hang-up).
                await settle(timeout: Self.restartWait)
                restartPending = true
                beginRestart()
                guard let restarted = await transport.restartICE(remote: nil) else {
                    restartPending = false
                    if failure == nil { failure = Reason(.failedTransport, text: "the media transport cannot restart ICE") }
                    wake()
                    return element
                }
                local = restarted
            } else {
                local = await transport.localTransport()
            }
            templateUfrag = ufrag
            return Self.rewrite(element, local: local, candidates: await transport.localCandidates())
        default:
            return element
        }
    }

    private func beginRestart() {
        restartAt = .now
        transportRestarted = false
        restartICEAt = nil
        restartMediaAt = nil
    }

    private static func rewrite(_ element: XMLElement, local: LocalTransport, candidates: [Candidate]) -> XMLElement {
        var out = element
        if element.name == "transport", element.namespace == JingleNamespace.iceUDP {
            out.setAttribute("ufrag", local.ufrag)
            out.setAttribute("pwd", local.pwd)
            out.children = element.children.map { node in
                guard case .element(var child) = node, child.name == "fingerprint", child.namespace == JingleNamespace.dtls,
                    let value = local.fingerprint
                else { return node }
                child.setAttribute("hash", local.fingerprintHash)
                child.children = [.text(value)]
                return .element(child)
            }
            if out.child("candidate", namespace: JingleNamespace.iceUDP) == nil {
                for candidate in candidates { out.append(candidate.element) }
            }
            return out
        }
        out.children = element.children.map { node in
            guard case .element(let child) = node else { return node }
            return .element(rewrite(child, local: local, candidates: candidates))
        }
        return out
    }

    /// A stanza of the call arrived: the peer's offer or answer starts the leg; transport-info
    /// adds candidates.
    func received(_ stanza: XMLElement) async {
        guard let jingle = stanza.child("jingle", namespace: JingleNamespace.jingle), let action = jingle.attribute("action"),
            stanza.attribute("type") == "set"
        else { return }
        let transports = jingle.elements.compactMap { $0.child("transport", namespace: JingleNamespace.iceUDP) }
            .compactMap { try? ICEUDPTransport(element: $0) }
        switch action {
        case JingleAction.sessionTerminate.rawValue:
            hangUp()
        case JingleAction.sessionInitiate.rawValue, JingleAction.sessionAccept.rawValue:
            if action == JingleAction.sessionAccept.rawValue { acceptAt = .now }
            guard !started, let remote = transports.first, let transport = await ready() else { return }
            started = true
            peerUfrag = remote.ufrag
            // RFC 5763 §5: the answerer picks; an initiator whose answer says `passive` is the client.
            let setup = remote.fingerprints.first?.setup
            let dtlsRole: DTLSRole? = role == .initiator && setup == .passive ? .client : nil
            await transport.start(
                remote: RemoteMediaParameters(
                    ufrag: remote.ufrag, pwd: remote.pwd, candidates: remote.candidates, fingerprint: remote.fingerprints.first,
                    dtlsRole: dtlsRole))
        case JingleAction.transportInfo.rawValue:
            var candidates: [Candidate] = []
            for t in transports {
                if let u = t.ufrag, retiredPeerUfrags.contains(u) { continue } // an old generation
                if let u = t.ufrag, let current = peerUfrag, u != current {
                    guard let pwd = t.pwd, !pwd.isEmpty, let transport = await ready() else { continue }
                    retiredPeerUfrags.insert(current)
                    peerUfrag = u
                    if restartPending {
                        restartPending = false
                    } else {
                        answerPending = true
                        beginRestart()
                    }
                    _ = await transport.restartICE(
                        remote: RemoteMediaParameters(
                            ufrag: u, pwd: pwd, candidates: t.candidates, fingerprint: t.fingerprints.first, dtlsRole: nil))
                    continue
                }
                candidates += t.candidates
            }
            guard !candidates.isEmpty, let transport = await ready() else { return }
            await transport.addRemoteCandidates(candidates)
        default:
            return
        }
    }

    private func handle(_ event: MediaTransportEvent) {
        switch event {
        case .iceConnected:
            if iceAt == nil { iceAt = .now }
            if transportRestarted, restartICEAt == nil { restartICEAt = .now }
        case .iceRestarted: transportRestarted = true
        case .mediaResumed: if restartAt != nil, restartMediaAt == nil { restartMediaAt = .now }
        case .connected:
            if iceAt == nil { iceAt = .now }
            if dtlsAt == nil { dtlsAt = .now }
        case .firstAudio: if mediaAt == nil { mediaAt = .now }
        case .failed(let reason): if failure == nil { failure = reason }
        default: return
        }
        wake()
    }

    private func ended() {
        listening = false
        wake()
    }

    /// Keeps the received-audio statistics as they are when the call ends: once a
    /// session-terminate is sent or received the peer stops sending, and the playout goes on
    /// concealing until the leg closes (as long as the terminate's round trip takes).
    func hangUp() {
        if statisticsAtHangUp == nil { statisticsAtHangUp = transport?.mediaStatistics }
    }

    /// First media arrived and, after a restart, media resumed on the new pair.
    private var settled: Bool { mediaAt != nil && (restartAt == nil || restartMediaAt != nil) }

    private func wake() {
        guard settled || failure != nil || closed || !listening else { return }
        let ready = waiters
        waiters = []
        ready.forEach { $0.resume() }
    }

    /// Waits until the first media packet was decoded (and, after an ICE restart, media resumed),
    /// the transport failed, or `timeout`.
    func settle(timeout: Duration) async {
        guard !settled, failure == nil, !closed else { return }
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.timedOut()
        }
        await withCheckedContinuation { waiters.append($0) }
        timer.cancel()
    }

    private func timedOut() {
        let ready = waiters
        waiters = []
        ready.forEach { $0.resume() }
    }

    /// The measurements so far and the cause when media did not flow: `ice-failed` before ICE
    /// connected, `dtls-failed` before DTLS completed, `no-media` when no packet was decoded,
    /// `media-concealed` when packets came but the quality guard finds too much concealed.
    func outcome() -> Outcome {
        var measurements: [CallInterpreter.Measurement] = []
        func seconds(_ from: ContinuousClock.Instant?, _ to: ContinuousClock.Instant?) -> Double? {
            guard let from, let to else { return nil }
            let d = to - from
            return max(0, d.inSeconds)
        }
        if let s = seconds(acceptAt, iceAt) { measurements.append(.init(name: "accept->ice", seconds: s)) }
        if let s = seconds(iceAt, dtlsAt) { measurements.append(.init(name: "ice->dtls", seconds: s)) }
        if let s = seconds(dtlsAt, mediaAt) { measurements.append(.init(name: "dtls->first-media", seconds: s)) }
        if let s = seconds(restartAt, restartICEAt) { measurements.append(.init(name: "restart->ice", seconds: s)) }
        if let s = seconds(restartAt, restartMediaAt) { measurements.append(.init(name: "restart->media", seconds: s)) }
        if settled {
            // Media flowed: it must also have been intelligible.
            let concealed = (statisticsAtHangUp ?? transport?.mediaStatistics).flatMap { qualityGuard.failure($0) }
            return Outcome(measurements: measurements, failure: concealed.map { .mediaConcealed($0) })
        }
        let detail = failure.map { [$0.condition.name, $0.text].compactMap { $0 }.joined(separator: ": ") }
        let cause: FailureCause
        if mediaAt != nil {
            // Media flowed, then an ICE restart did not bring it back.
            cause =
                restartICEAt == nil
                ? .iceFailed(detail ?? "ICE did not reconnect after the restart")
                : .noMedia(detail ?? "no media packet arrived after the ICE restart")
        } else if iceAt == nil, failure?.condition != .securityError {
            cause = .iceFailed(detail ?? (started ? "ICE did not connect in time" : "no offer or answer started the media leg"))
        } else if dtlsAt == nil {
            cause = .dtlsFailed(detail ?? "DTLS-SRTP did not complete in time")
        } else {
            cause = .noMedia(detail ?? "no media packet was decoded in time")
        }
        return Outcome(measurements: measurements, failure: cause)
    }

    /// Releases the transport (sockets, agent); once.
    func close() async {
        guard !closed else { return }
        closed = true
        wake()
        if let transport = await setup.value { await transport.close() }
    }
}
