import Jingle
import Testing
import XMLStream
import XMPPCore

/// SplitMix64: a small seeded generator so failures replay.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}

@Suite struct SessionPropertyTests {
    static let names: [ContentName] = ["voice", "v1", "v2"]

    static func randomJingle(_ rng: inout SeededGenerator, sid: String) -> JingleElement {
        let action = JingleAction.allCases.randomElement(using: &rng)!
        var contents: [Content] = []
        for _ in 0..<Int.random(in: 0...2, using: &rng) {
            var c = PairedNetwork.audioContent(
                names.randomElement(using: &rng)!, creator: Bool.random(using: &rng) ? .initiator : .responder)
            c.senders = Senders.allCases.randomElement(using: &rng)
            if action == .transportReplace, Bool.random(using: &rng) { c.transport = .rawUDP(RawUDPTransport()) }
            contents.append(c)
        }
        var j = JingleElement(action: action, sid: Int.random(in: 0..<20, using: &rng) == 0 ? "other" : sid, contents: contents)
        if action == .sessionTerminate || action == .contentReject { j.reason = Reason(.decline) }
        if action == .sessionInfo, Bool.random(using: &rng) { j.info = [.rtp(.ringing)] }
        return j
    }

    static func garbage(_ rng: inout SeededGenerator, to: JID, from: JID) -> IQ {
        let payloads = [
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'/>",
            "<jingle xmlns='urn:xmpp:jingle:1' action='content-accept' sid='s'><content creator='initiator' name='v9'/></jingle>",
            "<jingle xmlns='urn:xmpp:jingle:1' action='bogus' sid='s'/>",
            "<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' sid='s'><content name='voice'/></jingle>",
            "<jingle xmlns='urn:xmpp:jingle:1' action='session-info' sid='s'><x xmlns='urn:example'/></jingle>",
        ]
        let p = payloads.randomElement(using: &rng)!
        let from = Bool.random(using: &rng) ? from : JID("mallory@evil.example/x")!
        return IQ(type: .set, id: "g\(rng.next() % 1000)", from: from, to: to, payload: try? TestXMLReader.parse(p, defaultNamespace: ""))
    }

    @Test(arguments: 0..<1000)
    func randomSequencesLeaveBothSidesConsistent(seed: Int) throws {
        var rng = SeededGenerator(state: UInt64(seed) &* 7919 &+ 1)
        var net = PairedNetwork()
        net.collect(
            try net.a.initiate(sid: "s", to: PairedNetwork.bob, contents: [PairedNetwork.audioContent()], now: net.now), fromAlice: true)
        for _ in 0..<Int.random(in: 5...40, using: &rng) {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0, 1, 2:
                let j = Self.randomJingle(&rng, sid: "s")
                if let out = try? net.a.send(j, now: net.now) { net.collect(out, fromAlice: true) }
            case 3, 4, 5:
                let j = Self.randomJingle(&rng, sid: "s")
                if let out = try? net.b.send(j, now: net.now) { net.collect(out, fromAlice: false) }
            case 6, 7:
                net.deliverOne(toAlice: Bool.random(using: &rng))
            case 8:
                let toAlice = Bool.random(using: &rng)
                let iq = Self.garbage(
                    &rng, to: toAlice ? PairedNetwork.alice : PairedNetwork.bob, from: toAlice ? PairedNetwork.bob : PairedNetwork.alice)
                if toAlice { net.toA.append(iq) } else { net.toB.append(iq) }
            default:
                net.advance(to: net.now + .seconds(Int64.random(in: 0...3, using: &rng)))
            }
        }
        net.run()
        // Let every outstanding answer arrive, then compare.
        let a = try #require(net.a["s"])
        guard let b = net.b["s"] else {
            #expect(
                a.phase == .pending || a.phase == .ended, "bob never saw the initiate only if it is still in flight or the session ended")
            return
        }
        #expect(a.phase == b.phase, "seed \(seed): alice \(a.phase) bob \(b.phase)")
        if a.phase == .active {
            #expect(Set(a.contents.map(\.key)) == Set(b.contents.map(\.key)), "seed \(seed): contents differ")
        }
    }
}
