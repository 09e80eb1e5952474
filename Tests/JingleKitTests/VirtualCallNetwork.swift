import Jingle
@testable import JingleKit
import XMLStream
import XMPPCore

/// Call engines of several XMPP resources on one virtual clock: stanzas routed as
/// `InMemoryRouter` routes them (bare-JID messages to every resource, `from` stamped) with a
/// fixed one-way latency, and media transports that are made, connect and restart after fixed
/// virtual delays. Nothing here waits: `run(for:)` jumps from one due instant to the next.
struct VirtualCallNetwork {
    /// One resource: its engine and what it saw.
    struct Party {
        var engine: CallEngine
        var events: [(sid: String, event: CallEvent, at: EngineInstant)] = []
        var incoming: [String] = []
        var ended: [String: CallEndReason] = [:]
        var closedTransports: [String] = []
        /// Calls whose retention ended (the driver dropped them).
        var forgotten: [String] = []
        var notices: [String] = []
        /// How many times each call's transport was made or restarted: the ufrag's generation.
        var generation: [String: Int] = [:]
        /// The peer's candidates handed to each call's transport, in order.
        var remoteCandidates: [String: [Candidate]] = [:]
    }

    enum Work {
        case deliver(XMLElement, to: JID)
        case transportMade(JID, sid: String)
        case media(JID, sid: String, MediaTransportEvent)
        case restartDone(JID, sid: String, CallEngine.PeerRestart)
    }

    private(set) var parties: [JID: Party] = [:]
    private(set) var now: EngineInstant = .zero
    /// Every stanza routed, with `from` stamped.
    private(set) var routed: [XMLElement] = []
    /// Resources that accept an incoming call as soon as it rings.
    var autoAnswer: Set<JID> = []
    let latency: Duration = .milliseconds(30)
    /// Extra time on the way for some stanzas (a message held in the peer's server, a slow
    /// route): added to `latency`, so one stanza can be overtaken by a later one.
    var delay: (XMLElement) -> Duration = { _ in .zero }
    private var pending: [(at: EngineInstant, order: Int, work: Work)] = []
    private var order = 0
    private let wallClock = XMPPDateTime(secondsSince1970: 1_800_000_000)

    init(_ jids: [String], maximumCalls: Int = 1, endedCallRetention: Duration = .seconds(300)) {
        for s in jids {
            let jid = JID(s)!
            parties[jid] = Party(
                engine: CallEngine(
                    local: jid, policy: CallConfiguration.defaultPolicy, sessionTimeouts: .init(),
                    proposalLifetime: .seconds(60), maximumCalls: maximumCalls, endedCallRetention: endedCallRetention))
        }
    }

    subscript(_ jid: String) -> Party { parties[JID(jid)!]! }

    // MARK: Our actions, as a user of one party would take them

    mutating func place(from jid: String, to peer: String, useJMI: Bool = true, timeout: Duration = .seconds(30)) throws -> String {
        let me = JID(jid)!
        let sid = "call\(order)"
        let actions = try parties[me]!.engine.place(sid: sid, to: JID(peer)!, useJMI: useJMI, timeout: timeout, now: now)
        carryOut(actions, of: me)
        return sid
    }

    /// Accepts an incoming call ringing at `jid`.
    mutating func accept(_ jid: String, sid: String) throws {
        let me = JID(jid)!
        carryOut(try parties[me]!.engine.accept(sid: sid, now: now), of: me)
    }

    mutating func hangUp(_ jid: String, sid: String, reason: Reason? = nil) {
        let me = JID(jid)!
        carryOut(parties[me]!.engine.hangUp(sid: sid, reason: reason, now: now), of: me)
    }

    /// Our ICE restart: new credentials from the (virtual) transport, sent in a transport-info.
    mutating func restartICE(_ jid: String, sid: String) throws {
        let me = JID(jid)!
        guard let content = try parties[me]!.engine.beginRestart(sid: sid, now: now) else { return }
        let local = nextLocalTransport(me, sid: sid)
        carryOut(
            try parties[me]!.engine.restartMade(
                sid: sid, content: content, local: local, candidates: [candidate(me, sid: sid)],
                now: now), of: me)
    }

    /// A Jingle action of our own straight through a party's session engine (one `CallEngine`
    /// never sends itself, such as a content-add).
    mutating func sendJingle(_ jid: String, _ jingle: JingleElement) {
        let me = JID(jid)!
        carryOut(parties[me]!.engine.send(jingle, jingle.action.rawValue, now: now), of: me)
    }

    /// A report of a party's media transport, now.
    mutating func report(_ jid: String, sid: String, _ event: MediaTransportEvent) {
        let me = JID(jid)!
        carryOut(parties[me]!.engine.handle(event, sid: sid, now: now), of: me)
    }

    // MARK: The clock

    /// Set when a run stopped at its step bound: an engine kept asking for work at one instant.
    private(set) var stalled = false

    /// Runs everything due in the next `duration` of virtual time, timers included.
    mutating func run(for duration: Duration) {
        let end = now + duration
        for _ in 0..<100_000 {
            let timer = parties.values.compactMap(\.engine.nextDeadline).min()
            let next = pending.min { ($0.at, $0.order) < ($1.at, $1.order) }
            if let timer, timer <= end, next.map({ timer < $0.at }) ?? true {
                now = max(now, timer)
                for jid in parties.keys.sorted(by: { $0.description < $1.description }) {
                    guard let d = parties[jid]!.engine.nextDeadline, d <= now else { continue }
                    carryOut(parties[jid]!.engine.handleTimeout(now: now), of: jid)
                }
                continue
            }
            guard let next, next.at <= end else {
                now = end
                return
            }
            pending.removeAll { $0.order == next.order }
            now = max(now, next.at)
            perform(next.work)
        }
        stalled = true
    }

    private mutating func schedule(_ delay: Duration, _ work: Work) {
        order += 1
        pending.append((now + delay, order, work))
    }

    private mutating func perform(_ work: Work) {
        switch work {
        case .deliver(let element, let to): deliver(element, to: to)
        case .transportMade(let jid, let sid):
            let local = nextLocalTransport(jid, sid: sid)
            carryOut(parties[jid]!.engine.transportMade(sid: sid, local: local, candidates: [candidate(jid, sid: sid)], now: now), of: jid)
        case .media(let jid, let sid, let event):
            carryOut(parties[jid]!.engine.handle(event, sid: sid, now: now), of: jid)
        case .restartDone(let jid, let sid, let restart):
            // The answer to our own restart keeps the credentials that restart made.
            let local = restart.answering ? nextLocalTransport(jid, sid: sid) : currentLocalTransport(jid, sid: sid)
            let candidates = restart.answering ? [candidate(jid, sid: sid)] : []
            carryOut(parties[jid]!.engine.peerRestartDone(sid: sid, restart, local: local, candidates: candidates, now: now), of: jid)
        }
    }

    private mutating func deliver(_ element: XMLElement, to jid: JID) {
        guard parties[jid] != nil else { return }
        if element.name == "iq", let iq = IQ(element: element) {
            if iq.type == .set || iq.type == .get {
                let outcome = parties[jid]!.engine.handleRequest(iq, now: now)
                carryOut(outcome.actions, of: jid)
                var answer = outcome.answer
                answer.to = iq.from
                route(answer.element, from: jid)
                carryOut(outcome.afterAnswer, of: jid)
            } else {
                carryOut(parties[jid]!.engine.handleResponse(iq, now: now), of: jid)
            }
        } else if element.name == "message" {
            carryOut(parties[jid]!.engine.handleMessage(element, now: now, wallClock: wallClock), of: jid)
        }
    }

    /// Stamps `from` and delivers after the latency: to the full JID, or to every resource of a bare one.
    private mutating func route(_ element: XMLElement, from: JID) {
        var e = element
        e.setAttribute("from", from.description)
        routed.append(e)
        guard let to = e.attribute("to").flatMap(JID.init) else { return }
        let targets = to.resourcepart != nil ? [to] : parties.keys.filter { $0.bare == to }.sorted { $0.description < $1.description }
        let extra = delay(e)
        for target in targets { schedule(latency + extra, .deliver(e, to: target)) }
    }

    // MARK: Carrying out what an engine asks, as `CallManager` does with real transports

    private mutating func carryOut(_ actions: [CallEngine.Action], of jid: JID) {
        for action in actions {
            switch action {
            case .send(let element): route(element, from: jid)
            case .request(let iq): route(iq.element, from: jid)
            case .incoming(let sid):
                parties[jid]!.incoming.append(sid)
                if autoAnswer.contains(jid), let more = try? parties[jid]!.engine.accept(sid: sid, now: now) {
                    carryOut(more, of: jid)
                }
            case .event(let sid, let event): parties[jid]!.events.append((sid, event, now))
            case .makeTransport(let sid, _): schedule(.milliseconds(20), .transportMade(jid, sid: sid))
            case .startMedia(let sid, _):
                schedule(.milliseconds(50), .media(jid, sid: sid, .iceConnected(pair(jid))))
                schedule(.milliseconds(100), .media(jid, sid: sid, .connected))
                schedule(.milliseconds(120), .media(jid, sid: sid, .firstAudio))
            case .addRemoteCandidates(let sid, let candidates): parties[jid]!.remoteCandidates[sid, default: []] += candidates
            case .restartMedia(let sid, let restart):
                schedule(.milliseconds(20), .restartDone(jid, sid: sid, restart))
                schedule(.milliseconds(60), .media(jid, sid: sid, .iceConnected(pair(jid))))
            case .ended(let sid, let end, _):
                parties[jid]!.events.append((sid, .ended(end), now))
                parties[jid]!.ended[sid] = end
            case .closeMedia(let sid): parties[jid]!.closedTransports.append(sid)
            case .forget(let sid): parties[jid]!.forgotten.append(sid)
            case .notice(_, let text): parties[jid]!.notices.append(text)
            }
        }
    }

    private mutating func nextLocalTransport(_ jid: JID, sid: String) -> LocalTransport {
        parties[jid]!.generation[sid, default: 0] += 1
        return currentLocalTransport(jid, sid: sid)
    }

    private func currentLocalTransport(_ jid: JID, sid: String) -> LocalTransport {
        let generation = parties[jid]!.generation[sid] ?? 0
        let user = jid.localpart ?? "x"
        return LocalTransport(
            ufrag: "\(user)\(generation)", pwd: "\(user)-password-\(generation)-0123456789",
            fingerprint: Array(repeating: user == "alice" ? "A1" : "B2", count: 32).joined(separator: ":"))
    }

    private func candidate(_ jid: JID, sid: String) -> Candidate {
        let port: UInt16 = jid.localpart == "alice" ? 40000 : 50000
        return Candidate(
            component: 1, foundation: "1", id: "\(jid.localpart ?? "x")-\(parties[jid]!.generation[sid] ?? 0)",
            ip: "192.0.2.1", network: 0, port: port, priority: 2_130_706_431, type: .host)
    }

    private func pair(_ jid: JID) -> SelectedCandidatePair {
        SelectedCandidatePair(
            localType: .host, localAddress: "192.0.2.1", localPort: jid.localpart == "alice" ? 40000 : 50000,
            remoteType: .host, remoteAddress: "192.0.2.1", remotePort: jid.localpart == "alice" ? 50000 : 40000,
            transportProtocol: "udp")
    }
}
