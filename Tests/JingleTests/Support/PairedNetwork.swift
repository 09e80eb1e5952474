import Jingle
import XMPPCore

/// Two session managers joined by an in-order virtual network and a virtual clock. Stanzas
/// sent by one side are queued and delivered when the test says so.
struct PairedNetwork {
    static let alice = JID("alice@example.com/desk")!
    static let bob = JID("bob@example.net/phone")!

    var a = JingleSessionManager(local: alice)
    var b = JingleSessionManager(local: bob)
    var now: Duration = .zero
    /// IQs in flight towards alice / bob.
    var toA: [IQ] = []
    var toB: [IQ] = []
    var eventsA: [(String, JingleSessionEvent)] = []
    var eventsB: [(String, JingleSessionEvent)] = []

    mutating func collect(_ out: [JingleSessionManager.Output], fromAlice: Bool) {
        for o in out {
            switch o {
            case .send(let iq):
                if fromAlice { toB.append(stamp(iq, from: Self.alice)) } else { toA.append(stamp(iq, from: Self.bob)) }
            case .event(let sid, let e):
                if fromAlice { eventsA.append((sid, e)) } else { eventsB.append((sid, e)) }
            }
        }
    }

    /// The server stamps the sender's full JID (RFC 6120 §8.1.2.1).
    func stamp(_ iq: IQ, from: JID) -> IQ {
        var iq = iq
        iq.from = from
        return iq
    }

    /// Delivers one queued stanza to alice (`toAlice`) or bob; returns false when none was queued.
    @discardableResult
    mutating func deliverOne(toAlice: Bool) -> Bool {
        if toAlice {
            guard !toA.isEmpty else { return false }
            let iq = toA.removeFirst()
            collect(a.handle(iq, now: now) ?? [], fromAlice: true)
        } else {
            guard !toB.isEmpty else { return false }
            let iq = toB.removeFirst()
            collect(b.handle(iq, now: now) ?? [], fromAlice: false)
        }
        return true
    }

    /// Delivers until both queues are empty (bounded).
    mutating func run() {
        var steps = 0
        while (!toA.isEmpty || !toB.isEmpty) && steps < 1000 {
            deliverOne(toAlice: true)
            deliverOne(toAlice: false)
            steps += 1
        }
    }

    /// Advances the virtual clock, firing both sides' timers on the way.
    mutating func advance(to t: Duration) {
        while true {
            let next = [a.nextDeadline, b.nextDeadline].compactMap { $0 }.filter { $0 <= t }.min()
            guard let next else { break }
            now = max(now, next)
            collect(a.handleTimeout(now: now), fromAlice: true)
            collect(b.handleTimeout(now: now), fromAlice: false)
        }
        now = t
    }

    static func audioContent(_ name: ContentName = "voice", creator: Creator = .initiator) -> Content {
        Content(
            creator: creator, name: name, senders: .both,
            description: .rtp(
                RTPDescription(media: "audio", payloadTypes: [PayloadType(id: 111, name: "opus", clockrate: 48000, channels: 2)])),
            transport: .iceUDP(ICEUDPTransport(ufrag: "u", pwd: "p")))
    }

    static func candidateInfo(sid: String, name: ContentName = "voice", creator: Creator = .initiator, ufrag: String = "u") -> JingleElement
    {
        JingleElement(
            action: .transportInfo, sid: sid,
            contents: [
                Content(
                    creator: creator, name: name,
                    transport: .iceUDP(
                        ICEUDPTransport(
                            ufrag: ufrag, pwd: "p",
                            candidates: [
                                Candidate(
                                    component: 1, foundation: "1", id: "c1", ip: "192.0.2.1", port: 4000,
                                    priority: 1, type: .host)
                            ])))
            ])
    }
}
