import DriverClock
import EngineTime
import Foundation
import Jingle
import JingleJSON
import Media
import TLS
import Testing
import Transport

/// Offer and answer with a WebRTC peer that speaks SDP over its control pipe (aiortc_peer.py,
/// gst_peer.py), Jingle on our side through the SDP mapping; what every such test expects of the
/// negotiation (RFC 8842 §5.5 setup roles, the offerer's Opus payload type, no RED with peers
/// that lack it, loopback candidates) is checked here once.
enum WebRTCPeerNegotiation {
    /// What both ends settled on, for the media session.
    struct Agreed {
        var remote: AiortcSignalling.RemoteAudio
        var role: DTLSRole
        var opus: UInt8
    }

    /// Our session-initiate goes to `peer` as an SDP offer; its SDP answer is read back as a
    /// session-accept. `name` names the peer in messages; `checkFormless` judges the SDP lines
    /// that have no Jingle form.
    static func weOffer(
        _ call: AiortcCall, to peer: AiortcPeer, name: String, checkFormless: ([UnmappedSDPLine]) -> Void
    ) async throws -> Agreed {
        let candidates = try await call.gather()
        let credentials = try call.agent.localCredentials()
        var offer = Negotiation.offer(
            transport: LocalTransport(
                ufrag: credentials.usernameFragment, pwd: credentials.password,
                fingerprint: call.certificate.fingerprint(.sha256)))
        offer = try AiortcSignalling.adding(candidates, to: offer)
        let initiate = JingleElement(
            action: .sessionInitiate, sid: AiortcSignalling.sid, initiator: AiortcSignalling.ourJID, contents: [offer])
        try peer.send(type: "offer", sdp: try AiortcSignalling.sdp(of: initiate, party: .initiator))

        let answerSDP = try #require(try await peer.next("answer").sdp)
        let (accept, unmapped) = try AiortcSignalling.jingle(fromSDP: answerSDP, action: .sessionAccept, party: .responder)
        print("\(name) answer: SDP lines without a Jingle form: \(unmapped.map(\.description))")
        checkFormless(unmapped)
        let content = try #require(
            accept.content(offer.name), "\(name)'s answer has no content '\(offer.name)': \(accept.contents.map(\.name)); \(answerSDP)")
        let remote = try AiortcSignalling.RemoteAudio(content)
        #expect(remote.setup == .active, "\(name) answers actpass with active (RFC 8842 §5.5)")
        let role = try #require(Negotiation.dtlsRole(local: .actpass, remote: remote.setup))
        let opus = try #require(remote.opusPayloadTypes.first, "\(name) answered without Opus: \(answerSDP)")
        #expect(opus == 111, "an answer keeps the offerer's payload type")
        // We offer RED (RFC 2198); these peers do not speak it and answer plain Opus, which we then send.
        #expect(offer.rtp?.payloadTypes.contains { $0.name?.lowercased() == "red" } == true, "we offer RED")
        #expect(remote.redPayloadTypes.isEmpty, "\(name) answered RED: \(answerSDP)")
        #expect(!remote.candidates.isEmpty && remote.candidates.allSatisfy { $0.address == "127.0.0.1" })
        return Agreed(remote: remote, role: role, opus: opus)
    }

    /// `peer`'s SDP offer is read as a session-initiate and answered by the negotiation rules with
    /// our candidates; returns the agreement and our answer's SDP, to send once the session runs.
    static func weAnswer(
        _ call: AiortcCall, offerFrom peer: AiortcPeer, name: String, expectLoopbackOffer: Bool,
        checkFormless: ([UnmappedSDPLine]) -> Void
    ) async throws -> (Agreed, answerSDP: String) {
        let offerSDP = try #require(try await peer.next("offer").sdp)
        let (initiate, unmapped) = try AiortcSignalling.jingle(fromSDP: offerSDP, action: .sessionInitiate, party: .initiator)
        print("\(name) offer: SDP lines without a Jingle form: \(unmapped.map(\.description))")
        checkFormless(unmapped)
        let offered = try #require(initiate.contents.first, "\(name)'s offer has no content: \(offerSDP)")
        let remote = try AiortcSignalling.RemoteAudio(offered)
        #expect(remote.setup == .actpass)
        if expectLoopbackOffer {
            #expect(!remote.candidates.isEmpty && remote.candidates.allSatisfy { $0.address == "127.0.0.1" })
        }

        let candidates = try await call.gather()
        let credentials = try call.agent.localCredentials()
        let local = LocalTransport(
            ufrag: credentials.usernameFragment, pwd: credentials.password,
            fingerprint: call.certificate.fingerprint(.sha256))
        var accept: JingleElement
        switch Negotiation.accept(initiate, transport: { _ in local }) {
        case .success(let a): accept = a
        case .failure(let reason): throw AiortcSignalling.Failure(description: "we refused \(name)'s offer: \(reason)")
        }
        accept.responder = AiortcSignalling.ourJID
        let answered = try #require(accept.content(offered.name))
        accept.contents = [try AiortcSignalling.adding(candidates, to: answered)]
        let ourSetup = try #require(answered.transport?.iceUDP?.fingerprints.first?.setup)
        #expect(ourSetup == .active, "we answer actpass with active (RFC 8842 §5.5)")
        let role = try #require(Negotiation.dtlsRole(local: ourSetup, remote: remote.setup))
        let opus = try #require(
            answered.rtp?.payloadTypes.first { $0.name?.lowercased() == "opus" }?.id,
            "we answered without Opus: \(answered)")
        #expect(remote.opusPayloadTypes.contains(opus))
        // These peers offer no RED, so our answer is plain Opus.
        #expect(remote.redPayloadTypes.isEmpty, "\(name) offered RED: \(offerSDP)")
        #expect(answered.rtp?.payloadTypes.contains { $0.name?.lowercased() == "red" } == false, "we answered RED to a peer without it")
        return (Agreed(remote: remote, role: role, opus: opus), try AiortcSignalling.sdp(of: accept, party: .responder))
    }

    /// The media session for what was agreed, started on `call` (time stretching off, so the
    /// recording is what the codec and SRTP path delivered, sample-aligned).
    static func startSession(_ call: AiortcCall, _ agreed: Agreed, jitterBuffer: AdaptiveJitterBufferSettings) throws -> MediaSession {
        let session = try MediaSession(
            agent: call.agent,
            configuration: MediaSessionConfiguration(
                role: agreed.role == .client ? .client : .server, certificate: call.certificate,
                remoteFingerprint: agreed.remote.fingerprint, payloadType: agreed.opus, cname: "romeo@localhost",
                jitterBuffer: jitterBuffer, timeStretching: false),
            now: EngineClock.process.now,
            wallClock: .wallClockNow())
        try call.start(session, remote: agreed.remote)
        return session
    }
}

/// One call with a WebRTC peer process (aiortc_peer.py, gst_peer.py) in either offer/answer
/// direction, made and measured the same way for every such peer: the speech played each way in
/// real time, both recordings scored with wideband PESQ.
struct WebRTCPeerCall {
    /// What one call delivered.
    struct Outcome {
        var profile: SRTPProfile
        var connected: AiortcPeer.Message
        var stopped: AiortcPeer.Message
        var ours: MediaSessionStatistics
        var oursWhileSending: MediaSessionStatistics
        var iceStates: [ICEComponentState]
        /// What we recorded, scored against the speech the peer played.
        var mosReceivedByUs: Double
        /// What the peer recorded, scored against the speech we sent.
        var mosReceivedByPeer: Double
        var frames: Int
    }

    /// The peer's name in messages ("aiortc", "GStreamer").
    var name: String
    /// Starts the peer in `role`, playing `play` once DTLS-SRTP is up and recording to `record`,
    /// its log in `dir`.
    var startPeer: (_ role: AiortcPeer.Role, _ play: URL, _ record: URL, _ dir: URL) throws -> AiortcPeer
    /// Judges the peer's SDP lines that have no Jingle form.
    var checkFormless: ([UnmappedSDPLine]) -> Void

    /// Both peers pace their audio on their own (aiortc from Python's event loop, in bursts, and
    /// on a loaded two-core machine it can stall for over 100 ms; webrtcbin from a GStreamer
    /// clock). A 200 ms floor absorbs that, and with time stretching off every played frame stays
    /// 20 ms, so the recording is what the codec and SRTP path delivered, sample-aligned, rather
    /// than how the jitter buffer steered around the other process's scheduling.
    static let jitterBuffer = AdaptiveJitterBufferSettings(minimumDelay: .milliseconds(200))

    /// Our Jingle offer, the peer's answer, the call.
    func peerAnswers(label: String) async throws -> Outcome {
        try await call(peerRole: .answerer, label: label) { call, peer in
            let agreed = try await WebRTCPeerNegotiation.weOffer(call, to: peer, name: name, checkFormless: checkFormless)
            return try WebRTCPeerNegotiation.startSession(call, agreed, jitterBuffer: Self.jitterBuffer)
        }
    }

    /// The peer's offer, our Jingle answer, the call.
    func peerOffers(label: String, expectLoopbackOffer: Bool) async throws -> Outcome {
        try await call(peerRole: .offerer, label: label) { call, peer in
            let (agreed, answer) = try await WebRTCPeerNegotiation.weAnswer(
                call, offerFrom: peer, name: name, expectLoopbackOffer: expectLoopbackOffer, checkFormless: checkFormless)
            let session = try WebRTCPeerNegotiation.startSession(call, agreed, jitterBuffer: Self.jitterBuffer)
            try peer.send(type: "answer", sdp: answer)
            return session
        }
    }

    private func call(
        peerRole: AiortcPeer.Role, label: String, negotiate: (AiortcCall, AiortcPeer) async throws -> MediaSession
    ) async throws -> Outcome {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        let peer = try startPeer(peerRole, speech.url, dir.appendingPathComponent("received-by-\(label).wav"), dir)
        defer { peer.terminate() }
        let call = try AiortcCall(controlling: peerRole == .answerer)
        defer { call.close() }
        let session = try await negotiate(call, peer)
        return try await run(call, session, peer: peer, speech: speech, dir: dir, label: label)
    }

    /// Waits for DTLS-SRTP on both ends, exchanges the speech both ways in real time, stops the
    /// peer and scores both recordings.
    private func run(
        _ call: AiortcCall, _ session: MediaSession, peer: AiortcPeer, speech: (url: URL, wav: WAVFile),
        dir: URL, label: String
    ) async throws -> Outcome {
        let timers = CallSupport.driveTimers([session])
        let event = await CallSupport.outcome(of: session)
        timers.cancel()
        guard case .established(let profile) = event else {
            throw AiortcSignalling.Failure(
                description: "\(label): our session did not establish: \(String(describing: event)); "
                    + "ICE \(call.iceStates.withLock { $0 }); \(name) log: \(peer.logTail())")
        }
        // The peer starts playing as soon as its DTLS-SRTP is up, so our 20 ms clock starts now
        // too: audio left unpulled meanwhile would only pile up in the jitter buffer as extra
        // delay. The tail covers that delay and the difference between the two starts.
        let exchange = try await AiortcCall.exchange(session, speech: speech.wav.samples, tailFrames: 100)
        let connected = try await peer.next("connected", seconds: 1)
        session.close(now: EngineClock.process.now)
        let stopped = try await peer.stop()

        let ours = dir.appendingPathComponent("received-by-jinglekit-\(label).wav")
        try Data(WAVFile(sampleRate: 48_000, channels: 1, samples: exchange.recorded).serialized()).write(to: ours)
        let theirs = dir.appendingPathComponent("received-by-\(label).wav")
        let mosUs = try CallSupport.pesq(reference: speech.url, degraded: ours)
        let mosThem = try CallSupport.pesq(reference: speech.url, degraded: theirs)
        let s = exchange.whileSending
        print(
            "\(label): SRTP \(profile); PESQ received by JingleKit \(mosUs), received by \(name) \(mosThem); "
                + "our receive side while sending: decoded \(s.decodedFrames) concealed \(s.concealedFrames) "
                + "fec \(s.fecRecoveredFrames) (\(String(format: "%.1f", s.concealedShare * 100)) % concealed), "
                + "expanded \(s.expandedFrames) accelerated \(s.acceleratedFrames); "
                + "ours \(exchange.statistics); \(name) \(stopped)")
        return Outcome(
            profile: profile, connected: connected, stopped: stopped, ours: exchange.statistics,
            oursWhileSending: exchange.whileSending, iceStates: call.iceStates.withLock { $0 },
            mosReceivedByUs: mosUs, mosReceivedByPeer: mosThem,
            frames: speech.wav.samples.count / MediaSession.samplesPerFrame)
    }
}
