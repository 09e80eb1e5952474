import Jingle
import Testing
import XMLStream
import XMPPCore

@Suite struct SessionEngineTests {
    typealias Net = PairedNetwork

    func received(_ events: [(String, JingleSessionEvent)], _ action: JingleAction) -> [JingleElement] {
        events.compactMap { if case .received(let j) = $0.1, j.action == action { j } else { nil } }
    }

    func ended(_ events: [(String, JingleSessionEvent)]) -> [(Reason?, Bool)] {
        events.compactMap { if case .ended(let r, let byPeer) = $0.1 { (r, byPeer) } else { nil } }
    }

    /// Alice calls bob; bob accepts.
    func establish(_ net: inout Net, sid: String = "s1") throws {
        net.collect(try net.a.initiate(sid: sid, to: Net.bob, contents: [Net.audioContent()], now: net.now), fromAlice: true)
        net.run()
        #expect(net.b[sid]?.phase == .pending)
        net.collect(
            try net.b.send(JingleElement(action: .sessionAccept, sid: sid, contents: [Net.audioContent()]), now: net.now), fromAlice: false)
        net.run()
    }

    @Test func directSetupAndTerminationFromEitherSide() throws {
        for byAlice in [true, false] {
            var net = Net()
            try establish(&net)
            #expect(net.a["s1"]?.phase == .active)
            #expect(net.b["s1"]?.phase == .active)
            #expect(received(net.eventsB, .sessionInitiate).count == 1)
            #expect(received(net.eventsA, .sessionAccept).count == 1)
            let term = JingleElement(action: .sessionTerminate, sid: "s1", reason: Reason(.success))
            if byAlice {
                net.collect(try net.a.send(term, now: net.now), fromAlice: true)
            } else {
                net.collect(try net.b.send(term, now: net.now), fromAlice: false)
            }
            net.run()
            #expect(net.a["s1"]?.phase == .ended)
            #expect(net.b["s1"]?.phase == .ended)
            let peerEnded = ended(byAlice ? net.eventsB : net.eventsA)
            #expect(peerEnded.count == 1 && peerEnded[0].0?.condition == .success && peerEnded[0].1)
            #expect(net.a.nextDeadline == nil && net.b.nextDeadline == nil, "every request answered")
        }
    }

    @Test func ourTransportInfoWaitsForTheInitiateToBeAcknowledged() throws {
        var net = Net()
        net.collect(try net.a.initiate(sid: "s1", to: Net.bob, contents: [Net.audioContent()], now: net.now), fromAlice: true)
        net.collect(try net.a.send(Net.candidateInfo(sid: "s1"), now: net.now), fromAlice: true)
        #expect(net.toB.count == 1, "transport-info held back")
        net.deliverOne(toAlice: false) // bob gets the initiate, answers result
        #expect(net.toB.isEmpty)
        net.deliverOne(toAlice: true) // alice gets the result: flushes the transport-info
        #expect(net.toB.count == 1)
        #expect(try JingleElement(iq: net.toB[0]).action == .transportInfo)
        net.run()
        #expect(received(net.eventsB, .transportInfo).count == 1)
    }

    @Test func transportInfoBeforeSessionAcceptIsAccepted() throws {
        var net = Net()
        net.collect(try net.a.initiate(sid: "s1", to: Net.bob, contents: [Net.audioContent()], now: net.now), fromAlice: true)
        net.run()
        net.collect(try net.b.send(Net.candidateInfo(sid: "s1"), now: net.now), fromAlice: false)
        net.run()
        #expect(received(net.eventsA, .transportInfo).count == 1)
        #expect(net.a["s1"]?.phase == .pending)
        net.collect(
            try net.b.send(JingleElement(action: .sessionAccept, sid: "s1", contents: [Net.audioContent()]), now: net.now), fromAlice: false
        )
        net.run()
        #expect(net.a["s1"]?.phase == .active)
    }

    @Test func crossingSessionInitiatesLowerSidWins() throws {
        var net = Net()
        net.collect(try net.a.initiate(sid: "bbb", to: Net.bob, contents: [Net.audioContent()], now: net.now), fromAlice: true)
        net.collect(try net.b.initiate(sid: "aaa", to: Net.alice, contents: [Net.audioContent()], now: net.now), fromAlice: false)
        net.run()
        #expect(net.a["bbb"]?.phase == .ended, "alice's higher sid lost")
        #expect(net.b["bbb"] == nil, "bob answered bbb with tie-break, no session")
        #expect(net.a["aaa"]?.phase == .pending && net.a["aaa"]?.role == .responder)
        #expect(net.b["aaa"]?.phase == .pending && net.b["aaa"]?.role == .initiator)
        let rejected = net.eventsA.compactMap { if case .rejected(_, let e) = $0.1 { JingleErrorCondition(error: e) } else { nil } }
        #expect(rejected.isEmpty, "the tie-break error for the abandoned session is ignored")
        net.collect(
            try net.a.send(JingleElement(action: .sessionAccept, sid: "aaa", contents: [Net.audioContent()]), now: net.now), fromAlice: true
        )
        net.run()
        #expect(net.a["aaa"]?.phase == .active && net.b["aaa"]?.phase == .active)
    }

    @Test func contentAddAcceptedAndRejected() throws {
        var net = Net()
        try establish(&net)
        let video = Content(creator: .responder, name: "video", senders: .both, description: .rtp(RTPDescription(media: "video")))
        net.collect(try net.b.send(JingleElement(action: .contentAdd, sid: "s1", contents: [video]), now: net.now), fromAlice: false)
        net.run()
        #expect(received(net.eventsA, .contentAdd).count == 1)
        net.collect(try net.a.send(JingleElement(action: .contentAccept, sid: "s1", contents: [video]), now: net.now), fromAlice: true)
        net.run()
        #expect(net.a["s1"]?.contents.count == 2 && net.b["s1"]?.contents.count == 2)
        let screen = Content(creator: .initiator, name: "screen", description: .rtp(RTPDescription(media: "video")))
        net.collect(try net.a.send(JingleElement(action: .contentAdd, sid: "s1", contents: [screen]), now: net.now), fromAlice: true)
        net.run()
        net.collect(
            try net.b.send(JingleElement(action: .contentReject, sid: "s1", contents: [screen], reason: Reason(.decline)), now: net.now),
            fromAlice: false)
        net.run()
        #expect(net.a["s1"]?.contents.count == 2 && net.b["s1"]?.contents.count == 2)
        #expect(net.a["s1"]?.isPending(screen.key) == false && net.b["s1"]?.isPending(screen.key) == false)
        // Accepting a content nobody added is our own misuse.
        #expect(throws: JingleSessionError.nothingPending(.contentAccept, screen.key)) {
            try net.b.send(JingleElement(action: .contentAccept, sid: "s1", contents: [screen]), now: net.now)
        }
    }

    @Test func racingContentAddsInitiatorWins() throws {
        var net = Net()
        try establish(&net)
        let fromA = Content(creator: .initiator, name: "video", description: .rtp(RTPDescription(media: "video")))
        let fromB = Content(creator: .responder, name: "video", description: .rtp(RTPDescription(media: "video")))
        net.collect(try net.a.send(JingleElement(action: .contentAdd, sid: "s1", contents: [fromA]), now: net.now), fromAlice: true)
        net.collect(try net.b.send(JingleElement(action: .contentAdd, sid: "s1", contents: [fromB]), now: net.now), fromAlice: false)
        net.run()
        let bobLost = net.eventsB.contains {
            if case .rejected(.contentAdd, let e) = $0.1 { JingleErrorCondition(error: e) == .tieBreak } else { false }
        }
        #expect(bobLost)
        #expect(net.b["s1"]?.isPending(fromA.key) == true, "bob holds alice's add for an answer")
        #expect(net.b["s1"]?.isPending(fromB.key) == false)
        net.collect(try net.b.send(JingleElement(action: .contentAccept, sid: "s1", contents: [fromA]), now: net.now), fromAlice: false)
        net.run()
        #expect(net.a["s1"]?.contents.map(\.key) == net.b["s1"]?.contents.map(\.key))
    }

    @Test func iceRestartAndTransportReplace() throws {
        var net = Net()
        try establish(&net)
        net.collect(try net.a.send(Net.candidateInfo(sid: "s1", ufrag: "restart"), now: net.now), fromAlice: true)
        net.run()
        #expect(received(net.eventsB, .transportInfo).last?.contents.first?.transport?.iceUDP?.ufrag == "restart")
        let raw = Content(creator: .initiator, name: "voice", transport: .rawUDP(RawUDPTransport()))
        net.collect(try net.b.send(JingleElement(action: .transportReplace, sid: "s1", contents: [raw]), now: net.now), fromAlice: false)
        net.run()
        net.collect(try net.a.send(JingleElement(action: .transportAccept, sid: "s1", contents: [raw]), now: net.now), fromAlice: true)
        net.run()
        if case .rawUDP = net.a["s1"]?.contents.first?.transport {} else { Issue.record("alice did not switch") }
        if case .rawUDP = net.b["s1"]?.contents.first?.transport {} else { Issue.record("bob did not switch") }
    }

    func answer(_ net: inout Net, toAlice iq: IQ) -> IQ? {
        net.collect(net.a.handle(iq, now: net.now) ?? [], fromAlice: true)
        return net.toB.popLast()
    }

    @Test func malformedAndOutOfOrderRequestsAreAnsweredAndTheSessionSurvives() throws {
        var net = Net()
        try establish(&net)
        func req(_ payload: String, from: JID = Net.bob) throws -> IQ {
            IQ(
                type: .set, id: "x\(payload.count)", from: from, to: Net.alice,
                payload: try TestXMLReader.parse(payload, defaultNamespace: ""))
        }
        func condition(_ iq: IQ?) -> (StanzaError.Condition?, JingleErrorCondition?) {
            (iq?.error?.condition, iq?.error.flatMap(JingleErrorCondition.init(error:)))
        }
        let cases: [(String, JID, StanzaError.Condition, JingleErrorCondition?)] = [
            ("<jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='s1'/>", Net.bob, .unexpectedRequest, .outOfOrder),
            ("<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='nope'/>", Net.bob, .itemNotFound, .unknownSession),
            (
                "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s1'/>", JID("mallory@evil.example/x")!, .itemNotFound,
                .unknownSession
            ),
            (
                "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s1'/>", JID("bob@example.net/other")!, .itemNotFound,
                .unknownSession
            ),
            (
                "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s1'><dance xmlns='urn:example'/></jingle>", Net.bob,
                .featureNotImplemented, .unsupportedInfo
            ),
            (
                "<jingle xmlns='urn:xmpp:jingle:1' action='content-modify' sid='s1'><content creator='initiator'/></jingle>", Net.bob,
                .badRequest, nil
            ),
            (
                "<jingle xmlns='urn:xmpp:jingle:1' action='content-accept' sid='s1'><content creator='initiator' name='voice'/></jingle>",
                Net.bob, .unexpectedRequest, .outOfOrder
            ),
            (
                "<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='s1'><content creator='initiator' name='ghost'/></jingle>",
                Net.bob, .badRequest, nil
            ),
            ("<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s1'/>", Net.bob, .unexpectedRequest, .outOfOrder),
        ]
        for (payload, from, cond, jc) in cases {
            let reply = answer(&net, toAlice: try req(payload, from: from))
            #expect(reply?.type == .error, "\(payload)")
            let (c, j) = condition(reply)
            #expect(c == cond, "\(payload)")
            #expect(j == jc, "\(payload)")
            #expect(net.a["s1"]?.phase == .active, "session survives \(payload)")
        }
        // A ping and a ringing still work, and so does termination.
        #expect(answer(&net, toAlice: try req("<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s1'/>"))?.type == .result)
        net.collect(
            try net.b.send(
                JingleElement(action: .sessionInfo, sid: "s1", info: [.rtp(.mute(creator: .responder, name: nil))]), now: net.now),
            fromAlice: false)
        net.run()
        #expect(received(net.eventsA, .sessionInfo).count == 2, "the ping and the mute")
        net.collect(
            try net.b.send(JingleElement(action: .sessionTerminate, sid: "s1", reason: Reason(.success)), now: net.now), fromAlice: false)
        net.run()
        #expect(net.a["s1"]?.phase == .ended)
        // After the end, the sid is unknown.
        let late = answer(&net, toAlice: try req("<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s1'/>"))
        #expect(condition(late).1 == .unknownSession)
    }

    @Test func ourIllegalActionsThrow() throws {
        var net = Net()
        net.collect(try net.a.initiate(sid: "s1", to: Net.bob, contents: [Net.audioContent()], now: net.now), fromAlice: true)
        #expect(throws: JingleSessionError.illegalAction(.sessionAccept, phase: .pending, role: .initiator)) {
            try net.a.send(JingleElement(action: .sessionAccept, sid: "s1"), now: net.now)
        }
        #expect(throws: JingleSessionError.self) { try net.a.send(JingleElement(action: .sessionInitiate, sid: "s1"), now: net.now) }
        #expect(throws: JingleSessionError.wrongSession("zz")) {
            try net.a.send(JingleElement(action: .sessionInfo, sid: "zz"), now: net.now)
        }
    }

    @Test func noAnswerTerminatesWithTimeout() throws {
        var net = Net()
        net.collect(try net.a.initiate(sid: "s1", to: Net.bob, contents: [Net.audioContent()], now: net.now), fromAlice: true)
        net.run()
        #expect(net.a.nextDeadline == .seconds(60))
        net.advance(to: .seconds(59))
        #expect(net.a["s1"]?.phase == .pending)
        net.advance(to: .seconds(61))
        #expect(net.a["s1"]?.phase == .ended)
        #expect(ended(net.eventsA).first?.0?.condition == .timeout)
        net.run()
        #expect(net.b["s1"]?.phase == .ended, "bob was told")
    }

    @Test func unansweredRequestTimesOut() throws {
        var net = Net()
        try establish(&net)
        net.collect(try net.a.send(JingleElement(action: .sessionInfo, sid: "s1", info: [.rtp(.hold)]), now: net.now), fromAlice: true)
        net.toB.removeAll() // lost on the way
        #expect(net.a.nextDeadline == .seconds(30))
        net.advance(to: .seconds(31))
        #expect(net.eventsA.contains { if case .timedOut(.sessionInfo) = $0.1 { true } else { false } })
        #expect(net.a["s1"]?.phase == .active)
    }
}

@Suite struct TieBreakEdgeTests {
    typealias Net = PairedNetwork

    @Test func equalSidsLowerJIDWins() throws {
        var net = Net()
        net.collect(try net.a.initiate(sid: "same", to: Net.bob, contents: [Net.audioContent()], now: net.now), fromAlice: true)
        net.collect(try net.b.initiate(sid: "same", to: Net.alice, contents: [Net.audioContent()], now: net.now), fromAlice: false)
        net.run()
        // alice@example.com sorts before bob@example.net: alice's initiate wins.
        #expect(net.a["same"]?.role == .initiator && net.a["same"]?.phase == .pending)
        #expect(net.b["same"]?.role == .responder && net.b["same"]?.phase == .pending, "bob's session was replaced by alice's")
        net.collect(
            try net.b.send(JingleElement(action: .sessionAccept, sid: "same", contents: [Net.audioContent()]), now: net.now),
            fromAlice: false)
        net.run()
        #expect(net.a["same"]?.phase == .active && net.b["same"]?.phase == .active)
    }

    @Test func racingTransportReplaceInitiatorWins() throws {
        var net = Net()
        net.collect(try net.a.initiate(sid: "s", to: Net.bob, contents: [Net.audioContent()], now: net.now), fromAlice: true)
        net.run()
        net.collect(
            try net.b.send(JingleElement(action: .sessionAccept, sid: "s", contents: [Net.audioContent()]), now: net.now), fromAlice: false)
        net.run()
        let raw = Content(creator: .initiator, name: "voice", transport: .rawUDP(RawUDPTransport()))
        net.collect(try net.a.send(JingleElement(action: .transportReplace, sid: "s", contents: [raw]), now: net.now), fromAlice: true)
        net.collect(try net.b.send(JingleElement(action: .transportReplace, sid: "s", contents: [raw]), now: net.now), fromAlice: false)
        net.run()
        let bobLost = net.eventsB.contains {
            if case .rejected(.transportReplace, let e) = $0.1 { JingleErrorCondition(error: e) == .tieBreak } else { false }
        }
        #expect(bobLost)
        net.collect(try net.b.send(JingleElement(action: .transportAccept, sid: "s", contents: [raw]), now: net.now), fromAlice: false)
        net.run()
        if case .rawUDP = net.a["s"]?.contents.first?.transport {} else { Issue.record("alice's replace not applied") }
    }
}

@Suite struct ForgedAnswerTests {
    @Test func answersFromAnotherJIDAreIgnored() throws {
        var net = PairedNetwork()
        net.collect(
            try net.a.initiate(sid: "s", to: PairedNetwork.bob, contents: [PairedNetwork.audioContent()], now: net.now), fromAlice: true)
        let id = net.toB[0].id
        let forged = IQ(
            type: .error, id: id, from: JID("mallory@evil.example/x")!, to: PairedNetwork.alice,
            error: StanzaError(.forbidden))
        net.collect(net.a.handle(forged, now: net.now) ?? [], fromAlice: true)
        #expect(net.a["s"]?.phase == .pending)
        #expect(net.a["s"]?.isAwaiting(id) == true)
        net.run()
        #expect(net.a["s"]?.isAwaiting(id) == false, "the real answer still counts")
        #expect(net.b["s"]?.phase == .pending)
    }
}

@Suite struct ContentRemoveTests {
    @Test func removingTheLastContentEndsTheSession() throws {
        var net = PairedNetwork()
        net.collect(
            try net.a.initiate(sid: "s", to: PairedNetwork.bob, contents: [PairedNetwork.audioContent()], now: net.now), fromAlice: true)
        net.run()
        net.collect(
            try net.b.send(JingleElement(action: .sessionAccept, sid: "s", contents: [PairedNetwork.audioContent()]), now: net.now),
            fromAlice: false)
        net.run()
        net.collect(
            try net.b.send(
                JingleElement(action: .contentRemove, sid: "s", contents: [Content(creator: .initiator, name: "voice")]), now: net.now),
            fromAlice: false)
        net.run()
        #expect(net.a["s"]?.phase == .ended)
        #expect(net.b["s"]?.phase == .ended)
        #expect(net.eventsB.contains { if case .ended(_, byPeer: true) = $0.1 { true } else { false } })
    }
}

/// The shorthands a runtime uses, and dropping ended sessions.
@Suite struct SessionManagerActionTests {
    typealias Net = PairedNetwork

    @Test func shorthandsDriveACall() throws {
        var net = Net()
        net.collect(try net.a.initiate(sid: "s", to: Net.bob, contents: [Net.audioContent()], now: net.now), fromAlice: true)
        // Candidates trickled right away wait for the initiate's acknowledgement.
        let cand = Candidate(component: 1, foundation: "1", id: "c1", ip: "192.0.2.1", port: 4000, priority: 1, type: .host)
        let held = try net.a.transportInfo(
            sid: "s", content: ContentKey(.initiator, "voice"), ufrag: "u", pwd: "p", candidates: [cand], now: net.now)
        #expect(held.isEmpty)
        net.run()
        let infos = net.eventsB.compactMap { if case .received(let j) = $0.1, j.action == .transportInfo { j } else { nil } }
        #expect(infos.first?.contents.first?.transport?.iceUDP?.candidates == [cand])
        net.collect(try net.b.sessionInfo(sid: "s", [.ringing], now: net.now), fromAlice: false)
        net.collect(try net.b.accept(sid: "s", contents: [Net.audioContent()], now: net.now), fromAlice: false)
        net.run()
        #expect(net.eventsA.contains { if case .received(let j) = $0.1 { j.info == [.rtp(.ringing)] } else { false } })
        #expect(net.a["s"]?.phase == .active)
        net.collect(try net.a.terminate(sid: "s", reason: Reason(.success), now: net.now), fromAlice: true)
        net.run()
        #expect(net.b["s"]?.phase == .ended)
        #expect(throws: JingleSessionError.self) { try net.a.terminate(sid: "s", now: net.now) }
        net.a.removeEndedSessions()
        net.b.removeEndedSessions()
        #expect(net.a.sessions.isEmpty && net.b.sessions.isEmpty)
        // A late request for the dropped session is answered unknown-session.
        let late = JingleElement(action: .sessionInfo, sid: "s").iq(id: "late", from: Net.bob, to: Net.alice)
        let answer = net.a.handle(late, now: net.now)
        #expect(answer == [.send(late.error(JingleErrorCondition.unknownSession.stanzaError))])
    }
}
