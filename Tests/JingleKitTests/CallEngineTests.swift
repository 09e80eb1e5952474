import Jingle
@testable import JingleKit
import Testing
import XMLStream
import XMPPCore

/// Whole calls through `CallEngine` on a virtual clock: no sockets, no tasks, no waiting.
@Suite struct CallEngineTests {
    static let alice = "alice@localhost/desk"
    static let bob = "bob@localhost/desk"

    /// Jingle actions on the wire, in order, as "sender action".
    static func jingleActions(_ net: VirtualCallNetwork) -> [String] {
        net.routed.compactMap { e in
            guard let iq = IQ(element: e), iq.type == .set, let j = try? JingleElement(iq: iq) else { return nil }
            return "\(iq.from?.localpart ?? "?") \(j.action.rawValue)"
        }
    }

    /// XEP-0353 elements on the wire, in order, as "sender element".
    static func jmiElements(_ net: VirtualCallNetwork) -> [String] {
        net.routed.compactMap { e in
            guard e.name == "message", let m = try? JingleMessage.find(in: e) else { return nil }
            return "\(e.attribute("from").flatMap(JID.init)?.localpart ?? "?") \(m.action.rawValue)"
        }
    }

    @Test func aWholeCallWithAnICERestartRunsOnTheVirtualClock() throws {
        var net = VirtualCallNetwork([Self.alice, Self.bob])
        net.autoAnswer = [JID(Self.bob)!]
        let sid = try net.place(from: Self.alice, to: "bob@localhost")
        net.run(for: .seconds(5))
        #expect(net[Self.alice].engine.calls[sid]?.state == .active)
        #expect(net[Self.bob].engine.calls[sid]?.state == .active)

        try net.restartICE(Self.alice, sid: sid)
        net.run(for: .seconds(5))
        net.hangUp(Self.bob, sid: sid)
        net.run(for: .seconds(5))
        #expect(!net.stalled)

        let aliceEvents = net[Self.alice].events.filter { $0.sid == sid }.map(\.event)
        let bob = JID(Self.bob)!
        #expect(
            aliceEvents == [
                .ringing(device: bob), .proceeded(device: bob), .accepted,
                .iceConnected(Self.pair(40000, 50000)), .mediaConnected, .firstAudio,
                .remoteCandidates([Self.candidate("bob-2", port: 50000)]),
                .iceRestarted(
                    ICERestart(
                        byPeer: false, localUfrag: "alice2", remoteUfrag: "bob2",
                        previousLocalUfrag: "alice1", previousRemoteUfrag: "bob1")),
                .iceConnected(Self.pair(40000, 50000)),
                .ended(.completed(byPeer: true)),
            ])
        let bobEvents = net[Self.bob].events.filter { $0.sid == sid }.map(\.event)
        #expect(
            bobEvents.contains(
                .iceRestarted(
                    ICERestart(
                        byPeer: true, localUfrag: "bob2", remoteUfrag: "alice2",
                        previousLocalUfrag: "bob1", previousRemoteUfrag: "alice1"))))
        #expect(bobEvents.last == .ended(.completed(byPeer: false)))
        #expect(net[Self.bob].incoming == [sid])

        #expect(
            Self.jingleActions(net) == [
                "alice session-initiate", "bob session-accept",
                "alice transport-info", "bob transport-info",
                "bob session-terminate",
            ])
        #expect(Self.jmiElements(net) == ["alice propose", "bob ringing", "bob accept", "bob proceed", "bob finish"])

        // Timings on the virtual clock: 30 ms per stanza, 20 ms to make a transport.
        let stats = try #require(net[Self.alice].engine.calls[sid]?.statistics)
        #expect(stats.proposeToRinging == .milliseconds(60))
        #expect(stats.proposeToProceed == .milliseconds(60))
        // proceed at 60 ms, transport made at 80 ms, initiate there 110 ms, bob's transport at
        // 130 ms, his session-accept here at 160 ms.
        #expect(stats.initiateToAccept == .milliseconds(80))
        #expect(stats.setup == .milliseconds(160))
        #expect(net[Self.alice].notices.isEmpty && net[Self.bob].notices.isEmpty)
        // Kept until the retention ends, then nothing is left and nothing is due.
        #expect(net[Self.alice].forgotten.isEmpty)
        net.run(for: .seconds(300))
        #expect(net[Self.alice].forgotten == [sid] && net[Self.bob].forgotten == [sid])
        #expect(net[Self.alice].engine.nextDeadline == nil && net[Self.bob].engine.nextDeadline == nil)
    }

    @Test func anEndedCallIsForgottenWhenItsRetentionEnds() throws {
        var net = VirtualCallNetwork([Self.alice, Self.bob], endedCallRetention: .seconds(60))
        net.autoAnswer = [JID(Self.bob)!]
        let sid = try net.place(from: Self.alice, to: "bob@localhost")
        net.run(for: .seconds(1))
        net.hangUp(Self.alice, sid: sid)
        net.run(for: .seconds(59))
        // Within the retention the ended call is still known, state and figures.
        #expect(net[Self.alice].engine.calls[sid]?.state == .ended(.completed(byPeer: false)))
        #expect(net[Self.bob].engine.calls[sid]?.state == .ended(.completed(byPeer: true)))
        #expect(net[Self.alice].engine.calls[sid]?.statistics.setup != nil)
        net.run(for: .seconds(2))
        for party in [net[Self.alice], net[Self.bob]] {
            #expect(party.forgotten == [sid])
            #expect(party.engine.calls.isEmpty)
            #expect(party.engine.sessions[sid] == nil)
            #expect(party.engine.jmi.calls.isEmpty)
            #expect(party.engine.nextDeadline == nil)
        }
        // A new call after that is a call like the first.
        let second = try net.place(from: Self.alice, to: "bob@localhost")
        net.run(for: .seconds(1))
        #expect(net[Self.alice].engine.calls[second]?.state == .active)
    }

    /// The no-answer deadline belongs to an unanswered call's stage: once the session is active
    /// it is gone (the old record kept it beside `state` and had to clear it by hand), and an
    /// ended call holds nothing but its end and when it is forgotten.
    @Test func theNoAnswerDeadlineEndsWithTheUnansweredStages() throws {
        var net = VirtualCallNetwork([Self.alice, Self.bob])
        net.autoAnswer = [JID(Self.bob)!]
        let sid = try net.place(from: Self.alice, to: "bob@localhost", timeout: .seconds(1))
        #expect(net[Self.alice].engine.calls[sid]?.deadline == .seconds(1))
        guard case .proposed(ringing: false, deadline: .seconds(1))? = net[Self.alice].engine.calls[sid]?.stage else {
            Issue.record("a placed JMI call is a proposal with its deadline")
            return
        }
        net.run(for: .seconds(3))
        let alice = try #require(net[Self.alice].engine.calls[sid])
        guard case .active(let active) = alice.stage else {
            Issue.record("the call is not active: \(alice.state)")
            return
        }
        #expect(alice.deadline == nil)
        #expect(active.media.localUfrag == "alice1" && active.media.remoteUfrag == "bob1")
        #expect(active.restartOfferedAt == nil)
        #expect(net[Self.alice].ended[sid] == nil, "past its no-answer deadline the active call goes on")

        net.hangUp(Self.alice, sid: sid)
        let ended = try #require(net[Self.alice].engine.calls[sid])
        guard case .ended(.completed(byPeer: false), session: .started, forgetAt: let forgetAt) = ended.stage else {
            Issue.record("the call did not end as completed: \(ended.state)")
            return
        }
        #expect(forgetAt == .seconds(3) + .seconds(300))
        #expect(ended.media == nil && ended.deadline == nil)
        net.run(for: .seconds(60))
        #expect(net[Self.alice].events.filter { $0.sid == sid && $0.event == .ended(.completed(byPeer: false)) }.count == 1)
        #expect(net[Self.alice].engine.calls[sid]?.forgetAt == forgetAt)
    }

    /// Candidates the caller trickles while the call rings here are kept with the transport that
    /// is still awaited, handed over once when it is made, and never kept after: a made transport
    /// has no list of early candidates (the old record could hold both).
    @Test func earlyCandidatesAreHandedOverOnceWhenTheTransportIsMade() throws {
        var net = VirtualCallNetwork([Self.alice, Self.bob])
        let sid = try net.place(from: Self.alice, to: Self.bob, useJMI: false)
        net.run(for: .seconds(1))
        #expect(net[Self.bob].engine.calls[sid]?.state == .ringing)
        let content = try #require(net[Self.alice].engine.sessions[sid]?.contents.first)
        func trickle(_ candidate: Candidate) -> JingleElement {
            let transport = ICEUDPTransport(ufrag: "alice1", pwd: nil, candidates: [candidate])
            return JingleElement(
                action: .transportInfo, sid: sid,
                contents: [Content(creator: content.creator, name: content.name, transport: .iceUDP(transport))])
        }
        let early = Self.candidate("alice-early", port: 40001)
        net.sendJingle(Self.alice, trickle(early))
        net.run(for: .seconds(1))
        guard case .pending(let pending)? = net[Self.bob].engine.calls[sid]?.stage,
            case .awaited(requested: false, earlyCandidates: let kept) = pending.media.transport
        else {
            Issue.record("a ringing session keeps early candidates for the transport it has not asked for yet")
            return
        }
        #expect(kept == [early])
        #expect(net[Self.bob].remoteCandidates[sid] == nil)

        try net.accept(Self.bob, sid: sid)
        net.run(for: .seconds(1))
        guard case .active(let active)? = net[Self.bob].engine.calls[sid]?.stage else {
            Issue.record("the call is not active")
            return
        }
        #expect(active.media.localUfrag == "bob1")
        #expect(net[Self.bob].remoteCandidates[sid] == [early])

        let late = Self.candidate("alice-late", port: 40002)
        net.sendJingle(Self.alice, trickle(late))
        net.run(for: .seconds(1))
        #expect(net[Self.bob].remoteCandidates[sid] == [early, late], "later candidates go straight to the transport")
        #expect(net[Self.alice].notices.isEmpty && net[Self.bob].notices.isEmpty)
    }

    @Test func anUnansweredProposalIsRetractedAtItsDeadline() throws {
        var net = VirtualCallNetwork([Self.alice, Self.bob])
        let sid = try net.place(from: Self.alice, to: "bob@localhost", timeout: .seconds(20))
        net.run(for: .seconds(19))
        #expect(net[Self.alice].engine.calls[sid]?.state == .ringing)
        #expect(net[Self.bob].engine.calls[sid]?.state == .ringing)
        net.run(for: .seconds(2))
        #expect(net[Self.alice].ended[sid] == .noAnswer)
        #expect(net[Self.alice].events.last?.at == .seconds(20))
        #expect(net[Self.bob].ended[sid] == .noAnswer)
        #expect(Self.jmiElements(net) == ["alice propose", "bob ringing", "alice retract"])
        #expect(Self.jingleActions(net).isEmpty)
    }

    @Test func aDirectCallThatTheCalleeHangsUpWhileRingingIsDeclined() throws {
        var net = VirtualCallNetwork([Self.alice, Self.bob])
        let sid = try net.place(from: Self.alice, to: Self.bob, useJMI: false)
        net.run(for: .seconds(1))
        #expect(net[Self.bob].incoming == [sid])
        #expect(net[Self.alice].events.map(\.event) == [.ringing(device: JID(Self.bob)!)])
        net.hangUp(Self.bob, sid: sid)
        net.run(for: .seconds(1))
        #expect(net[Self.alice].ended[sid] == .declined(byPeer: true))
        #expect(net[Self.bob].ended[sid] == .declined(byPeer: false))
        #expect(Self.jingleActions(net) == ["alice session-initiate", "bob session-info", "bob session-terminate"])
        // Alice's transport was made for the offer; bob never made one.
        #expect(net[Self.bob].generation[sid] == nil)
    }

    @Test func aContentAddIsAcknowledgedThenRejectedAndTheCallGoesOn() throws {
        var net = VirtualCallNetwork([Self.alice, Self.bob])
        net.autoAnswer = [JID(Self.bob)!]
        let sid = try net.place(from: Self.alice, to: "bob@localhost")
        net.run(for: .seconds(1))
        let video = Content(
            creator: .initiator, name: "video", senders: .both,
            description: .rtp(
                RTPDescription(
                    media: "video", payloadTypes: [PayloadType(id: 96, name: "VP8", clockrate: 90000)])),
            transport: .iceUDP(ICEUDPTransport(ufrag: "alice1", pwd: "alice-password-1-0123456789")))
        net.sendJingle(Self.alice, JingleElement(action: .contentAdd, sid: sid, contents: [video]))
        net.run(for: .seconds(1))

        // On bob's side of the wire: the acknowledgement of the content-add, then the content-reject.
        let fromBob = net.routed.filter { $0.attribute("from") == Self.bob && $0.name == "iq" }.compactMap { IQ(element: $0) }
        let ackIndex = try #require(fromBob.firstIndex { $0.type == .result && $0.id == Self.requestID(net, action: .contentAdd) })
        let rejectIndex = try #require(fromBob.firstIndex { (try? JingleElement(iq: $0))?.action == .contentReject })
        #expect(ackIndex < rejectIndex)
        let reject = try JingleElement(iq: fromBob[rejectIndex])
        #expect(reject.contents.map(\.name) == ["video"])
        #expect(reject.reason?.condition == .unsupportedApplications)
        #expect(net[Self.bob].events.map(\.event).contains(.contentRejected(name: "video", media: "video", reason: reject.reason!)))
        #expect(net[Self.alice].engine.calls[sid]?.state == .active)
        #expect(net[Self.bob].engine.calls[sid]?.state == .active)
    }

    @Test func aTransportFailureEndsTheCallWithFailedTransportOnBothSides() throws {
        var net = VirtualCallNetwork([Self.alice, Self.bob])
        net.autoAnswer = [JID(Self.bob)!]
        let sid = try net.place(from: Self.alice, to: "bob@localhost")
        net.run(for: .seconds(1))
        net.report(Self.alice, sid: sid, .failed(Reason(.failedTransport, text: "ICE failed")))
        net.run(for: .seconds(1))
        #expect(net[Self.alice].ended[sid] == .failed(Reason(.failedTransport, text: "ICE failed"), byPeer: false))
        #expect(net[Self.bob].ended[sid] == .failed(Reason(.failedTransport, text: "ICE failed"), byPeer: true))
        #expect(Self.jingleActions(net).last == "alice session-terminate")
    }

    /// XEP-0353: the callee proceeds, then hangs up while the caller's session-initiate is on its
    /// way. The callee's `<finish/>` reaches the caller after the session-initiate left: the caller
    /// ends at once with the finish's reason, not at its no-answer deadline as "no answer", and
    /// terminates the session it started (XEP-0166 §6.7: `<cancel/>`, the initiator withdrawing
    /// its request). The callee acknowledges the late session-initiate, then terminates it with
    /// the reason it ended with, rather than leaving it pending.
    @Test func aCalleeThatHangsUpWhileTheSessionInitiateIsOnItsWayEndsTheCallOnBothSides() throws {
        var net = VirtualCallNetwork([Self.alice, Self.bob])
        let sid = try net.place(from: Self.alice, to: "bob@localhost", timeout: .seconds(30))
        net.run(for: .seconds(1))
        #expect(net[Self.bob].incoming == [sid])
        try net.accept(Self.bob, sid: sid)
        // The proceed reaches alice at +30 ms, her transport is made at +50 ms: the
        // session-initiate leaves then and reaches bob at +80 ms. Bob hangs up at +60 ms, so his
        // finish reaches alice at +90 ms, after her session-initiate left.
        net.run(for: .milliseconds(60))
        #expect(Self.jingleActions(net) == ["alice session-initiate"])
        net.hangUp(Self.bob, sid: sid)
        net.run(for: .seconds(5))
        #expect(!net.stalled)

        #expect(net[Self.bob].ended[sid] == .cancelled(byPeer: false))
        #expect(net[Self.alice].ended[sid] == .cancelled(byPeer: true))
        let aliceEnd = try #require(net[Self.alice].events.last { $0.sid == sid })
        #expect(aliceEnd.event == .ended(.cancelled(byPeer: true)))
        #expect(aliceEnd.at == .seconds(1) + .milliseconds(90), "the caller ends when the finish arrives, not at its deadline")

        #expect(Self.jmiElements(net) == ["alice propose", "bob ringing", "bob accept", "bob proceed", "bob finish"])
        #expect(Self.jingleActions(net) == ["alice session-initiate", "bob session-terminate", "alice session-terminate"])
        // Bob acknowledged the session-initiate before terminating it.
        let fromBob = net.routed.filter { $0.attribute("from") == Self.bob && $0.name == "iq" }.compactMap { IQ(element: $0) }
        let initiateID = try #require(Self.requestID(net, action: .sessionInitiate))
        let ackIndex = try #require(fromBob.firstIndex { $0.type == .result && $0.id == initiateID })
        let terminateIndex = try #require(fromBob.firstIndex { (try? JingleElement(iq: $0))?.action == .sessionTerminate })
        #expect(ackIndex < terminateIndex)
        #expect(Self.terminateReasons(net) == [Self.bob: .cancel, Self.alice: .cancel])
        #expect(net[Self.alice].engine.sessions[sid]?.phase == .ended)
        #expect(net[Self.bob].engine.sessions[sid]?.phase == .ended)
        #expect(net[Self.alice].notices.isEmpty && net[Self.bob].notices.isEmpty)
        #expect(net[Self.alice].engine.nextDeadline.map { $0 >= .seconds(300) } ?? true, "no deadline is left but forgetting")
    }

    /// The same with the finish held back (by the callee's server, say) until after the callee's
    /// session-terminate: the caller ends on that session-terminate, the late finish changes nothing.
    @Test func aCalleeThatHangsUpBeforeTheSessionInitiateTerminatesItWhenItArrives() throws {
        var net = VirtualCallNetwork([Self.alice, Self.bob])
        net.delay = { e in (try? JingleMessage.find(in: e))?.action == .finish ? .seconds(10) : .zero }
        let sid = try net.place(from: Self.alice, to: "bob@localhost", timeout: .seconds(30))
        net.run(for: .seconds(1))
        try net.accept(Self.bob, sid: sid)
        net.run(for: .milliseconds(60))
        net.hangUp(Self.bob, sid: sid)
        net.run(for: .seconds(15))
        #expect(!net.stalled)

        #expect(net[Self.bob].ended[sid] == .cancelled(byPeer: false))
        #expect(net[Self.alice].ended[sid] == .cancelled(byPeer: true))
        let aliceEnd = try #require(net[Self.alice].events.last { $0.sid == sid })
        // Bob's session-terminate left when the session-initiate reached him (+80 ms).
        #expect(aliceEnd.at == .seconds(1) + .milliseconds(110))
        #expect(Self.jmiElements(net) == ["alice propose", "bob ringing", "bob accept", "bob proceed", "bob finish"])
        #expect(Self.jingleActions(net) == ["alice session-initiate", "bob session-terminate"])
        #expect(Self.terminateReasons(net) == [Self.bob: .cancel])
        #expect(net[Self.alice].notices.isEmpty && net[Self.bob].notices.isEmpty)
    }

    /// The callee hangs up as soon as it proceeded: its finish reaches the caller while the
    /// transport for the session-initiate is being made. The call ends there; no session starts.
    @Test func aFinishBeforeTheSessionInitiateLeftEndsTheCallWithoutASession() throws {
        let (net, sid) = try Self.calleeHangsUpOnProceeding(reason: nil)

        #expect(net[Self.bob].ended[sid] == .cancelled(byPeer: false))
        #expect(net[Self.alice].ended[sid] == .cancelled(byPeer: true))
        #expect(net[Self.alice].events.last { $0.sid == sid }?.at == .seconds(1) + .milliseconds(30))
        #expect(net[Self.alice].closedTransports == [sid], "the transport made for the offer is closed")
        #expect(Self.jingleActions(net).isEmpty)
        #expect(Self.jmiElements(net) == ["alice propose", "bob ringing", "bob accept", "bob proceed", "bob finish"])
        #expect(net[Self.alice].notices.isEmpty && net[Self.bob].notices.isEmpty)
    }

    /// A callee device that finishes with `<success/>` before it answered (XEP-0353 leaves the
    /// reason to the device) gave the caller no call: the caller reports it cancelled by the
    /// peer, never completed.
    @Test func aSuccessfulFinishBeforeAnyAnswerIsACancelledCall() throws {
        let (net, sid) = try Self.calleeHangsUpOnProceeding(reason: Reason(.success))

        #expect(net[Self.alice].ended[sid] == .cancelled(byPeer: true))
        #expect(Self.jmiElements(net) == ["alice propose", "bob ringing", "bob accept", "bob proceed", "bob finish"])
    }

    /// Alice calls bob by JMI; bob accepts and hangs up at once with `reason`; 5 s pass.
    static func calleeHangsUpOnProceeding(reason: Reason?) throws -> (VirtualCallNetwork, String) {
        var net = VirtualCallNetwork([alice, bob])
        let sid = try net.place(from: alice, to: "bob@localhost", timeout: .seconds(30))
        net.run(for: .seconds(1))
        try net.accept(bob, sid: sid)
        net.hangUp(bob, sid: sid, reason: reason)
        net.run(for: .seconds(5))
        return (net, sid)
    }

    /// The reason condition of each party's session-terminate on the wire, by sender.
    static func terminateReasons(_ net: VirtualCallNetwork) -> [String: ReasonCondition] {
        var reasons: [String: ReasonCondition] = [:]
        for e in net.routed {
            guard let iq = IQ(element: e), iq.type == .set, let j = try? JingleElement(iq: iq), j.action == .sessionTerminate,
                let from = iq.from
            else { continue }
            reasons[from.description] = j.reason?.condition
        }
        return reasons
    }

    /// The id of the first Jingle request with `action` on the wire.
    static func requestID(_ net: VirtualCallNetwork, action: JingleAction) -> String? {
        net.routed.compactMap { IQ(element: $0) }.first { (try? JingleElement(iq: $0))?.action == action }?.id
    }

    static func candidate(_ id: String, port: UInt16) -> Candidate {
        Candidate(component: 1, foundation: "1", id: id, ip: "192.0.2.1", network: 0, port: port, priority: 2_130_706_431, type: .host)
    }

    static func pair(_ local: UInt16, _ remote: UInt16) -> SelectedCandidatePair {
        SelectedCandidatePair(
            localType: .host, localAddress: "192.0.2.1", localPort: local, remoteType: .host,
            remoteAddress: "192.0.2.1", remotePort: remote, transportProtocol: "udp")
    }
}
