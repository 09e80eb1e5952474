import XMLModel
import XMPPCore

/// One Jingle session as a sans-IO engine (XEP-0166 §6): feed it the peer's IQs, our own actions
/// and deadlines, each with `now`; carry out the returned outputs and re-arm one timer at
/// `nextDeadline`. Jingle IQs are accepted only from the peer's full JID. Errors follow
/// XEP-0166 §7.2 and §10, and the session survives every error except where the XEP ends it.
public struct JingleSession: Sendable {
    public let sid: String
    public let role: Creator
    public let local: JID
    public let peer: JID
    public private(set) var phase: SessionPhase
    /// The contents in force (offered in the initiate, as updated by accepts, adds and removes).
    public private(set) var contents: [Content]
    public private(set) var groups: [Group]
    public let timeouts: JingleSessionTimeouts

    struct Outstanding: Sendable, Hashable {
        var jingle: JingleElement
        var deadline: EngineInstant
    }

    /// Our requests without an answer yet, by IQ id.
    private var outstanding: [String: Outstanding] = [:]
    /// Content-adds awaiting an answer, by who proposed them.
    private var pendingAdds: [ContentKey: (content: Content, proposer: Creator)] = [:]
    /// Transport-replaces awaiting an answer.
    private var pendingReplaces: [ContentKey: (transport: ContentTransport, proposer: Creator)] = [:]
    /// Our transport-infos held back until the initiate/accept/content-add they refer to is acknowledged.
    private var queuedTransportInfo: [JingleElement] = []
    private var answerDeadline: EngineInstant?
    private var nextID = 0

    public var initiator: JID { role == .initiator ? local : peer }
    public var responder: JID { role == .initiator ? peer : local }
    var peerRole: Creator { role == .initiator ? .responder : .initiator }

    private init(sid: String, role: Creator, local: JID, peer: JID, timeouts: JingleSessionTimeouts) {
        self.sid = sid
        self.role = role
        self.local = local
        self.peer = peer
        self.timeouts = timeouts
        phase = .idle
        contents = []
        groups = []
    }

    // MARK: Creation

    /// Starts a session as initiator: returns the session and its `session-initiate`.
    public static func initiate(
        sid: String, local: JID, peer: JID, contents: [Content], groups: [Group] = [],
        timeouts: JingleSessionTimeouts = .init(), now: EngineInstant
    ) -> (JingleSession, [JingleSessionOutput]) {
        var s = JingleSession(sid: sid, role: .initiator, local: local, peer: peer, timeouts: timeouts)
        let j = JingleElement(action: .sessionInitiate, sid: sid, initiator: local, contents: contents, groups: groups)
        let out = (try? s.send(j, now: now)) ?? []
        return (s, out)
    }

    /// Creates the responder's session from a received `session-initiate` (already routed and
    /// parsed); returns the session and the IQ result plus the `received` event.
    public static func incoming(
        initiate jingle: JingleElement, iq: IQ, local: JID, timeouts: JingleSessionTimeouts = .init(),
        now: EngineInstant
    ) -> (JingleSession, [JingleSessionOutput])? {
        guard jingle.action == .sessionInitiate, let from = iq.from else { return nil }
        var s = JingleSession(sid: jingle.sid, role: .responder, local: local, peer: from, timeouts: timeouts)
        s.phase = .pending
        s.contents = jingle.contents
        s.groups = jingle.groups
        return (s, [.send(iq.result()), .event(.received(jingle))])
    }

    // MARK: Deadlines

    /// The earliest instant at which `handleTimeout(now:)` has work.
    public var nextDeadline: EngineInstant? {
        var d = answerDeadline
        for o in outstanding.values { d = min(d ?? o.deadline, o.deadline) }
        return d
    }

    /// Fires every timer due at `now`.
    public mutating func handleTimeout(now: EngineInstant) -> [JingleSessionOutput] {
        var out: [JingleSessionOutput] = []
        for (id, o) in outstanding.sorted(by: { $0.value.deadline < $1.value.deadline }) where o.deadline <= now {
            outstanding[id] = nil
            out.append(.event(.timedOut(o.jingle.action)))
            switch o.jingle.action {
            case .sessionInitiate, .sessionAccept:
                if phase != .ended { out += end(Reason(.timeout), byPeer: false, notify: true, now: now) }
            default: break
            }
        }
        if let a = answerDeadline, a <= now {
            answerDeadline = nil
            if phase == .pending { out += end(Reason(.timeout), byPeer: false, notify: true, now: now) }
        }
        return out
    }

    // MARK: Sending

    /// Sends one of our actions; throws when the table or the session's state forbids it.
    public mutating func send(_ jingle: JingleElement, now: EngineInstant) throws(JingleSessionError) -> [JingleSessionOutput] {
        guard jingle.sid == sid else { throw .wrongSession(jingle.sid) }
        guard ActionLegality.isAllowed(jingle.action, in: phase, sender: role) else {
            throw .illegalAction(jingle.action, phase: phase, role: role)
        }
        var j = jingle
        switch j.action {
        case .sessionInitiate:
            phase = .pending
            contents = j.contents
            groups = j.groups
            answerDeadline = now + timeouts.answer
        case .sessionAccept:
            for c in j.contents where !hasContent(c.key) { throw .unknownContent(c.key) }
            if j.responder == nil { j.responder = local }
            if j.initiator == nil { j.initiator = peer }
            phase = .active
            apply(acceptedContents: j.contents)
            if !j.groups.isEmpty { groups = j.groups }
        case .sessionTerminate:
            let out = request(j, now: now)
            return out + end(j.reason, byPeer: false, notify: true, now: now)
        case .contentAdd:
            for c in j.contents where c.creator != role || hasContent(c.key) || pendingAdds[c.key] != nil {
                throw .illegalContent(c.key)
            }
            for c in j.contents { pendingAdds[c.key] = (c, role) }
        case .contentAccept, .contentReject:
            for c in j.contents {
                guard let p = pendingAdds[c.key], p.proposer == peerRole else { throw .nothingPending(j.action, c.key) }
                pendingAdds[c.key] = nil
                if j.action == .contentAccept { contents.append(merge(p.content, c)) }
            }
        case .transportReplace:
            for c in j.contents {
                guard hasContent(c.key), let t = c.transport else { throw .unknownContent(c.key) }
                pendingReplaces[c.key] = (t, role)
            }
        case .transportAccept, .transportReject:
            for c in j.contents {
                guard let p = pendingReplaces[c.key], p.proposer == peerRole else { throw .nothingPending(j.action, c.key) }
                pendingReplaces[c.key] = nil
                if j.action == .transportAccept { setTransport(p.transport, for: c.key) }
            }
        case .contentModify, .contentRemove, .descriptionInfo, .transportInfo:
            for c in j.contents where !hasContent(c.key) && pendingAdds[c.key] == nil { throw .unknownContent(c.key) }
            if j.action == .contentModify { for c in j.contents { setSenders(c.senders, for: c.key) } }
            if j.action == .contentRemove { remove(j.contents.map(\.key)) }
            if j.action == .transportInfo, outstanding.values.contains(where: { Self.holdsTransportInfo($0.jingle.action) }) {
                queuedTransportInfo.append(j)
                return []
            }
        case .sessionInfo, .securityInfo:
            break
        }
        var out = request(j, now: now)
        if j.action == .sessionAccept { out.append(.event(.active)) }
        return out
    }

    static func holdsTransportInfo(_ a: JingleAction) -> Bool {
        a == .sessionInitiate || a == .sessionAccept || a == .contentAdd || a == .contentAccept || a == .transportReplace
    }

    private mutating func request(_ j: JingleElement, now: EngineInstant) -> [JingleSessionOutput] {
        nextID += 1
        let id = "\(sid)-\(role == .initiator ? "i" : "r")\(nextID)"
        outstanding[id] = Outstanding(jingle: j, deadline: now + timeouts.response)
        return [.send(j.iq(id: id, from: local, to: peer))]
    }

    private mutating func end(_ reason: Reason?, byPeer: Bool, notify: Bool, now: EngineInstant) -> [JingleSessionOutput] {
        var out: [JingleSessionOutput] = []
        if !byPeer, notify, phase != .ended, !outstanding.values.contains(where: { $0.jingle.action == .sessionTerminate }) {
            out += request(JingleElement(action: .sessionTerminate, sid: sid, reason: reason), now: now)
        }
        phase = .ended
        answerDeadline = nil
        queuedTransportInfo = []
        out.append(.event(.ended(reason, byPeer: byPeer)))
        return out
    }

    /// Ends the session locally without telling the peer (our initiate lost a tie-break, XEP-0166
    /// §7.2.16: the peer answers it with `<conflict/><tie-break/>`, which is then ignored).
    public mutating func abandon(_ reason: Reason) -> [JingleSessionOutput] {
        guard phase != .ended else { return [] }
        outstanding = [:]
        phase = .ended
        answerDeadline = nil
        queuedTransportInfo = []
        return [.event(.ended(reason, byPeer: false))]
    }

    /// Whether `id` is one of our requests still awaiting an answer.
    public func isAwaiting(_ id: String) -> Bool { outstanding[id] != nil }

    /// Whether our session-initiate is still unanswered.
    public var initiateUnanswered: Bool { outstanding.values.contains { $0.jingle.action == .sessionInitiate } }

    // MARK: Receiving

    /// Handles an IQ addressed to this session: a Jingle request from the peer, or the answer to one of ours.
    public mutating func handle(_ iq: IQ, now: EngineInstant) -> [JingleSessionOutput] {
        switch iq.type {
        case .result, .error: return handleAnswer(iq, now: now)
        case .get: return [.send(iq.error(StanzaError(.badRequest, text: "Jingle uses IQ set")))]
        case .set: break
        }
        guard iq.from == peer else {
            return [.send(iq.error(JingleErrorCondition.unknownSession.stanzaError))]
        }
        let jingle: JingleElement
        do { jingle = try JingleElement(iq: iq) } catch {
            return [.send(iq.error(StanzaError(.badRequest, text: error.description)))]
        }
        guard jingle.sid == sid else { return [.send(iq.error(JingleErrorCondition.unknownSession.stanzaError))] }
        if phase == .ended { return [.send(iq.error(JingleErrorCondition.unknownSession.stanzaError))] }
        guard ActionLegality.isAllowed(jingle.action, in: phase, sender: peerRole) else {
            return [.send(iq.error(JingleErrorCondition.outOfOrder.stanzaError))]
        }
        return receive(jingle, iq: iq, now: now)
    }

    private func badRequest(_ iq: IQ, _ text: String) -> [JingleSessionOutput] {
        [.send(iq.error(StanzaError(.badRequest, text: text)))]
    }

    private mutating func receive(_ j: JingleElement, iq: IQ, now: EngineInstant) -> [JingleSessionOutput] {
        let ack: [JingleSessionOutput] = [.send(iq.result()), .event(.received(j))]
        switch j.action {
        case .sessionInitiate:
            return [.send(iq.error(JingleErrorCondition.outOfOrder.stanzaError))]
        case .sessionAccept:
            for c in j.contents where !hasContent(c.key) {
                return badRequest(iq, "session-accept names content '\(c.name)' that was not offered")
            }
            phase = .active
            answerDeadline = nil
            apply(acceptedContents: j.contents)
            if !j.groups.isEmpty { groups = j.groups }
            return ack + [.event(.active)]
        case .sessionTerminate:
            return [.send(iq.result())] + end(j.reason, byPeer: true, notify: false, now: now)
        case .sessionInfo:
            if j.info.contains(where: { if case .other = $0 { true } else { false } }) {
                return [.send(iq.error(JingleErrorCondition.unsupportedInfo.stanzaError))]
            }
            return ack
        case .securityInfo:
            return ack
        case .transportInfo, .descriptionInfo, .contentModify, .contentRemove:
            for c in j.contents where !hasContent(c.key) && pendingAdds[c.key] == nil {
                return badRequest(iq, "no content '\(c.name)' created by \(c.creator.rawValue)")
            }
            if j.action == .contentModify { for c in j.contents { setSenders(c.senders, for: c.key) } }
            if j.action == .contentRemove {
                remove(j.contents.map(\.key))
                // XEP-0166 §7.2.6: a session left without contents is terminated by the receiver.
                if contents.isEmpty && pendingAdds.isEmpty {
                    return ack + end(Reason(.success, text: "no contents left"), byPeer: false, notify: true, now: now)
                }
            }
            return ack
        case .contentAdd:
            for c in j.contents {
                if c.creator != peerRole { return badRequest(iq, "content-add of '\(c.name)' with creator \(c.creator.rawValue)") }
                if hasContent(c.key) || pendingAdds[c.key]?.proposer == peerRole {
                    return badRequest(iq, "content '\(c.name)' already exists")
                }
                if let p = pendingAdds[c.key] ?? pendingAdds.first(where: { $0.key.name == c.name })?.value, p.proposer == role {
                    // Racing content-adds (XEP-0166 §7.2.16): the initiator's action wins.
                    if role == .initiator { return [.send(iq.error(JingleErrorCondition.tieBreak.stanzaError))] }
                    pendingAdds = pendingAdds.filter { $0.key.name != c.name }
                }
            }
            for c in j.contents { pendingAdds[c.key] = (c, peerRole) }
            return ack
        case .contentAccept, .contentReject:
            for c in j.contents {
                guard let p = pendingAdds[c.key], p.proposer == role else {
                    return [.send(iq.error(JingleErrorCondition.outOfOrder.stanzaError))]
                }
                _ = p
            }
            for c in j.contents {
                if let p = pendingAdds.removeValue(forKey: c.key), j.action == .contentAccept { contents.append(merge(p.content, c)) }
            }
            var out = ack
            flushIfReady(&out, now: now)
            return out
        case .transportReplace:
            for c in j.contents {
                guard hasContent(c.key), c.transport != nil else {
                    return badRequest(iq, "transport-replace for unknown content '\(c.name)'")
                }
                if let p = pendingReplaces[c.key], p.proposer == role, role == .initiator {
                    return [.send(iq.error(JingleErrorCondition.tieBreak.stanzaError))]
                }
            }
            for c in j.contents { if let t = c.transport { pendingReplaces[c.key] = (t, peerRole) } }
            return ack
        case .transportAccept, .transportReject:
            for c in j.contents {
                guard let p = pendingReplaces[c.key], p.proposer == role else {
                    return [.send(iq.error(JingleErrorCondition.outOfOrder.stanzaError))]
                }
                _ = p
            }
            for c in j.contents {
                if let p = pendingReplaces.removeValue(forKey: c.key), j.action == .transportAccept {
                    setTransport(p.transport, for: c.key)
                }
            }
            return ack
        }
    }

    private mutating func flushIfReady(_ sink: inout [JingleSessionOutput], now: EngineInstant) {
        guard !outstanding.values.contains(where: { Self.holdsTransportInfo($0.jingle.action) }), phase != .ended else { return }
        let queued = queuedTransportInfo
        queuedTransportInfo = []
        for j in queued { sink += request(j, now: now) }
    }

    private mutating func handleAnswer(_ iq: IQ, now: EngineInstant) -> [JingleSessionOutput] {
        // Only the peer's full JID may answer (a forged answer must not consume our request).
        guard outstanding[iq.id] != nil, iq.from == peer, let o = outstanding.removeValue(forKey: iq.id) else { return [] }
        let action = o.jingle.action
        if iq.type == .result {
            var out: [JingleSessionOutput] = [.event(.acknowledged(action))]
            flushIfReady(&out, now: now)
            return out
        }
        let error = iq.error ?? StanzaError(.undefinedCondition)
        var out: [JingleSessionOutput] = [.event(.rejected(action, error))]
        switch action {
        case .sessionInitiate, .sessionAccept:
            if phase != .ended { out += end(Reason(.failedApplication, text: error.description), byPeer: false, notify: false, now: now) }
        case .contentAdd:
            for c in o.jingle.contents where pendingAdds[c.key]?.proposer == role { pendingAdds[c.key] = nil }
        case .transportReplace:
            for c in o.jingle.contents where pendingReplaces[c.key]?.proposer == role { pendingReplaces[c.key] = nil }
        default: break
        }
        flushIfReady(&out, now: now)
        return out
    }

    // MARK: Contents

    public func hasContent(_ key: ContentKey) -> Bool { contents.contains { $0.key == key } }

    /// Whether a content-add from either side is awaiting an answer.
    public func isPending(_ key: ContentKey) -> Bool { pendingAdds[key] != nil }

    private mutating func apply(acceptedContents: [Content]) {
        for c in acceptedContents {
            if let i = contents.firstIndex(where: { $0.key == c.key }) { contents[i] = merge(contents[i], c) } else { contents.append(c) }
        }
    }

    private func merge(_ old: Content, _ new: Content) -> Content {
        var m = new
        if m.description == nil { m.description = old.description }
        if m.transport == nil { m.transport = old.transport }
        if m.senders == nil { m.senders = old.senders }
        return m
    }

    private mutating func setSenders(_ s: Senders?, for key: ContentKey) {
        if let i = contents.firstIndex(where: { $0.key == key }) { contents[i].senders = s }
    }

    private mutating func setTransport(_ t: ContentTransport, for key: ContentKey) {
        if let i = contents.firstIndex(where: { $0.key == key }) { contents[i].transport = t }
    }

    private mutating func remove(_ keys: [ContentKey]) {
        contents.removeAll { keys.contains($0.key) }
        for k in keys { pendingAdds[k] = nil }
    }
}
