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
    static var gstreamer: WebRTCPeerCall {
        WebRTCPeerCall(
            name: "GStreamer",
            startPeer: { role, play, record, dir in try GStreamerPeer.start(role: role, play: play, record: record, in: dir) },
            checkFormless: checkOnlyFormless)
    }

    @Test func gstreamerAnswersOurJingleOffer() async throws {
        let outcome = try await Self.gstreamer.peerAnswers(label: "gst-answerer")
        Self.check(outcome, dtlsRoleOfGStreamer: "client")
    }

    @Test func weAnswerGStreamerOfferWithJingle() async throws {
        let outcome = try await Self.gstreamer.peerOffers(label: "gst-offerer", expectLoopbackOffer: true)
        Self.check(outcome, dtlsRoleOfGStreamer: "server")
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

    static func check(_ o: WebRTCPeerCall.Outcome, dtlsRoleOfGStreamer: String) {
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
        #expect(o.mosReceivedByPeer >= 3.5)
    }
}
