@testable import Jingle
import Testing
import XMLStream
import XMPPCore

/// A tiny XMPP server for JMI tests: routes messages to bare JIDs to every resource of the
/// account, to full JIDs to that resource, and sends XEP-0280 carbons of both to the account's
/// other resources.
struct JMIServer {
    var devices: [JID: JingleMessageMachine] = [:]
    var events: [JID: [JingleMessageMachine.JMIEvent]] = [:]
    var queue: [(to: JID, stanza: XMLElement)] = []
    var now: Duration = .zero

    init(_ jids: [JID]) {
        for j in jids { devices[j] = JingleMessageMachine(local: j) }
    }

    mutating func apply(_ out: [JingleMessageMachine.Output], from: JID) {
        for o in out {
            switch o {
            case .event(let e): events[from, default: []].append(e)
            case .send(var m):
                m.setAttribute("from", from.description)
                guard let to = m.attribute("to").flatMap(JID.init) else { continue }
                let recipients = to.isBare ? devices.keys.filter { $0.bare == to }.sorted() : [to]
                for r in recipients where r != from { queue.append((r, m)) }
                // Carbons of what `from` sent, to its other resources.
                for other in devices.keys.sorted() where other.bare == from.bare && other != from && !recipients.contains(other) {
                    queue.append((other, carbon("sent", m, account: from.bare, to: other)))
                }
                // Carbons of a message to a full JID, to the recipient's other resources.
                if to.isFull {
                    for other in devices.keys.sorted() where other.bare == to.bare && other != to && other != from {
                        queue.append((other, carbon("received", m, account: to.bare, to: other)))
                    }
                }
            }
        }
    }

    func carbon(_ kind: String, _ m: XMLElement, account: JID, to: JID) -> XMLElement {
        XMLElement(
            "message", namespace: XMPPNamespace.client, ["from": account.description, "to": to.description],
            children: [
                XMLElement(
                    kind, namespace: XMPPNamespace.carbons,
                    children: [XMLElement("forwarded", namespace: XMPPNamespace.forward, children: [m])])
            ])
    }

    mutating func act(_ who: JID, _ f: (inout JingleMessageMachine) throws -> [JingleMessageMachine.Output]) rethrows {
        guard var d = devices[who] else { return }
        let out = try f(&d)
        devices[who] = d
        apply(out, from: who)
    }

    /// `caller` proposes an audio call `id` to every device of `callee`'s account, and the
    /// messages go round until none is left.
    mutating func propose(_ id: String, from caller: JID, to callee: JID) throws {
        try act(caller) { try $0.propose(id: id, to: callee.bare, descriptions: JMITests.audio, now: .zero) }
        run()
    }

    mutating func run() {
        var steps = 0
        while !queue.isEmpty && steps < 1000 {
            let (to, m) = queue.removeFirst()
            let n = now
            act(to) { $0.handle(m, now: n) }
            steps += 1
        }
    }

    mutating func advance(to t: Duration) {
        now = t
        for j in devices.keys.sorted() { act(j) { $0.handleTimeout(now: t) } }
    }

    func ends(_ j: JID) -> [JingleMessageMachine.JMIEnd] {
        (events[j] ?? []).compactMap { if case .ended(_, let e) = $0 { e } else { nil } }
    }
}

@Suite struct JMITests {
    static let romeo = JID("romeo@montague.example/orchard")!
    static let phone = JID("juliet@capulet.example/phone")!
    static let tablet = JID("juliet@capulet.example/tablet")!
    static let mercutio = JID("mercutio@verona.example/street")!
    static let audio: [ApplicationDescription] = [.rtp(RTPDescription(media: "audio"))]

    func incomingIDs(_ s: JMIServer, _ j: JID) -> [String] {
        (s.events[j] ?? []).compactMap { if case .incoming(let id, _, _) = $0 { id } else { nil } }
    }

    @Test func callViaJMIThenJingleAndFinish() throws {
        var s = JMIServer([Self.romeo, Self.phone, Self.tablet])
        try s.propose("call1", from: Self.romeo, to: Self.phone)
        #expect(incomingIDs(s, Self.phone) == ["call1"] && incomingIDs(s, Self.tablet) == ["call1"])
        try s.act(Self.phone) { try $0.ringing(id: "call1") }
        try s.act(Self.tablet) { try $0.ringing(id: "call1") }
        s.run()
        #expect(s.events[Self.romeo]?.contains(.ringing(id: "call1", device: Self.phone)) == true)
        try s.act(Self.phone) { try $0.accept(id: "call1") }
        s.run()
        #expect(s.events[Self.romeo]?.contains(.proceeded(id: "call1", device: Self.phone)) == true)
        #expect(s.ends(Self.tablet) == [.answeredElsewhere])
        #expect(s.devices[Self.phone]?.calls["call1"]?.state == .accepted)

        // The Jingle session uses the proposal id as sid, to the device that proceeded.
        var net = PairedNetwork()
        net.a = JingleSessionManager(local: Self.romeo)
        net.b = JingleSessionManager(local: Self.phone)
        net.collect(try net.a.initiate(sid: "call1", to: Self.phone, contents: [PairedNetwork.audioContent()], now: .zero), fromAlice: true)
        for i in net.toB.indices { net.toB[i].from = Self.romeo }
        while let iq = net.toB.first {
            net.toB.removeFirst()
            var stamped = iq
            stamped.from = Self.romeo
            net.collect(net.b.handle(stamped, now: .zero) ?? [], fromAlice: false)
        }
        #expect(net.b["call1"]?.phase == .pending && net.b["call1"]?.peer == Self.romeo)

        try s.act(Self.romeo) { try $0.finish(id: "call1", peer: Self.phone) }
        s.run()
        #expect(s.ends(Self.phone) == [.finished(Reason(.success))])
    }

    @Test func retractWhileRinging() throws {
        var s = JMIServer([Self.romeo, Self.phone, Self.tablet])
        try s.propose("c", from: Self.romeo, to: Self.phone)
        try s.act(Self.phone) { try $0.ringing(id: "c") }
        s.run()
        try s.act(Self.romeo) { try $0.retract(id: "c") }
        s.run()
        #expect(s.ends(Self.phone) == [.retracted(Reason(.cancel))])
        #expect(s.ends(Self.tablet) == [.retracted(Reason(.cancel))])
        #expect(throws: JingleMessageMachine.MisuseError.self) { try s.act(Self.phone) { try $0.accept(id: "c") } }
    }

    @Test func rejectOnOneDeviceStopsTheOthers() throws {
        var s = JMIServer([Self.romeo, Self.phone, Self.tablet])
        try s.propose("c", from: Self.romeo, to: Self.phone)
        try s.act(Self.tablet) { try $0.reject(id: "c", reason: Reason(.decline)) }
        s.run()
        #expect(s.ends(Self.romeo) == [.rejected(Reason(.decline))])
        #expect(s.ends(Self.phone) == [.answeredElsewhere])
    }

    @Test func crossingProposalsLowerIDWins() throws {
        var s = JMIServer([Self.romeo, Self.phone])
        try s.act(Self.romeo) { try $0.propose(id: "b-higher", to: Self.phone.bare, descriptions: Self.audio, now: .zero) }
        try s.propose("a-lower", from: Self.phone, to: Self.romeo)
        #expect(s.devices[Self.romeo]?.calls["b-higher"]?.state == .ended(.lostTieBreak))
        #expect(s.devices[Self.romeo]?.calls["a-lower"]?.state == .incoming)
        #expect(s.devices[Self.phone]?.calls["a-lower"]?.state == .proposing(ringing: false))
        #expect(s.devices[Self.phone]?.calls["b-higher"]?.state == .ended(.lostTieBreak))
        try s.act(Self.romeo) { try $0.accept(id: "a-lower") }
        s.run()
        #expect(s.events[Self.phone]?.contains(.proceeded(id: "a-lower", device: Self.romeo)) == true)
    }

    @Test func busyWhileInACall() throws {
        var s = JMIServer([Self.romeo, Self.phone, Self.mercutio])
        try s.propose("c1", from: Self.romeo, to: Self.phone)
        try s.act(Self.phone) { try $0.accept(id: "c1") }
        s.run()
        try s.propose("c2", from: Self.mercutio, to: Self.phone)
        #expect(s.ends(Self.mercutio) == [.rejected(Reason(.busy))])
        #expect(s.devices[Self.phone]?.calls["c1"]?.state == .accepted)
    }

    @Test func aSessionEndedByThePeerFreesTheMachineWithoutSendingAnything() throws {
        var m = JingleMessageMachine(local: Self.phone)
        let propose = XMLElement(
            "message", namespace: XMPPNamespace.client, ["from": Self.romeo.description, "to": Self.phone.bare.description],
            children: [JingleMessage(action: .propose, id: "s1", descriptions: Self.audio).element])
        _ = m.handle(propose, now: .zero)
        _ = try m.accept(id: "s1")
        #expect(m.isBusy(except: "other"))
        m.sessionEndedByPeer(id: "s1", reason: Reason(.success))
        #expect(m.calls["s1"]?.state == .ended(.finished(Reason(.success))))
        #expect(!m.isBusy(except: "other"), "a new call may ring")
        m.sessionEndedByPeer(id: "unknown", reason: nil) // ignored
    }

    /// Once a device proceeded, only that device's `<finish/>` ends the caller's call: another
    /// device of the callee's account is not in it.
    @Test func onlyTheDeviceThatProceededFinishesTheCall() throws {
        var m = JingleMessageMachine(local: Self.romeo)
        _ = try m.propose(id: "s1", to: Self.phone.bare, descriptions: Self.audio, now: .zero)
        func message(_ action: JingleMessageAction, from: JID) -> XMLElement {
            XMLElement(
                "message", namespace: XMPPNamespace.client, ["from": from.description, "to": Self.romeo.description],
                children: [JingleMessage(action: action, id: "s1", reason: action == .finish ? Reason(.cancel) : nil).element])
        }
        #expect(m.handle(message(.proceed, from: Self.phone), now: .zero) == [.event(.proceeded(id: "s1", device: Self.phone))])
        #expect(m.handle(message(.finish, from: Self.tablet), now: .zero).isEmpty)
        #expect(m.calls["s1"]?.state == .proceeded(Self.phone))
        #expect(m.handle(message(.finish, from: Self.phone), now: .zero) == [.event(.ended(id: "s1", .finished(Reason(.cancel))))])
    }

    @Test func aMachineAllowingTwoCallsTakesASecondCallerAndIsBusyForAThird() throws {
        let tybalt = JID("tybalt@verona.example/sword")!
        var s = JMIServer([Self.romeo, Self.phone, Self.mercutio, tybalt])
        s.devices[Self.phone] = JingleMessageMachine(local: Self.phone, maximumCalls: 2)
        try s.propose("c1", from: Self.romeo, to: Self.phone)
        try s.act(Self.phone) { try $0.accept(id: "c1") }
        s.run()
        try s.propose("c2", from: Self.mercutio, to: Self.phone)
        #expect(s.devices[Self.phone]?.calls["c2"]?.state == .incoming, "a second call rings")
        try s.act(tybalt) { try $0.propose(id: "c3", to: Self.phone.bare, descriptions: Self.audio, now: .zero) }
        s.run()
        #expect(s.ends(tybalt) == [.rejected(Reason(.busy))], "a third is busy")
    }

    @Test func staleArchivedProposalIsIgnoredAndForeignCarbonsToo() throws {
        var m = JingleMessageMachine(local: Self.phone)
        let propose = XMLElement(
            "message", namespace: XMPPNamespace.client, ["from": Self.romeo.description, "to": Self.phone.bare.description],
            children: [JingleMessage(action: .propose, id: "old", descriptions: Self.audio).element])
        #expect(m.handle(propose, age: .seconds(3600), now: .zero).isEmpty)
        #expect(m.calls.isEmpty)
        let fresh = m.handle(propose, age: .seconds(5), now: .zero)
        #expect(fresh == [.event(.incoming(id: "old", from: Self.romeo, descriptions: Self.audio))])
        // A "carbon" from someone else's account claiming we accepted is not believed.
        let forged = XMLElement(
            "message", namespace: XMPPNamespace.client, ["from": Self.mercutio.bare.description],
            children: [
                XMLElement(
                    "sent", namespace: XMPPNamespace.carbons,
                    children: [
                        XMLElement(
                            "forwarded", namespace: XMPPNamespace.forward,
                            children: [
                                XMLElement(
                                    "message", namespace: XMPPNamespace.client,
                                    ["from": Self.tablet.description, "to": Self.romeo.description],
                                    children: [JingleMessage(action: .proceed, id: "old").element])
                            ])
                    ])
            ])
        #expect(m.handle(forged, now: .zero).isEmpty)
        #expect(m.calls["old"]?.state == .incoming)
    }

    @Test func unansweredProposalIsRetractedAfterItsLifetime() throws {
        var s = JMIServer([Self.romeo, Self.phone])
        try s.propose("c", from: Self.romeo, to: Self.phone)
        #expect(s.devices[Self.romeo]?.nextDeadline == .seconds(60))
        s.advance(to: .seconds(61))
        s.run()
        #expect(s.ends(Self.romeo).contains(.timedOut))
        #expect(s.devices[Self.phone]?.calls["c"]?.state != .incoming)
    }
}
