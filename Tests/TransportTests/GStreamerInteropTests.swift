import DriverClock
import EngineTime
import Foundation
import Jingle
import Media
import Testing
import TLS
@testable import Transport

/// Interop with GStreamer 1.22's own WebRTC elements (Debian's packages), the media stack of Dino,
/// Gajim and other GStreamer-based XMPP clients: `Tools/peers/gst_peer.py` runs `webrtcbin`
/// (libnice, DTLS-SRTP, rtpbin) with `opusenc ! rtpopuspay` sending and `rtpopusdepay ! opusdec`
/// receiving, in both offer/answer directions. As with aiortc, our side is described in Jingle and
/// reaches GStreamer only as SDP through `SDPMapping`; GStreamer's SDP comes back the same way.
///
/// rtpopuspay's first RTP timestamp step is 648 samples (960 minus opusenc's look-ahead), then
/// 960: the receive side must follow timestamps rather than count frames. GStreamer's DTLS offers
/// only AES_CM_128_HMAC_SHA1_80 (and _32), so the call settles on the profile we offer second.
///
/// The name contains `MediaSessionCallTests` so Tools/test runs it with the other real-time suites.
@Suite(.serialized) struct GStreamerMediaSessionCallTests {
    struct Outcome {
        var profile: SRTPProfile
        var connected: AiortcPeer.Message
        var stopped: AiortcPeer.Message
        var ours: MediaSessionStatistics
        var oursWhileSending: MediaSessionStatistics
        var iceStates: [ICEComponentState]
        var mosReceivedByUs: Double
        var mosReceivedByGStreamer: Double
        var frames: Int
    }

    @Test func gstreamerAnswersOurJingleOffer() async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        let peer = try GStreamerPeer.start(
            role: .answerer, play: speech.url, record: dir.appendingPathComponent("received-by-gst-answerer.wav"), in: dir)
        defer { peer.terminate() }
        let call = try AiortcCall(controlling: true)
        defer { call.close() }
        let agreed = try await WebRTCPeerNegotiation.weOffer(call, to: peer, name: "GStreamer", checkFormless: Self.checkOnlyFormless)
        let session = try WebRTCPeerNegotiation.startSession(call, agreed, jitterBuffer: Self.jitterBuffer)

        let outcome = try await Self.run(call, session, peer: peer, speech: speech, dir: dir, label: "gst-answerer")
        Self.check(outcome, dtlsRoleOfGStreamer: "client")
    }

    @Test func weAnswerGStreamerOfferWithJingle() async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        let peer = try GStreamerPeer.start(
            role: .offerer, play: speech.url, record: dir.appendingPathComponent("received-by-gst-offerer.wav"), in: dir)
        defer { peer.terminate() }

        let call = try AiortcCall(controlling: false)
        defer { call.close() }
        let (agreed, answer) = try await WebRTCPeerNegotiation.weAnswer(
            call, offerFrom: peer, name: "GStreamer", expectLoopbackOffer: true, checkFormless: Self.checkOnlyFormless)
        let session = try WebRTCPeerNegotiation.startSession(call, agreed, jitterBuffer: Self.jitterBuffer)
        try peer.send(type: "answer", sdp: answer)

        let outcome = try await Self.run(call, session, peer: peer, speech: speech, dir: dir, label: "gst-offerer")
        Self.check(outcome, dtlsRoleOfGStreamer: "server")
    }

    // MARK: - The call itself, the same in both directions

    /// The aiortc suite's settings: a 200 ms floor and no time stretching, so the recording is
    /// what the codec and SRTP path delivered, sample-aligned. webrtcbin paces its packets from a
    /// GStreamer clock, so the floor is generous here.
    static let jitterBuffer = AdaptiveJitterBufferSettings(minimumDelay: .milliseconds(200))

    static func run(
        _ call: AiortcCall, _ session: MediaSession, peer: AiortcPeer, speech: (url: URL, wav: WAVFile),
        dir: URL, label: String
    ) async throws -> Outcome {
        let timers = CallSupport.driveTimers([session])
        let event = await CallSupport.outcome(of: session)
        timers.cancel()
        guard case .established(let profile) = event else {
            throw AiortcSignalling.Failure(
                description: "\(label): our session did not establish: \(String(describing: event)); "
                    + "ICE \(call.iceStates.withLock { $0 }); GStreamer log: \(peer.logTail())")
        }
        // gst_peer.py starts its speech when webrtcbin reports DTLS-SRTP up, so ours starts now.
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
            "\(label): SRTP \(profile); PESQ received by JingleKit \(mosUs), received by GStreamer \(mosThem); "
                + "our receive side while sending: decoded \(s.decodedFrames) concealed \(s.concealedFrames) "
                + "fec \(s.fecRecoveredFrames) (\(String(format: "%.1f", s.concealedShare * 100)) % concealed), "
                + "expanded \(s.expandedFrames) accelerated \(s.acceleratedFrames); "
                + "ours \(exchange.statistics); GStreamer \(stopped)")
        return Outcome(
            profile: profile, connected: connected, stopped: stopped, ours: exchange.statistics,
            oursWhileSending: exchange.whileSending, iceStates: call.iceStates.withLock { $0 },
            mosReceivedByUs: mosUs, mosReceivedByGStreamer: mosThem,
            frames: speech.wav.samples.count / MediaSession.samplesPerFrame)
    }

    /// webrtcbin's SDP lines the mapping drops must be ones Jingle has no form for. GStreamer
    /// 1.22's offer has three: a=ice-options:trickle (XEP-0176 always trickles), a=rtcp-rsize
    /// (RFC 5506 reduced-size RTCP) and a=rtcp-mux-only (RFC 8858); Jingle's <rtcp-mux/> carries
    /// a=rtcp-mux beside them, and we always multiplex. The rest are aiortc's list, in case a
    /// GStreamer version writes them: msid-semantic, end-of-candidates, the a=rtcp placeholder.
    static func checkOnlyFormless(_ unmapped: [UnmappedSDPLine]) {
        let formless: Set<String> = ["ice-options", "rtcp-rsize", "rtcp-mux-only", "msid-semantic", "end-of-candidates", "rtcp"]
        let others = unmapped.filter { $0.line.attribute.map { !formless.contains($0.name) } ?? true }
        #expect(others.isEmpty, "SDP lines from GStreamer the mapping lost: \(others.map(\.description))")
    }

    static func check(_ o: Outcome, dtlsRoleOfGStreamer: String) {
        #expect(o.iceStates.contains(.connected) || o.iceStates.contains(.ready), "ICE states \(o.iceStates)")
        #expect(o.ours.selectedPair?.hasPrefix("127.0.0.1:") == true, "selected pair \(String(describing: o.ours.selectedPair))")
        #expect(o.profile == .aes128CMHMACSHA1_80, "GStreamer 1.22's DTLS offers AES_CM only; negotiated \(o.profile)")
        #expect(o.ours.srtpProfile == .aes128CMHMACSHA1_80)
        #expect(
            o.connected.srtpProfile == AiortcSignalling.openSSLName(o.profile),
            "GStreamer negotiated \(String(describing: o.connected.srtpProfile))")
        #expect(o.connected.dtlsRole == dtlsRoleOfGStreamer)
        // The field case under test: rtpopuspay's first timestamp step is 648, then 960.
        #expect(
            o.stopped.firstTimestampSteps?.first == 648, "rtpopuspay's first steps: \(String(describing: o.stopped.firstTimestampSteps))")
        #expect(o.stopped.firstTimestampSteps?.dropFirst().allSatisfy { $0 == 960 } == true)
        #expect(o.ours.packetsSent == o.frames)
        #expect(
            (o.stopped.packetsReceived ?? 0) >= o.frames - 2,
            "GStreamer received \(String(describing: o.stopped.packetsReceived)) of \(o.frames)")
        #expect((o.stopped.recordedFrames ?? 0) > 0)
        #expect(o.ours.packetsReceived >= o.frames - 2, "we received \(o.ours.packetsReceived) of about \(o.frames)")
        #expect(o.ours.packetsRejected == 0)
        #expect(o.ours.rtcpReceived > 0, "GStreamer's RTCP unprotects and parses")
        let s = o.oursWhileSending
        #expect(
            s.concealedShare < 0.05,
            "we concealed \(s.concealedFrames) of \(s.decodedFrames + s.concealedFrames + s.fecRecoveredFrames) frames while GStreamer was sending"
        )
        #expect(o.mosReceivedByUs >= 3.5)
        #expect(o.mosReceivedByGStreamer >= 3.5)
    }
}
