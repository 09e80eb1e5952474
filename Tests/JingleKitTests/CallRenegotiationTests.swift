import CallTestSupport
import Jingle
import JingleKit
import Testing
import XMLStream
import XMPPCore

/// A Jingle peer played by the test: it sends raw Jingle requests through the in-memory router
/// and hands every Jingle request it receives (answered with a result) to `received`.
final class RawJinglePeer: Sendable {
    let client: InMemoryClient
    let router: InMemoryRouter
    let received: AsyncStream<JingleElement>
    private let sink: AsyncStream<JingleElement>.Continuation

    init(router: InMemoryRouter, jid: String) async {
        self.router = router
        client = await router.client(jid)
        (received, sink) = AsyncStream.makeStream(of: JingleElement.self)
        let sink = self.sink
        await client.setRequestHandler(namespace: JingleNamespace.jingle) { iq in
            if let j = try? JingleElement(iq: iq) { sink.yield(j) }
            return iq.result()
        }
    }

    var jid: JID { client.jid }

    /// Sends `j` to `to` and returns the answer.
    func send(_ j: JingleElement, to: JID) async -> IQ? {
        await router.request(j.iq(id: "raw-\(UInt32.random(in: 0...UInt32.max))", from: jid, to: to), from: jid)
    }

    /// The next received request with this action (others are skipped).
    func next(_ action: JingleAction) async throws -> JingleElement {
        let stream = received
        return try await within(.seconds(10), "\(action.rawValue) at the raw peer") {
            for await j in stream where j.action == action { return j }
            throw TimedOut(what: "\(action.rawValue) (stream ended)")
        }
    }

    static func audioOffer(sid: String, ufrag: String, pwd: String) -> JingleElement {
        let description = RTPDescription(media: "audio", payloadTypes: [PayloadType(id: 111, name: "opus", clockrate: 48000, channels: 2)])
        let transport = ICEUDPTransport(
            ufrag: ufrag, pwd: pwd,
            fingerprints: [
                Fingerprint(hash: "sha-256", setup: .actpass, value: (0..<32).map { _ in "AB" }.joined(separator: ":"))
            ])
        return JingleElement(
            action: .sessionInitiate, sid: sid,
            contents: [
                Content(creator: .initiator, name: "audio", senders: .both, description: .rtp(description), transport: .iceUDP(transport))
            ])
    }
}

/// What a call does after setup: content-add answered with content-reject (XEP-0166 §7.2.1,
/// §7.2.4), ICE restart by the peer and candidates by ufrag generation (XEP-0176, RFC 8838).
@Suite struct CallRenegotiationTests {
    /// Alice's manager answers a session the raw peer bob initiates; returns the active call.
    func activeCall(media: (any MediaTransportProvider)? = nil, ufrag: String = "bobUfrag1", pwd: String = "bobPassword1bobPassword1")
        async throws -> (
            manager: CallManager, alice: JID, bob: RawJinglePeer, call: Call, events: EventReader, sid: String,
            accept: JingleElement
        )
    {
        let router = InMemoryRouter()
        let ac = await router.client("alice@localhost/desk")
        let alice = CallManager(
            transport: ac, local: ac.jid,
            configuration: CallConfiguration(
                mediaTransports: media ?? SignallingOnlyTransportProvider()))
        await alice.start()
        let bob = await RawJinglePeer(router: router, jid: "bob@localhost/phone")
        let sid = "raw-\(UInt32.random(in: 0...UInt32.max))"
        let result = await bob.send(RawJinglePeer.audioOffer(sid: sid, ufrag: ufrag, pwd: pwd), to: ac.jid)
        #expect(result?.type == .result)
        let call = try await nextIncoming(alice)
        let events = EventReader(call)
        try await call.accept()
        let accept = try await bob.next(.sessionAccept)
        _ = try await events.next("accepted") { $0 == .accepted }
        return (alice, ac.jid, bob, call, events, sid, accept)
    }

    @Test func aVideoContentAddIsRejectedAndTheCallGoesOn() async throws {
        let (manager, alice, bob, call, events, sid, _) = try await activeCall()
        let video = Content(
            creator: .initiator, name: "video", senders: .both,
            description: .rtp(
                RTPDescription(
                    media: "video", payloadTypes: [PayloadType(id: 96, name: "VP8", clockrate: 90000)])),
            transport: .iceUDP(ICEUDPTransport(ufrag: "bobUfrag1", pwd: "bobPassword1bobPassword1")))
        let ack = await bob.send(JingleElement(action: .contentAdd, sid: sid, contents: [video]), to: alice)
        #expect(ack?.type == .result, "the content-add is acknowledged first")
        let reject = try await bob.next(.contentReject)
        #expect(reject.contents.map(\.name) == ["video"])
        #expect(reject.reason?.condition == .unsupportedApplications)
        let event = try await events.next("content rejected") { if case .contentRejected = $0 { true } else { false } }
        #expect(event == .contentRejected(name: "video", media: "video", reason: try #require(reject.reason)))

        // A second audio stream is refused too, with <failed-application/>.
        let audio2 = Content(
            creator: .initiator, name: "audio2", senders: .both,
            description: .rtp(
                RTPDescription(
                    media: "audio", payloadTypes: [PayloadType(id: 111, name: "opus", clockrate: 48000, channels: 2)])))
        #expect(await bob.send(JingleElement(action: .contentAdd, sid: sid, contents: [audio2]), to: alice)?.type == .result)
        let second = try await bob.next(.contentReject)
        #expect(second.contents.map(\.name) == ["audio2"] && second.reason?.condition == .failedApplication)

        // The call is still active: session-info is acknowledged and a terminate ends it normally.
        #expect(await call.state == .active)
        let info = await bob.send(JingleElement(action: .sessionInfo, sid: sid, info: [.rtp(.hold)]), to: alice)
        #expect(info?.type == .result)
        _ = try await events.next("held") { $0 == .remoteHeld(true) }
        _ = await bob.send(JingleElement(action: .sessionTerminate, sid: sid, reason: Reason(.success)), to: alice)
        #expect(try await events.ended() == .completed(byPeer: true))
        withExtendedLifetime(manager) {}
    }

    @Test func aPeerRestartIsAnsweredWithNewCredentialsAndOldCandidatesAreDropped() async throws {
        let media = RecordingProvider(restarts: true)
        let (manager, alice, bob, call, events, sid, accept) = try await activeCall(media: media)
        let transport = try await first(media.made, "alice's transport")
        guard case .iceUDP(let first)? = accept.contents.first?.transport else { Issue.record("no ICE-UDP answer"); return }

        // Bob restarts: new ufrag/pwd and one candidate of the new generation.
        let fresh = Candidate(
            component: 1, foundation: "3", id: "new1", ip: "127.0.0.1", network: 0, port: 41000, priority: 100, type: .host)
        let restart = Content(
            creator: .initiator, name: "audio",
            transport: .iceUDP(
                ICEUDPTransport(
                    ufrag: "bobUfrag2", pwd: "bobPassword2bobPassword2", candidates: [fresh])))
        #expect(await bob.send(JingleElement(action: .transportInfo, sid: sid, contents: [restart]), to: alice)?.type == .result)

        let answer = try await bob.next(.transportInfo)
        guard case .iceUDP(let renewed)? = answer.contents.first?.transport else { Issue.record("no ICE-UDP transport-info"); return }
        #expect(renewed.ufrag != nil && renewed.ufrag != first.ufrag, "alice answers with a new ufrag")
        #expect(renewed.pwd != nil && renewed.pwd != first.pwd)
        #expect(renewed.fingerprints.first?.value == first.fingerprints.first?.value, "the DTLS fingerprint stays (XEP-0320)")
        #expect(!renewed.candidates.isEmpty, "alice's candidates are signalled again")
        let restarted = try await events.next("ICE restarted") { if case .iceRestarted = $0 { true } else { false } }
        guard case .iceRestarted(let r) = restarted else { return }
        #expect(r.byPeer && r.remoteUfrag == "bobUfrag2" && r.localUfrag == renewed.ufrag)
        #expect(r.previousLocalUfrag == first.ufrag && r.previousRemoteUfrag == "bobUfrag1")

        // A late candidate of the old generation is dropped; one of the new one goes to the transport.
        let stale = Candidate(
            component: 1, foundation: "4", id: "old1", ip: "127.0.0.1", network: 0, port: 41001, priority: 100, type: .host)
        let late = Candidate(
            component: 1, foundation: "5", id: "new2", ip: "127.0.0.1", network: 0, port: 41002, priority: 100, type: .host)
        for (ufrag, candidate) in [("bobUfrag1", stale), ("bobUfrag2", late)] {
            let info = Content(
                creator: .initiator, name: "audio", transport: .iceUDP(ICEUDPTransport(ufrag: ufrag, candidates: [candidate])))
            #expect(await bob.send(JingleElement(action: .transportInfo, sid: sid, contents: [info]), to: alice)?.type == .result)
        }
        let told = try await within(.seconds(10), "the new generation's candidate at the transport") {
            var seen: [RecordingTransport.Told] = []
            for await t in transport.told {
                seen.append(t)
                if t == .candidates([late]) { break }
            }
            return seen
        }
        let restarts = told.compactMap { if case .restart(let remote) = $0 { remote } else { nil } }
        #expect(restarts.count == 1 && restarts.first?.ufrag == "bobUfrag2" && restarts.first?.candidates == [fresh])
        #expect(!told.contains(.candidates([stale])), "a candidate of the retired ufrag never reaches ICE")
        _ = try await events.next("new candidates") { $0 == .remoteCandidates([late]) }
        await call.hangUp()
        withExtendedLifetime(manager) {}
    }

    @Test func restartICEOnACallSendsNewCredentialsAndTakesThePeersAnswer() async throws {
        let media = RecordingProvider(restarts: true)
        let (manager, alice, bob, call, events, sid, accept) = try await activeCall(media: media)
        let transport = try await first(media.made, "alice's transport")
        guard case .iceUDP(let first)? = accept.contents.first?.transport else { Issue.record("no ICE-UDP answer"); return }

        try await call.restartICE()
        try await call.restartICE() // still waiting for bob's answer: not offered twice
        let offer = try await bob.next(.transportInfo)
        guard case .iceUDP(let renewed)? = offer.contents.first?.transport else { Issue.record("no ICE-UDP transport-info"); return }
        #expect(renewed.ufrag != first.ufrag && renewed.pwd != first.pwd && renewed.pwd != nil)
        #expect(renewed.fingerprints.first?.setup == first.fingerprints.first?.setup)

        // Bob answers with his own new credentials: alice applies them without restarting again.
        let answer = Content(
            creator: .initiator, name: "audio", transport: .iceUDP(ICEUDPTransport(ufrag: "bobUfrag2", pwd: "bobPassword2bobPassword2")))
        #expect(await bob.send(JingleElement(action: .transportInfo, sid: sid, contents: [answer]), to: alice)?.type == .result)
        let restarted = try await events.next("ICE restarted") { if case .iceRestarted = $0 { true } else { false } }
        guard case .iceRestarted(let r) = restarted else { return }
        #expect(!r.byPeer && r.localUfrag == renewed.ufrag && r.remoteUfrag == "bobUfrag2")
        let told = try await within(.seconds(10), "both restart calls at the transport") {
            var restarts: [RemoteMediaParameters?] = []
            for await t in transport.told {
                if case .restart(let remote) = t { restarts.append(remote) }
                if restarts.count == 2 { break }
            }
            return restarts
        }
        #expect(told.first == .some(nil), "our restart first, without remote parameters")
        #expect(told.last??.ufrag == "bobUfrag2")

        // One transport-info from alice: one offer, and no answer to bob's answer.
        let fromAlice = await bob.router.routed.filter {
            $0.attribute("from") == alice.description
                && $0.child("jingle", namespace: JingleNamespace.jingle)?.attribute("action") == JingleAction.transportInfo.rawValue
        }
        #expect(fromAlice.count == 1)
        await call.hangUp()
        let terminate = try await bob.next(.sessionTerminate)
        #expect(terminate.reason?.condition == .success)
        withExtendedLifetime(manager) {}
    }

    @Test func aRestartBeforeWeAnswerReplacesTheOffersCredentials() async throws {
        let router = InMemoryRouter()
        let media = RecordingProvider(restarts: true)
        let ac = await router.client("alice@localhost/desk")
        let manager = CallManager(transport: ac, local: ac.jid, configuration: CallConfiguration(mediaTransports: media))
        await manager.start()
        let bob = await RawJinglePeer(router: router, jid: "bob@localhost/phone")
        let sid = "raw-early-restart"
        #expect(
            await bob.send(RawJinglePeer.audioOffer(sid: sid, ufrag: "bobUfrag1", pwd: "bobPassword1bobPassword1"), to: ac.jid)?.type
                == .result)
        let call = try await nextIncoming(manager)
        let stale = Candidate(
            component: 1, foundation: "1", id: "old1", ip: "127.0.0.1", network: 0, port: 42000, priority: 100, type: .host)
        let fresh = Candidate(
            component: 1, foundation: "2", id: "new1", ip: "127.0.0.1", network: 0, port: 42001, priority: 100, type: .host)
        for (ufrag, pwd, candidate) in [("bobUfrag1", nil, stale), ("bobUfrag2", "bobPassword2bobPassword2", fresh)] {
            let info = Content(
                creator: .initiator, name: "audio", transport: .iceUDP(ICEUDPTransport(ufrag: ufrag, pwd: pwd, candidates: [candidate])))
            #expect(await bob.send(JingleElement(action: .transportInfo, sid: sid, contents: [info]), to: ac.jid)?.type == .result)
        }
        try await call.accept()
        _ = try await bob.next(.sessionAccept)
        let transport = try await first(media.made, "alice's transport")
        let started = try await within(.seconds(10), "the transport started") {
            for await t in transport.told { if case .start(let remote) = t { return remote } }
            throw TimedOut(what: "start (stream ended)")
        }
        #expect(started.ufrag == "bobUfrag2" && started.pwd == "bobPassword2bobPassword2")
        #expect(started.candidates == [fresh], "the old generation's trickled candidate is gone")
        await call.hangUp()
        withExtendedLifetime(manager) {}
    }

    @Test func restartICEBeforeTheCallIsActiveIsRefused() async throws {
        let router = InMemoryRouter()
        let ac = await router.client("alice@localhost/desk")
        let alice = CallManager(transport: ac, local: ac.jid)
        await alice.start()
        let call = try await alice.placeCall(to: JID("bob@localhost/phone")!, useJMI: false, timeout: .seconds(30))
        await #expect(throws: CallError.wrongState(.proposing)) { try await call.restartICE() }
        await call.hangUp()
        withExtendedLifetime(alice) {}
    }
}
