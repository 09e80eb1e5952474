import CallTestSupport
import Jingle
import JingleKit
import Testing
import XMLStream
import XMPPCore

/// Paired call managers over the in-memory router: direct Jingle (XEP-0166/0167) and JMI
/// (XEP-0353) call set-up, refusal, cancellation, timeouts, multi-device and sender checks.
@Suite struct CallManagerTests {
    let bobBare = JID("bob@localhost")!
    let bobDesk = JID("bob@localhost/desk")!

    @Test func directCallIsAnsweredAndTheCallerHangsUp() async throws {
        let (router, alice, bobs) = await makeManagers()
        let outgoing = try await alice.placeCall(to: bobDesk, useJMI: false, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bobs[0])
        let bobEvents = EventReader(incoming)
        #expect(incoming.sid == outgoing.sid)
        #expect(incoming.peer == JID("alice@localhost/desk"))
        #expect(await incoming.state == .ringing)
        _ = try await aliceEvents.next("ringing") { $0 == .ringing(device: JID("bob@localhost/desk")!) }
        #expect(await outgoing.state == .ringing)

        try await incoming.accept()
        _ = try await aliceEvents.next("accepted") { $0 == .accepted }
        _ = try await bobEvents.next("accepted") { $0 == .accepted }
        #expect(await outgoing.state == .active)
        #expect(await incoming.state == .active)
        #expect(await outgoing.statistics.initiateToAccept != nil)
        #expect(await outgoing.statistics.proposeToRinging == nil, "no JMI on a direct call")

        // The offer: Opus 48000/2 with in-band FEC, telephone-event, ICE credentials, a fingerprint and a host candidate.
        let initiate = try #require(await router.jingleRequests.first { $0.action == .sessionInitiate })
        let content = try #require(initiate.contents.first)
        let rtp = try #require(content.rtp)
        let opus = try #require(rtp.payloadTypes.first { $0.name == "opus" })
        #expect(opus.clockrate == 48000 && opus.channels == 2)
        #expect(opus.parameters.contains(Parameter(name: "useinbandfec", value: "1")))
        #expect(rtp.payloadTypes.contains { $0.name == "telephone-event" })
        guard case .iceUDP(let ice)? = content.transport else { Issue.record("no ICE-UDP transport"); return }
        #expect((ice.ufrag?.count ?? 0) >= 4 && (ice.pwd?.count ?? 0) >= 22)
        #expect(ice.fingerprints.first?.setup == .actpass)
        #expect(ice.fingerprints.first?.value.split(separator: ":").count == 32)
        #expect(ice.candidates.first?.ip == "127.0.0.1")
        let accept = try #require(await router.jingleRequests.first { $0.action == .sessionAccept })
        guard case .iceUDP(let answer)? = accept.contents.first?.transport else { Issue.record("no answer transport"); return }
        #expect(answer.fingerprints.first?.setup == .active)

        await outgoing.hangUp()
        #expect(try await bobEvents.ended() == .completed(byPeer: true))
        #expect(await outgoing.state == .ended(.completed(byPeer: false)))
    }

    @Test func jmiCallRingsProceedsAndTheCalleeHangsUp() async throws {
        let (_, alice, bobs) = await makeManagers()
        let outgoing = try await alice.placeCall(to: bobBare, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bobs[0])
        #expect(incoming.usesJMI)
        #expect(incoming.sid == outgoing.sid)
        let bobEvents = EventReader(incoming)
        _ = try await aliceEvents.next("ringing") { $0 == .ringing(device: JID("bob@localhost/desk")!) }
        try await incoming.accept()
        _ = try await aliceEvents.next("proceeded") { $0 == .proceeded(device: JID("bob@localhost/desk")!) }
        _ = try await aliceEvents.next("accepted") { $0 == .accepted }
        _ = try await bobEvents.next("accepted") { $0 == .accepted }
        #expect(await outgoing.remoteDevice == bobDesk)
        let stats = await outgoing.statistics
        #expect(stats.proposeToRinging != nil && stats.proposeToProceed != nil && stats.initiateToAccept != nil && stats.setup != nil)

        try await outgoing.setMuted(true)
        _ = try await bobEvents.next("remote mute") { $0 == .remoteMuted(true) }

        await incoming.hangUp()
        #expect(try await aliceEvents.ended() == .completed(byPeer: true))
        #expect(await incoming.state == .ended(.completed(byPeer: false)))
    }

    @Test(arguments: [true, false]) func aJMICallEndedByEitherSideLeavesBothFreeForTheNext(calleeHangsUp: Bool) async throws {
        let (_, alice, bobs) = await makeManagers()
        for round in 0..<2 {
            let outgoing = try await alice.placeCall(to: bobBare, timeout: .seconds(30))
            let aliceEvents = EventReader(outgoing)
            let incoming = try await nextIncoming(bobs[0])
            let bobEvents = EventReader(incoming)
            #expect(await incoming.state == .ringing, "round \(round): not refused as busy")
            try await incoming.accept()
            _ = try await aliceEvents.next("accepted") { $0 == .accepted }
            if calleeHangsUp {
                await incoming.hangUp()
                #expect(try await aliceEvents.ended() == .completed(byPeer: true))
            } else {
                await outgoing.hangUp()
                #expect(try await bobEvents.ended() == .completed(byPeer: true))
            }
        }
        #expect(await alice.activeCalls.isEmpty)
    }

    /// XEP-0353: the callee proceeds and hangs up at once, before the caller's session-initiate
    /// reaches it. The caller ends promptly as cancelled by the callee (not after its 30 s
    /// no-answer deadline as "no answer"), and both are free for the next call.
    @Test func aCalleeThatHangsUpRightAfterProceedingEndsTheCallerPromptly() async throws {
        let (_, alice, bobs) = await makeManagers()
        let outgoing = try await alice.placeCall(to: bobBare, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bobs[0])
        try await incoming.accept()
        await incoming.hangUp()
        #expect(await incoming.state == .ended(.cancelled(byPeer: false)))
        let end = try await aliceEvents.next("ended", within: .seconds(5)) { if case .ended = $0 { true } else { false } }
        #expect(end == .ended(.cancelled(byPeer: true)))

        let next = try await alice.placeCall(to: bobBare, timeout: .seconds(30))
        let nextEvents = EventReader(next)
        let ringing = try await nextIncoming(bobs[0])
        #expect(await ringing.state == .ringing, "not refused as busy")
        try await ringing.accept()
        _ = try await nextEvents.next("accepted") { $0 == .accepted }
        await next.hangUp()
        #expect(try await EventReader(ringing).ended() == .completed(byPeer: true))
    }

    @Test(arguments: [true, false]) func declineEndsTheCallerAsDeclined(useJMI: Bool) async throws {
        let (_, alice, bobs) = await makeManagers()
        let outgoing = try await alice.placeCall(to: useJMI ? bobBare : bobDesk, useJMI: useJMI, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bobs[0])
        try await incoming.reject()
        #expect(try await aliceEvents.ended() == .declined(byPeer: true))
        #expect(await incoming.state == .ended(.declined(byPeer: false)))
        await #expect(throws: CallError.self) { try await incoming.accept() }
    }

    @Test(arguments: [true, false]) func busyRejectEndsTheCallerAsBusy(useJMI: Bool) async throws {
        let (_, alice, bobs) = await makeManagers()
        let outgoing = try await alice.placeCall(to: useJMI ? bobBare : bobDesk, useJMI: useJMI, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bobs[0])
        try await incoming.reject(reason: Reason(.busy))
        #expect(try await aliceEvents.ended() == .busy(byPeer: true))
    }

    @Test(arguments: [true, false]) func unansweredCallTimesOutOnBothSides(useJMI: Bool) async throws {
        let (_, alice, bobs) = await makeManagers()
        let outgoing = try await alice.placeCall(to: useJMI ? bobBare : bobDesk, useJMI: useJMI, timeout: .milliseconds(300))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bobs[0])
        let bobEvents = EventReader(incoming)
        #expect(try await aliceEvents.ended() == .noAnswer)
        #expect(try await bobEvents.ended() == .noAnswer)
    }

    @Test(arguments: [true, false]) func callerCancelsWhileRinging(useJMI: Bool) async throws {
        let (_, alice, bobs) = await makeManagers()
        let outgoing = try await alice.placeCall(to: useJMI ? bobBare : bobDesk, useJMI: useJMI, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bobs[0])
        let bobEvents = EventReader(incoming)
        _ = try await aliceEvents.next("ringing") { if case .ringing = $0 { true } else { false } }
        await outgoing.hangUp()
        #expect(try await bobEvents.ended() == .cancelled(byPeer: true))
        #expect(await outgoing.state == .ended(.cancelled(byPeer: false)))
    }

    @Test func answeringOnOneDeviceStopsTheOtherRinging() async throws {
        let (_, alice, bobs) = await makeManagers(bob: ["desk", "phone"])
        let outgoing = try await alice.placeCall(to: bobBare, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let desk = try await nextIncoming(bobs[0])
        let phone = try await nextIncoming(bobs[1])
        let phoneEvents = EventReader(phone)
        try await desk.accept()
        #expect(try await phoneEvents.ended() == .answeredElsewhere)
        _ = try await aliceEvents.next("accepted") { $0 == .accepted }
        #expect(await outgoing.remoteDevice == bobDesk)
        #expect(await desk.state == .active)
        await outgoing.hangUp()
    }

    @Test func jingleRequestsFromAnotherJIDAreRefusedAndTheCallSurvives() async throws {
        let (router, alice, bobs) = await makeManagers()
        let carol = await router.client("carol@localhost/pc")
        let outgoing = try await alice.placeCall(to: bobDesk, useJMI: false, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bobs[0])
        try await incoming.accept()
        _ = try await aliceEvents.next("accepted") { $0 == .accepted }

        let forged = JingleElement(action: .sessionTerminate, sid: outgoing.sid, reason: Reason(.success))
            .iq(id: "forged-1", to: JID("alice@localhost/desk")!)
        let response = try await within(.seconds(10), "answer to the forged terminate") {
            await withCheckedContinuation { c in
                Task { await carol.sendRequest(forged, timeout: .seconds(5)) { c.resume(returning: $0) } }
            }
        }
        #expect(response?.type == .error)
        #expect(response?.error?.condition == .itemNotFound)
        #expect(await outgoing.state == .active)
        await outgoing.hangUp()
        #expect(try await EventReader(incoming).ended() == .completed(byPeer: true))
    }
}

/// XEP-0167 §7.3: mute and unmute name the session's own audio content. Chromium and
/// Conversations (libwebrtc) name it after the SDP mid, "0", not "audio".
@Suite struct MuteContentNameTests {
    @Test func muteNamesTheContentTheInitiatorCreated() async throws {
        let router = InMemoryRouter()
        let ac = await router.client("alice@localhost/web"), bc = await router.client("bob@localhost/desk")
        let bob = CallManager(transport: bc, local: bc.jid, configuration: CallConfiguration(mediaTransports: RecordingProvider()))
        await bob.start()
        let (accepts, acceptSink) = AsyncStream.makeStream(of: JingleElement.self)
        let (infos, infoSink) = AsyncStream.makeStream(of: JingleElement.self)
        await ac.setRequestHandler(namespace: JingleNamespace.jingle) { iq in
            if let j = try? JingleElement(iq: iq) {
                if j.action == .sessionAccept { acceptSink.yield(j) }
                if j.action == .sessionInfo, !j.info.contains(.rtp(.ringing)) { infoSink.yield(j) }
            }
            return iq.result()
        }
        let opus = PayloadType(id: 111, name: "opus", clockrate: 48000, channels: 2)
        let content = Content(
            creator: .initiator, name: "0", senders: .both,
            description: .rtp(RTPDescription(media: "audio", payloadTypes: [opus], rtcpMux: true)),
            transport: .iceUDP(
                ICEUDPTransport(
                    ufrag: "uf", pwd: "pwpwpwpwpwpwpwpwpwpwpw",
                    fingerprints: [Fingerprint(hash: "sha-256", setup: .actpass, value: "AA:BB")])))
        let initiate = JingleElement(action: .sessionInitiate, sid: "libwebrtc-sid", initiator: ac.jid, contents: [content])
        await ac.sendRequest(IQ(type: .set, id: "init1", to: bc.jid, payload: initiate.element), timeout: .seconds(5)) { _ in }
        let incoming = try await nextIncoming(bob)
        try await incoming.accept()
        let accept = try await first(accepts, "session-accept")
        #expect(accept.contents.first?.name == "0")
        try await incoming.setMuted(true)
        let info = try await first(infos, "session-info mute")
        #expect(info.info.contains(.rtp(.mute(creator: .initiator, name: "0"))), "\(info)")
        await incoming.hangUp()
    }
}
