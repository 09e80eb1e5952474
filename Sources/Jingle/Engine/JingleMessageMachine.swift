import XMLModel
import XMPPCore

/// Jingle Message Initiation (XEP-0353) for one local resource, as a sans-IO engine: calls are
/// proposed to the callee's bare JID, answered with `<proceed/>` to the caller's full JID (with
/// `<accept/>` mirrored to our own bare JID so our other devices stop ringing), rejected,
/// retracted and finished. Crossing proposals are settled by the lower id (XEP-0353 §5); a
/// proposal while `maximumCalls` calls are in progress is rejected with `<busy/>`; carbons of our own
/// accept/proceed/reject mean the call was answered on another device; delayed or archived
/// proposals whose XEP-0203 stamp is older than `proposalLifetime` are ignored.
///
/// Driving it: feed every received `<message/>` to `handle(_:now:wallClock:)`, our user's
/// choices to `propose`/`ringing`/`accept`/`reject`/`retract`/`finish`, and call
/// `handleTimeout(now:)` at `nextDeadline`; send each `.send` stanza, show each `.event`.
/// `now` is the driver's monotonic time, `wallClock` its wall-clock time (for delay stamps).
public struct JingleMessageMachine: Sendable {
    public let local: JID
    /// How long a proposal rings before the caller retracts it, and after which an archived one is stale.
    public let proposalLifetime: Duration

    /// The state of one proposal.
    public enum CallState: Sendable, Hashable {
        /// We proposed to `peer` (a bare JID); `ringing` once one of its devices said so.
        case proposing(ringing: Bool)
        /// The callee's device `peer` proceeded: start Jingle with sid = id to that full JID.
        case proceeded(JID)
        /// A proposal from the full JID `peer` is ringing here.
        case incoming
        /// We proceeded: expect session-initiate from the caller.
        case accepted
        case ended(JMIEnd)
    }

    /// How a proposal ended.
    public enum JMIEnd: Sendable, Hashable {
        case rejected(Reason?), retracted(Reason?), finished(Reason?), answeredElsewhere, lostTieBreak, timedOut, busy
    }

    /// One proposal (XEP-0353 §3) as this device knows it.
    public struct Call: Sendable, Hashable {
        public var id: String
        public var outgoing: Bool
        /// The caller's full JID for incoming calls; the callee's bare JID (then full after proceed) for outgoing ones.
        public var peer: JID
        public var descriptions: [ApplicationDescription]
        public var state: CallState
        var deadline: EngineInstant?
    }

    /// What the machine asks its driver to do: send a `<message/>`, or tell the application.
    public enum Output: Sendable, Hashable {
        case send(XMLElement)
        case event(JMIEvent)
    }

    /// What happened to a proposal, for the application.
    public enum JMIEvent: Sendable, Hashable {
        case incoming(id: String, from: JID, descriptions: [ApplicationDescription])
        case ringing(id: String, device: JID)
        /// Our proposal was accepted by `device`: initiate the Jingle session with sid `id` there.
        case proceeded(id: String, device: JID)
        case ended(id: String, JMIEnd)
    }

    /// Our own misuse (acting on an unknown call or in the wrong state), thrown locally.
    public enum MisuseError: Error, Sendable, Hashable {
        case unknownCall(String)
        case wrongState(String, CallState)
        case duplicateID(String)
    }

    public private(set) var calls: [String: Call] = [:]

    /// How many calls may be in progress at once before new proposals are answered `<busy/>`:
    /// 1 behaves like a phone; a bot answering many callers sets more.
    public let maximumCalls: Int

    public init(local: JID, proposalLifetime: Duration = .seconds(60), maximumCalls: Int = 1) {
        self.local = local
        self.proposalLifetime = proposalLifetime
        self.maximumCalls = max(1, maximumCalls)
    }

    public var nextDeadline: EngineInstant? { calls.values.compactMap(\.deadline).min() }

    /// Whether `maximumCalls` calls other than `id` are in progress (then new proposals are answered busy).
    func isBusy(except id: String) -> Bool {
        let inProgress = calls.values.count { c in
            guard c.id != id else { return false }
            switch c.state {
            case .proposing, .proceeded, .incoming, .accepted: return true
            case .ended: return false
            }
        }
        return inProgress >= maximumCalls
    }

    // MARK: Messages

    func message(to: JID, _ payload: JingleMessage) -> XMLElement {
        var m = XMLElement("message", namespace: XMPPNamespace.client, ["to": to.description, "type": "chat"])
        m.setAttribute("from", local.description)
        m.append(payload.element)
        m.append(XMLElement("store", namespace: "urn:xmpp:hints"))
        return m
    }

    // MARK: Our actions

    /// Proposes a call to `peer`'s bare JID.
    public mutating func propose(id: String, to peer: JID, descriptions: [ApplicationDescription], now: EngineInstant) throws(MisuseError)
        -> [Output]
    {
        guard calls[id] == nil else { throw .duplicateID(id) }
        calls[id] = Call(
            id: id, outgoing: true, peer: peer.bare, descriptions: descriptions, state: .proposing(ringing: false),
            deadline: now + proposalLifetime)
        return [.send(message(to: peer.bare, JingleMessage(action: .propose, id: id, descriptions: descriptions)))]
    }

    /// Tells the caller this device is ringing.
    public mutating func ringing(id: String) throws(MisuseError) -> [Output] {
        let c = try call(id, in: .incoming)
        return [.send(message(to: c.peer, JingleMessage(action: .ringing, id: id)))]
    }

    /// Accepts an incoming call: `<proceed/>` to the caller, `<accept/>` to our own account.
    public mutating func accept(id: String) throws(MisuseError) -> [Output] {
        let c = try call(id, in: .incoming)
        calls[id]?.state = .accepted
        calls[id]?.deadline = nil
        return [
            .send(message(to: local.bare, JingleMessage(action: .accept, id: id))),
            .send(message(to: c.peer, JingleMessage(action: .proceed, id: id))),
        ]
    }

    /// Rejects an incoming call, to the caller and mirrored to our own account.
    public mutating func reject(id: String, reason: Reason = Reason(.decline)) throws(MisuseError) -> [Output] {
        let c = try call(id, in: .incoming)
        calls[id]?.state = .ended(.rejected(reason))
        calls[id]?.deadline = nil
        return [
            .send(message(to: c.peer, JingleMessage(action: .reject, id: id, reason: reason))),
            .send(message(to: local.bare, JingleMessage(action: .reject, id: id, reason: reason))),
        ]
    }

    /// Withdraws our proposal before it is answered.
    public mutating func retract(id: String, reason: Reason = Reason(.cancel)) throws(MisuseError) -> [Output] {
        guard let c = calls[id], c.outgoing, case .proposing = c.state else {
            throw calls[id].map { .wrongState(id, $0.state) } ?? .unknownCall(id)
        }
        calls[id]?.state = .ended(.retracted(reason))
        calls[id]?.deadline = nil
        return [
            .send(message(to: c.peer, JingleMessage(action: .retract, id: id, reason: reason))), .event(.ended(id: id, .retracted(reason))),
        ]
    }

    /// Ends an established call: `<finish/>` to the peer's full JID.
    public mutating func finish(id: String, peer: JID, reason: Reason = Reason(.success)) throws(MisuseError) -> [Output] {
        guard let c = calls[id] else { throw .unknownCall(id) }
        switch c.state {
        case .proceeded, .accepted: break
        default: throw .wrongState(id, c.state)
        }
        calls[id]?.state = .ended(.finished(reason))
        return [.send(message(to: peer, JingleMessage(action: .finish, id: id, reason: reason)))]
    }

    /// Drops everything kept about call `id` (once its runtime no longer needs it ended); a
    /// later stanza with that id is treated as about an unknown call.
    public mutating func forget(id: String) { calls[id] = nil }

    /// The peer ended the call's Jingle session (its session-terminate, or its `<finish/>` already
    /// handled): the call ends here too and nothing is sent, so it no longer counts toward busy.
    public mutating func sessionEndedByPeer(id: String, reason: Reason?) {
        guard let c = calls[id] else { return }
        switch c.state {
        case .proceeded, .accepted:
            calls[id]?.state = .ended(.finished(reason))
            calls[id]?.deadline = nil
        case .proposing, .incoming, .ended:
            break
        }
    }

    private func call(_ id: String, in expected: CallState) throws(MisuseError) -> Call {
        guard let c = calls[id] else { throw .unknownCall(id) }
        guard c.state == expected else { throw .wrongState(id, c.state) }
        return c
    }

    // MARK: Timers

    public mutating func handleTimeout(now: EngineInstant) -> [Output] {
        var out: [Output] = []
        for id in calls.keys.sorted() {
            guard let c = calls[id], let d = c.deadline, d <= now else { continue }
            calls[id]?.deadline = nil
            if c.outgoing, case .proposing = c.state {
                calls[id]?.state = .ended(.timedOut)
                out.append(.send(message(to: c.peer, JingleMessage(action: .retract, id: id, reason: Reason(.timeout)))))
                out.append(.event(.ended(id: id, .timedOut)))
            } else if case .incoming = c.state {
                calls[id]?.state = .ended(.timedOut)
                out.append(.event(.ended(id: id, .timedOut)))
            }
        }
        return out
    }

    // MARK: Received messages

    /// XEP-0313 archive results, which carry archived messages in a XEP-0297 `<forwarded/>`.
    static let mamNamespace = "urn:xmpp:mam:2"

    /// Handles a received `<message/>`: a live one, a XEP-0280 carbon (`<sent/>`/`<received/>`)
    /// or a XEP-0313 archive `<result/>`, the last two unwrapped from their XEP-0297
    /// `<forwarded/>` and believed only from our own account.
    ///
    /// Staleness (XEP-0353 §3.1: an old proposal must not ring): the message's age is `wallClock`
    /// minus the earliest XEP-0203 `<delay stamp/>` found on the `<forwarded/>` wrapper, the
    /// inner message or the outer message (stamps in the XEP-0082 DateTime profile). A proposal
    /// older than `proposalLifetime` is ignored; a younger one rings only for what is left of it.
    /// `wallClock` is the driver's wall-clock time (no clock is read here); without it delays are
    /// not judged. `age`, when given, is used instead of the stamps. Unreadable stamps are skipped.
    public mutating func handle(
        _ stanza: XMLElement, age: Duration? = nil, now: EngineInstant,
        wallClock: XMPPDateTime? = nil
    ) -> [Output] {
        guard stanza.name == "message" else { return [] }
        let outerFrom: JID
        if let raw = stanza.attribute("from") {
            guard let j = JID(raw) else { return [] }
            outerFrom = j
        } else {
            outerFrom = local.bare // from our own server on behalf of our account
        }
        // Carbons (XEP-0280 §11) and archive results (XEP-0313 §5) are only believed from our own account.
        let wrappers: [(XMLElement?, Bool)] = [
            (stanza.child("sent", namespace: XMPPNamespace.carbons), true),
            (stanza.child("received", namespace: XMPPNamespace.carbons), false),
            (stanza.child("result", namespace: Self.mamNamespace), false),
        ]
        for case let (wrapper?, sentByUs) in wrappers {
            guard let forwarded = wrapper.child("forwarded", namespace: XMPPNamespace.forward),
                let inner = forwarded.child("message", namespace: XMPPNamespace.client)
            else { return [] }
            guard outerFrom == local.bare else { return [] }
            let messageAge = age ?? Self.age(Delay.earliest(in: [forwarded, inner, stanza]), wallClock: wallClock)
            return handleInner(inner, sentByUs: sentByUs, age: messageAge, now: now)
        }
        return handleInner(stanza, sentByUs: false, age: age ?? Self.age(Delay.earliest(in: [stanza]), wallClock: wallClock), now: now)
    }

    /// How long before `wallClock` the delay was stamped (zero for stamps in the future).
    static func age(_ delay: Delay?, wallClock: XMPPDateTime?) -> Duration? {
        guard let delay, let wallClock else { return nil }
        let seconds = min(max(0, wallClock.secondsSince1970 - delay.stamp.secondsSince1970), 1e12)
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }

    private mutating func handleInner(_ m: XMLElement, sentByUs: Bool, age: Duration?, now: EngineInstant) -> [Output] {
        guard let jmi = try? JingleMessage.find(in: m), let from = m.attribute("from").flatMap(JID.init) else { return [] }
        if from == local { return [] } // our own echo
        let fromOwnAccount = from.bare == local.bare
        if sentByUs || (fromOwnAccount && jmi.action != .propose) {
            // Another of our devices acted on this call.
            guard let c = calls[jmi.id] else {
                // Seen before the proposal itself (archive or carbon order): remember it, so the
                // proposal arriving later does not ring here.
                if [.proceed, .accept, .reject].contains(jmi.action) {
                    calls[jmi.id] = Call(id: jmi.id, outgoing: false, peer: from, descriptions: [], state: .ended(.answeredElsewhere))
                }
                return []
            }
            guard !c.outgoing else { return [] }
            switch (jmi.action, c.state) {
            case (.proceed, .incoming), (.accept, .incoming), (.reject, .incoming):
                calls[jmi.id]?.state = .ended(.answeredElsewhere)
                calls[jmi.id]?.deadline = nil
                return [.event(.ended(id: jmi.id, .answeredElsewhere))]
            default: return []
            }
        }
        switch jmi.action {
        case .propose: return receivePropose(jmi, from: from, age: age, now: now)
        case .ringing, .proceed, .reject:
            guard let c = calls[jmi.id], c.outgoing, c.peer.bare == from.bare else { return [] }
            guard case .proposing = c.state else { return [] }
            switch jmi.action {
            case .ringing:
                calls[jmi.id]?.state = .proposing(ringing: true)
                return [.event(.ringing(id: jmi.id, device: from))]
            case .proceed:
                calls[jmi.id]?.state = .proceeded(from)
                calls[jmi.id]?.deadline = nil
                return [.event(.proceeded(id: jmi.id, device: from))]
            default:
                let end: JMIEnd = jmi.tieBreak ? .lostTieBreak : .rejected(jmi.reason)
                calls[jmi.id]?.state = .ended(end)
                calls[jmi.id]?.deadline = nil
                return [.event(.ended(id: jmi.id, end))]
            }
        case .retract:
            guard let c = calls[jmi.id], !c.outgoing, c.peer.bare == from.bare else {
                // A retract for a proposal we never saw live (e.g. archive order): remember it as ended.
                if calls[jmi.id] == nil {
                    calls[jmi.id] = Call(id: jmi.id, outgoing: false, peer: from, descriptions: [], state: .ended(.retracted(jmi.reason)))
                }
                return []
            }
            switch c.state {
            case .incoming, .accepted:
                calls[jmi.id]?.state = .ended(.retracted(jmi.reason))
                calls[jmi.id]?.deadline = nil
                return [.event(.ended(id: jmi.id, .retracted(jmi.reason)))]
            default: return []
            }
        case .finish:
            guard let c = calls[jmi.id], c.peer.bare == from.bare else { return [] }
            switch c.state {
            case .proceeded(let device) where device != from:
                return [] // only the device that proceeded is in the call
            case .proceeded, .accepted:
                calls[jmi.id]?.state = .ended(.finished(jmi.reason))
                return [.event(.ended(id: jmi.id, .finished(jmi.reason)))]
            default: return []
            }
        case .accept:
            return []
        }
    }

    private mutating func receivePropose(_ jmi: JingleMessage, from: JID, age: Duration?, now: EngineInstant) -> [Output] {
        if let age, age > proposalLifetime { return [] } // stale archived proposal
        if calls[jmi.id] != nil { return [] } // duplicate, or already retracted/finished
        if from.bare == local.bare { return [] } // a proposal by one of our own devices
        var out: [Output] = []
        // Crossing proposals with the same peer: the lower id wins (XEP-0353 §5).
        if let mine = calls.values.first(where: { c in
            if case .proposing = c.state { c.outgoing && c.peer.bare == from.bare } else { false }
        }) {
            let theirsWins = Array(jmi.id.utf8).lexicographicallyPrecedes(Array(mine.id.utf8))
            if theirsWins {
                calls[mine.id]?.state = .ended(.lostTieBreak)
                calls[mine.id]?.deadline = nil
                out.append(
                    .send(
                        message(
                            to: mine.peer,
                            JingleMessage(
                                action: .retract, id: mine.id,
                                reason: Reason(.expired, text: "Tie-Break"), tieBreak: true))))
                out.append(.event(.ended(id: mine.id, .lostTieBreak)))
            } else {
                calls[jmi.id] = Call(id: jmi.id, outgoing: false, peer: from, descriptions: jmi.descriptions, state: .ended(.lostTieBreak))
                return [
                    .send(
                        message(
                            to: from,
                            JingleMessage(
                                action: .reject, id: jmi.id,
                                reason: Reason(.expired, text: "Tie-Break"), tieBreak: true)))
                ]
            }
        }
        if isBusy(except: jmi.id) {
            calls[jmi.id] = Call(id: jmi.id, outgoing: false, peer: from, descriptions: jmi.descriptions, state: .ended(.busy))
            return out + [.send(message(to: from, JingleMessage(action: .reject, id: jmi.id, reason: Reason(.busy))))]
        }
        calls[jmi.id] = Call(
            id: jmi.id, outgoing: false, peer: from, descriptions: jmi.descriptions, state: .incoming,
            deadline: now + proposalLifetime - (age ?? .zero))
        return out + [.event(.incoming(id: jmi.id, from: from, descriptions: jmi.descriptions))]
    }
}
