import DriverClock
import Foundation
import Jingle
import Media
import Synchronization
import TLS
import Transport

/// One call's audio transport: an ICE agent over libnice (XEP-0176, RFC 8445) carrying a
/// DTLS-SRTP media session (XEP-0320, RFC 5763/5764) with Opus (RFC 7587), driven by a 20 ms media
/// clock that feeds the call's audio source to the encoder and the jitter buffer's output to its sink.
///
/// A runtime adapter: it reads the clock, owns two tasks (ICE events in order, the media
/// session's events) and is ticked by the process's `MediaClock`. Its state is guarded by one lock.
final class ICEMediaTransport: AudioMediaTransport, MediaClockMember, @unchecked Sendable {
    let events: AsyncStream<MediaTransportEvent>
    private let sink: AsyncStream<MediaTransportEvent>.Continuation
    private let agent: ICEAgent
    private let certificate: DTLSCertificate
    private let settings: CallMediaSettings
    private let role: Creator
    private let cname: String
    /// Our RTP SSRC, chosen now so the offer or answer can announce it (XEP-0339).
    private let ssrc = UInt32.random(in: 1...UInt32.max)
    /// The media engines' clock (`EngineInstant` from when this transport was made).
    private let clock = EngineClock()
    private let state = Mutex(State())
    private let tasks = Mutex([Task<Void, Never>]())
    /// What came of each STUN/TURN server (reported in the media statistics).
    private let iceServers: ICEServerTracker

    /// What the ICE-event task consumes, in order: agent events, and the media session once it exists.
    private enum Input: Sendable {
        case ice(ICEEvent)
        case sessionReady(MediaSession)
    }
    private let inbox: AsyncStream<Input>.Continuation

    private struct State {
        var session: MediaSession?
        var gathered: [ICECandidate] = []
        var gatheringDone = false
        var handedOut = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
        var iceConnected = false
        var reportedICE = false
        var pair: SelectedCandidatePair?
        var established = false
        /// DTLS finished before ICE was reported (datagrams reach the session straight from
        /// libnice's thread, ahead of the ICE events' task): `connected` waits for `iceConnected`,
        /// so the call's events keep their order; `heldSince` bounds the wait.
        var connectedHeldSince: EngineInstant?
        var firstAudio = false
        var ended = false
        var closed = false
        var connectDeadline: EngineInstant?
        /// The peer's credentials are set: candidates can go to libnice (else they wait here).
        var remoteKnown = false
        var earlyCandidates: [Candidate] = []
        var remoteCandidatesAdded = 0
        var audio: CallAudioRouting?
        var framesSent = 0
        var framesPlayed = 0
        var lateTicks = 0
        var sendLevel = -100.0
        var receiveLevel = -100.0
        /// ICE restart (RFC 8445 §9): we restarted and wait for the peer's new credentials.
        var awaitingRestartAnswer = false
        /// Restarted and not yet reconnected: a `failed` state of the old checks is not fatal.
        var restarting = false
        /// Packets received when ICE reconnected after a restart; `mediaResumed` once more arrive.
        var packetsAtReconnect: Int?
    }

    init(agent: ICEAgent, role: Creator, settings: CallMediaSettings, cname: String) throws(CallError) {
        self.agent = agent
        self.role = role
        self.settings = settings
        self.cname = cname
        iceServers = ICEServerTracker(servers: agent.configuration.servers)
        do { certificate = try DTLSCertificate.generate(commonName: "JingleKit") } catch {
            throw .transportFailed("cannot make the call's DTLS certificate: \(error)")
        }
        (events, sink) = AsyncStream.makeStream(of: MediaTransportEvent.self)
        let (inputs, inbox) = AsyncStream.makeStream(of: Input.self)
        self.inbox = inbox
        // Datagrams skip the event stream: held until the media session exists, then handed to
        // it on the GLib thread that read them (see `start`).
        agent.holdDatagrams()
        let agentEvents = agent.events
        let forwarder = Task.detached {
            for await event in agentEvents { inbox.yield(.ice(event)) }
        }
        let clock = clock
        let consumer = Task.detached { [weak self] in
            var delivered: MediaSession?
            var pending: [ICEEvent] = []
            for await input in inputs {
                switch input {
                case .ice(let event):
                    guard self?.note(event) ?? true else { continue }
                    if let delivered {
                        delivered.handle(event, now: clock.now)
                    } else if pending.count < 512 {
                        pending.append(event)
                    }
                case .sessionReady(let session):
                    delivered = session
                    let now = clock.now
                    pending.forEach { session.handle($0, now: now) }
                    pending = []
                }
            }
        }
        tasks.withLock { $0 = [forwarder, consumer] }
        MediaClock.shared.add(self)
    }

    /// Starts gathering; call once after `init`.
    func gather() throws(CallError) {
        do { try agent.gather() } catch { throw .transportFailed("ICE gathering failed: \(error)") }
    }

    // MARK: MediaTransport

    func localTransport() async -> LocalTransport {
        let credentials = (try? agent.localCredentials()) ?? ICECredentials(usernameFragment: "", password: "")
        return LocalTransport(
            ufrag: credentials.usernameFragment, pwd: credentials.password,
            fingerprintHash: "sha-256", fingerprint: certificate.fingerprint(.sha256), ssrc: ssrc, cname: cname)
    }

    func localCandidates() async -> [Candidate] {
        if !state.withLock({ $0.gatheringDone || $0.closed }) {
            await waitForGathering(at: clock.now + settings.gatheringWait)
        }
        iceServers.diagnose()
        return state.withLock { s in
            s.handedOut = true
            return s.gathered.map(CandidateMapping.jingle)
        }
    }

    func start(remote: RemoteMediaParameters) async {
        guard !state.withLock({ $0.closed || $0.session != nil || $0.ended }) else { return }
        guard let ufrag = remote.ufrag, let pwd = remote.pwd, !ufrag.isEmpty, !pwd.isEmpty else {
            return fail(Reason(.failedTransport, text: "the peer sent no ICE ufrag/pwd (XEP-0176)"))
        }
        guard let fingerprint = remote.fingerprint, !fingerprint.value.isEmpty else {
            return fail(Reason(.securityError, text: "the peer sent no DTLS fingerprint (XEP-0320)"))
        }
        do {
            try agent.setRemoteCredentials(ICECredentials(usernameFragment: ufrag, password: pwd))
        } catch {
            return fail(Reason(.failedTransport, text: "ICE refused the peer's credentials: \(error)"))
        }
        let early = state.withLock { s -> [Candidate] in
            s.remoteKnown = true
            defer { s.earlyCandidates = [] }
            return s.earlyCandidates
        }
        addCandidates(remote.candidates + early)
        let dtlsRole: DTLSConnection.Role =
            switch remote.dtlsRole ?? (role == .initiator ? .server : .client) {
            case .client: .client
            case .server: .server
            }
        let opus = remote.payloadTypes.first { $0.name?.lowercased() == "opus" }?.id ?? 111
        // RFC 4733 events: sent at Opus's 48 kHz clock where agreed, else at 8 kHz; received on
        // every agreed rate (libwebrtc sends on the lowest); nil when the peer agreed to none.
        let telephoneEvents = remote.payloadTypes.filter {
            $0.name?.lowercased() == "telephone-event" && ($0.clockrate == 48_000 || $0.clockrate == 8_000)
        }
        let events = telephoneEvents.first { $0.clockrate == 48_000 } ?? telephoneEvents.first
        let receivedEvents = Dictionary(telephoneEvents.map { ($0.id, Int($0.clockrate ?? 8_000)) }) { first, _ in first }
        // RFC 2198 redundancy agreed for our Opus payload type (`red`, fmtp `111/111`).
        let red = remote.payloadTypes.first { p in
            Negotiation.redundantPayloadTypes(p).map { !$0.isEmpty && $0.allSatisfy { $0 == opus } } ?? false
        }?.id
        var configuration = MediaSessionConfiguration(
            role: dtlsRole, certificate: certificate, remoteFingerprint: (fingerprint.hash, fingerprint.value),
            payloadType: opus, telephoneEventPayloadType: events?.id,
            telephoneEventClockRate: events?.clockrate.map(Int.init) ?? 48_000,
            receivedTelephoneEvents: receivedEvents, redPayloadType: red, ssrc: ssrc, cname: cname, opusBitrate: settings.opusBitrate,
            opusComplexity: settings.opusComplexity,
            forwardErrorCorrection: settings.forwardErrorCorrection,
            discontinuousTransmission: settings.discontinuousTransmission,
            jitterBuffer: settings.jitterBuffer, timeStretching: settings.timeStretching,
            testOnlyOutgoingRTPLoss: settings.testOnlyOutgoingRTPLoss.map { ($0, 0x5EED) })
        configuration.testOnlyOutgoingLossMeanBurst = settings.testOnlyOutgoingLossMeanBurst
        let session: MediaSession
        do { session = try MediaSession(agent: agent, configuration: configuration, now: clock.now, wallClock: Self.wallClockNow()) } catch
        {
            return fail(Reason(.failedApplication, text: "\(error)"))
        }
        let installed = state.withLock { s -> Bool in
            guard !s.closed, s.session == nil else { return false }
            s.session = session
            s.connectDeadline = clock.now + settings.connectTimeout
            return true
        }
        guard installed else {
            session.close(now: clock.now)
            return
        }
        let receiveClock = clock
        agent.deliverDatagrams { [weak session] datagram in session?.receive(datagram: datagram, now: receiveClock.now) }
        let watcher = Task.detached { [weak self] in
            for await event in session.events { self?.sessionEvent(event) }
        }
        tasks.withLock { $0.append(watcher) }
        inbox.yield(.sessionReady(session))
    }

    func addRemoteCandidates(_ candidates: [Candidate]) async {
        let now = state.withLock { s -> Bool in
            if !s.remoteKnown {
                s.earlyCandidates += candidates.prefix(max(0, CallMediaSettings.maximumRemoteCandidates - s.earlyCandidates.count))
            }
            return s.remoteKnown
        }
        if now { addCandidates(candidates) }
    }

    func close() async {
        let (session, waiters) = state.withLock { s -> (MediaSession?, [CheckedContinuation<Void, Never>]) in
            guard !s.closed else { return (nil, []) }
            s.closed = true
            let w = Array(s.waiters.values)
            s.waiters = [:]
            return (s.session, w)
        }
        waiters.forEach { $0.resume() }
        let running = tasks.withLock { t in
            defer { t = [] }; return t
        }
        guard !running.isEmpty || session != nil else { return }
        running.forEach { $0.cancel() }
        session?.close(now: clock.now)
        // libnice's teardown can take a while (it releases TURN allocations); wait for it on a
        // plain thread, never on the cooperative pool, whose few threads run every call.
        let agent = self.agent
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                agent.close()
                done.resume()
            }
        }
        inbox.finish()
        sink.finish()
    }

    // MARK: AudioMediaTransport

    func route(_ audio: CallAudioRouting) {
        state.withLock { $0.audio = audio }
    }

    func sendDTMF(_ digits: String) throws(CallError) {
        guard let session = state.withLock({ $0.session }) else {
            throw .wrongState(.connecting)
        }
        do { try session.sendDTMF(digits) } catch {
            throw .dtmf(error.description)
        }
    }

    var mediaStatistics: CallMediaStatistics? {
        let (session, s) = state.withLock { ($0.session, $0) }
        guard let session else { return nil }
        var stats = CallMediaStatistics(session.statistics)
        stats.selectedPair = s.pair
        stats.iceServers = iceServers.statuses
        stats.framesSent = s.framesSent
        stats.framesPlayed = s.framesPlayed
        stats.lateTicks = s.lateTicks
        stats.sendLevel = s.sendLevel
        stats.receiveLevel = s.receiveLevel
        return stats
    }

    // MARK: Internals

    /// Hands the peer's candidates to ICE, at most `CallMediaSettings.maximumRemoteCandidates`
    /// per call: a peer cannot make libnice check an unbounded number of pairs.
    private func addCandidates(_ candidates: [Candidate]) {
        let room = state.withLock { s -> Int in
            let room = max(0, CallMediaSettings.maximumRemoteCandidates - s.remoteCandidatesAdded)
            s.remoteCandidatesAdded += min(room, candidates.count)
            return room
        }
        let usable = candidates.prefix(room).compactMap(CandidateMapping.ice)
        guard !usable.isEmpty else { return }
        _ = try? agent.addRemoteCandidates(usable)
    }

    private func waitForGathering(at deadline: EngineInstant) async {
        let id = state.withLock { s -> UInt64 in
            s.nextWaiter += 1
            return s.nextWaiter
        }
        let wake = clock.continuousInstant(deadline)
        let timer = Task.detached { [weak self] in
            try? await ContinuousClock().sleep(until: wake, tolerance: .milliseconds(5))
            self?.resumeWaiter(id)
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { s -> Bool in
                if s.gatheringDone || s.closed { return true }
                s.waiters[id] = c
                return false
            }
            if resumeNow { c.resume() }
        }
        timer.cancel()
    }

    private func resumeWaiter(_ id: UInt64) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
    }

    /// Bookkeeping for one ICE event (candidates, gathering, pair, state); returns whether the
    /// event then goes to the session (not a `failed` state while a restart reconnects).
    private func note(_ event: ICEEvent) -> Bool {
        switch event {
        case .localCandidate(let c):
            iceServers.gathered(c)
            let trickle = state.withLock { s -> Bool in
                s.gathered.append(c)
                return s.handedOut
            }
            if trickle { sink.yield(.localCandidates([CandidateMapping.jingle(c)])) }
        case .gatheringDone:
            iceServers.diagnose()
            let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                s.gatheringDone = true
                defer { s.waiters = [:] }
                return Array(s.waiters.values)
            }
            waiters.forEach { $0.resume() }
        case .selectedPair(let local, let remote):
            let pair = SelectedCandidatePair(
                localType: CandidateMapping.candidateType(local.kind), localAddress: local.address, localPort: local.port,
                remoteType: CandidateMapping.candidateType(remote.kind), remoteAddress: remote.address, remotePort: remote.port,
                transportProtocol: local.transport == .udp ? "udp" : "tcp")
            reportICE { $0.pair = pair }
        case .stateChanged(let s):
            switch s {
            case .connected, .ready: reportICE { $0.iceConnected = true }
            case .failed: return !state.withLock { $0.restarting }
            case .disconnected, .gathering, .connecting: break
            }
        case .datagram:
            break
        }
        return true
    }

    /// Updates the ICE bookkeeping and reports `iceConnected` once both the state and the pair are known.
    private func reportICE(_ update: (inout State) -> Void) {
        // Reported under the lock, so `iceConnected` and `connected` reach the sink in order.
        let session = state.withLock { s -> MediaSession? in
            update(&s)
            guard s.iceConnected, !s.reportedICE, let pair = s.pair else { return nil }
            s.reportedICE = true
            sink.yield(.iceConnected(pair))
            if s.connectedHeldSince != nil {
                s.connectedHeldSince = nil
                sink.yield(.connected)
            }
            guard s.restarting else { return nil }
            s.restarting = false
            if s.established { s.connectDeadline = nil }
            return s.session
        }
        if let session {
            // Reconnected after a restart: media counts as resumed once more packets arrive.
            let base = session.statistics.packetsReceived
            state.withLock { $0.packetsAtReconnect = base }
        }
    }

    private func sessionEvent(_ event: MediaSessionEvent) {
        switch event {
        case .established:
            let now = clock.now
            // Reported under the lock, in order with `reportICE`.
            state.withLock { s in
                guard !s.established, !s.ended else { return }
                s.established = true
                s.connectDeadline = nil
                if !s.reportedICE {
                    // A finished handshake proves connectivity: with the pair known, ICE is
                    // reported now; without it, `connected` waits for the pair.
                    guard let pair = s.pair, !s.restarting else {
                        s.connectedHeldSince = now
                        return
                    }
                    s.iceConnected = true
                    s.reportedICE = true
                    sink.yield(.iceConnected(pair))
                }
                sink.yield(.connected)
            }
        case .failed(let error):
            fail(Self.reason(for: error))
        case .dtmf(let digit):
            sink.yield(.dtmf(digit))
        case .closed:
            break
        }
    }

    /// XEP-0166 §7.4 reason for a media session failure.
    static func reason(for error: MediaSessionError) -> Reason {
        switch error {
        case .fingerprintMismatch, .handshakeFailed, .unsupportedSRTPProfile, .srtp:
            Reason(.securityError, text: error.description)
        case .codec, .invalidDTMFDigit, .telephoneEventNotNegotiated:
            Reason(.failedApplication, text: error.description)
        case .transportFailed, .invalidFrame, .notEstablished, .closed:
            Reason(.failedTransport, text: error.description)
        }
    }

    private func fail(_ reason: Reason) {
        let first = state.withLock { s -> Bool in
            guard !s.ended, !s.closed else { return false }
            s.ended = true
            return true
        }
        if first { sink.yield(.failed(reason)) }
    }

    /// The wall clock, read here in the driver: the media session's RTCP timestamps count on from it.
    private static func wallClockNow() -> NTPTimestamp {
        NTPTimestamp(sinceUnixEpoch: .nanoseconds(Int64(Date().timeIntervalSince1970 * 1e9)))
    }

    /// One media-clock tick: timers, the connect deadline, then one frame each way once DTLS is done.
    /// Returns false when the transport is closed.
    func tick(scheduled: ContinuousClock.Instant, now instant: ContinuousClock.Instant) -> Bool {
        let now = instant - clock.origin
        let (session, established, audio, overdue, closed) = state.withLock { s in
            (s.session, s.established && !s.ended, s.audio, s.connectDeadline.map { now >= $0 } ?? false, s.closed)
        }
        guard !closed else { return false }
        session?.handleTimeout(now: now)
        if overdue {
            state.withLock { $0.connectDeadline = nil }
            let seconds = settings.connectTimeout.components.seconds
            fail(Reason(.failedTransport, text: "ICE and DTLS did not connect within \(seconds) s"))
            return true
        }
        guard established, let session else { return true }
        releaseHeldConnected(now: now)

        var frame = silence
        var packet: [UInt8]?
        if let source = audio?.source {
            if let p = source.nextOpusPacket() {
                packet = p
            } else if let f = source.nextFrame() {
                frame =
                    f.count == CallAudio.samplesPerFrame
                    ? f
                    : Array(f.prefix(CallAudio.samplesPerFrame)) + [Int16](repeating: 0, count: max(0, CallAudio.samplesPerFrame - f.count))
            } else if audio?.clearSource(ifStill: source) == true {
                sink.yield(.audioSourceFinished)
            }
        }
        if audio?.muted == true { frame = silence; packet = nil }
        // An already-encoded packet goes out as it is (no encoder time); its level is not measured.
        if let packet { try? session.send(opusPacket: packet) } else { try? session.send(frame: frame) }
        let played = session.pullFrame(now: now)
        audio?.sink?.receive(frame: played)

        let late = instant - scheduled > CallAudio.frameDuration
        let sendLevel = packet == nil ? CallAudio.level(of: frame) : state.withLock { $0.sendLevel }
        let receiveLevel = CallAudio.level(of: played)
        let checkFirstAudio = state.withLock { s -> Bool in
            s.framesSent += 1
            s.framesPlayed += 1
            if late { s.lateTicks += 1 }
            s.sendLevel = sendLevel
            s.receiveLevel = receiveLevel
            return !s.firstAudio && s.connectedHeldSince == nil
        }
        if checkFirstAudio, session.statistics.decodedFrames > 0 {
            state.withLock { $0.firstAudio = true }
            sink.yield(.firstAudio)
        }
        checkMediaResumed(session)
        return true
    }

    private let silence = [Int16](repeating: 0, count: CallAudio.samplesPerFrame)

    /// `connected` held for the ICE pair goes out anyway after a second: media flows, and a pair
    /// report that never came must not hide that.
    private func releaseHeldConnected(now: EngineInstant) {
        state.withLock { s in
            guard let since = s.connectedHeldSince, now - since >= .seconds(1) else { return }
            s.connectedHeldSince = nil
            sink.yield(.connected)
        }
    }

    // MARK: ICE restart

    /// ICE restart (RFC 8445 §9, XEP-0176 §2.4). libnice's restart gives the stream new local
    /// credentials and drops the peer's candidates and checks; our local candidates stay (they are
    /// signalled again with the new ufrag) and the selected pair keeps carrying media until a new
    /// one is chosen, so DTLS and SRTP (XEP-0320) go on untouched.
    ///
    /// With `remote` nil we initiate and wait for the peer's new credentials. With `remote` (the
    /// peer's new ufrag, pwd and candidates) we restart too unless this answers our own restart,
    /// then hand libnice the peer's credentials and candidates. Returns our current credentials.
    /// A `failed` state while the new checks run is not passed on (the old pair still works).
    func restartICE(remote: RemoteMediaParameters?) async -> LocalTransport? {
        guard !state.withLock({ $0.closed || $0.ended }) else { return nil }
        if let remote, (remote.ufrag ?? "").isEmpty || (remote.pwd ?? "").isEmpty { return nil }
        let restartHere = state.withLock { s -> Bool in
            if remote != nil, s.awaitingRestartAnswer {
                s.awaitingRestartAnswer = false
                return false
            }
            return true
        }
        if restartHere {
            do { try agent.restart() } catch { return nil }
            let timeout = settings.connectTimeout
            state.withLock { s in
                s.awaitingRestartAnswer = remote == nil
                s.restarting = true
                s.reportedICE = false
                s.pair = nil
                s.packetsAtReconnect = nil
                s.remoteKnown = true
                s.earlyCandidates = []
                s.remoteCandidatesAdded = 0 // a new generation of candidates (RFC 8838 §4)
                // Before DTLS is up the connect deadline starts again; once media flows, a restart
                // that never reconnects leaves the old pair carrying it rather than ending the call.
                if !s.established { s.connectDeadline = clock.now + timeout }
            }
            sink.yield(.iceRestarted)
        }
        if let remote, let ufrag = remote.ufrag, let pwd = remote.pwd {
            do { try agent.setRemoteCredentials(ICECredentials(usernameFragment: ufrag, password: pwd)) } catch {
                fail(Reason(.failedTransport, text: "ICE refused the peer's restart credentials: \(error)"))
                return nil
            }
            addCandidates(remote.candidates)
        }
        return await localTransport()
    }

    /// Reports `mediaResumed` once a packet arrived after ICE reconnected from a restart.
    private func checkMediaResumed(_ session: MediaSession) {
        let received = session.statistics.packetsReceived
        let resumed = state.withLock { s -> Bool in
            guard let base = s.packetsAtReconnect, received > base else { return false }
            s.packetsAtReconnect = nil
            return true
        }
        if resumed { sink.yield(.mediaResumed) }
    }
}
