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
