import XMLModel

/// XEP-0198 stream management (`urn:xmpp:sm:3`) for a client, as a sans-IO value: counts the
/// stanzas we handled and the ones we sent, answers the server's `<r/>` with `<a h/>`, asks for
/// acks, keeps every stanza the server has not acknowledged, and carries what a later connection
/// needs to resume (`<resume previd h/>`) from one connection to the next.
///
/// The driver calls `enable(resume:)` once the session is bound and sends what it returns,
/// reports every stanza it writes with `sent(_:)` and every stanza it receives with
/// `received()`, gives every element in the `urn:xmpp:sm:3` namespace to `handle(_:)`, and
/// writes each `Output.send` in order. Counters wrap at 2^32 (XEP-0198 §4).
public struct StreamManagement: Sendable {
    /// What the driver must do or learn.
    public enum Output: Sendable, Hashable {
        /// Write these bytes (serialised XML).
        case send(String)
        /// The server enabled stream management; `resumable` when it gave an id to resume with.
        case enabled(resumable: Bool)
        /// The server refused to enable stream management (the session goes on without it).
        case enableFailed
    }

    public enum State: Sendable, Hashable {
        /// Nothing asked yet (or the server does not offer it).
        case inactive
        /// `<enable/>` sent, `<enabled/>` awaited.
        case enabling
        /// On: stanzas are counted both ways.
        case enabled
        /// The server refused.
        case failed
    }

    /// What a later connection needs to resume this session (XEP-0198 §5).
    public struct Resumption: Sendable, Hashable {
        public var id: String
        /// Stanzas from the server we handled (our `h`).
        public var handled: UInt32
        /// The full JID the resumed session has.
        public var boundJID: JID
    }

    public private(set) var state: State = .inactive
    /// The id the server gave for resumption, when it allows it.
    public private(set) var resumptionID: String?
    /// Where the server prefers us to reconnect for resumption (`location`), when it said.
    public private(set) var location: String?
    /// Stanzas received from the server and handled since `<enabled/>` (our `h`).
    public private(set) var handled: UInt32 = 0
    /// Stanzas we sent since `<enable/>`.
    public private(set) var sentCount: UInt32 = 0
    /// The last `h` the server acknowledged.
    public private(set) var acknowledged: UInt32 = 0
    /// Sent stanzas not yet acknowledged, oldest first.
    public private(set) var unacknowledged: [String] = []
    /// A `<r/>` is out and its `<a/>` not yet back.
    public private(set) var ackRequested = false
    /// The full JID of the session (for resumption).
    public var boundJID: JID?

    public init() {}

    public var isEnabled: Bool { state == .enabled }

    /// What a new connection needs to resume, when the server allowed resumption.
    public var resumption: Resumption? {
        guard state == .enabled, let resumptionID, let boundJID else { return nil }
        return Resumption(id: resumptionID, handled: handled, boundJID: boundJID)
    }

    /// `<enable/>` (with `resume='true'` when asked): the text to send after binding.
    public mutating func enable(resume: Bool) -> [Output] {
        guard state == .inactive else { return [] }
        state = .enabling
        sentCount = 0
        acknowledged = 0
        unacknowledged = []
        var element = XMLElement("enable", namespace: XMPPNamespace.streamManagement)
        if resume { element.setAttribute("resume", "true") }
        return [.send(Self.serialize(element))]
    }

    /// Records a stanza we wrote (already serialised); asks the server for an ack when none is
    /// outstanding.
    public mutating func sent(_ stanza: String) -> [Output] {
        guard state == .enabling || state == .enabled else { return [] }
        sentCount &+= 1
        unacknowledged.append(stanza)
        guard state == .enabled, !ackRequested else { return [] }
        ackRequested = true
        return [.send(Self.serialize(XMLElement("r", namespace: XMPPNamespace.streamManagement)))]
    }

    /// Records a stanza received from the server and handled.
    public mutating func received() {
        guard state == .enabled else { return }
        handled &+= 1
    }

    /// Handles an element in the `urn:xmpp:sm:3` namespace received on a ready stream.
    public mutating func handle(_ element: XMLElement) -> [Output] {
        guard element.namespace == XMPPNamespace.streamManagement else { return [] }
        switch element.name {
        case "enabled":
            guard state == .enabling else { return [] }
            state = .enabled
            handled = 0
            let resumable = element.attribute("resume").map { $0 == "true" || $0 == "1" } ?? false
            resumptionID = resumable ? element.attribute("id") : nil
            location = element.attribute("location")
            var out: [Output] = [.enabled(resumable: resumptionID != nil)]
            // Stanzas written between <enable/> and <enabled/> are counted; ask for their ack.
            if !unacknowledged.isEmpty, !ackRequested {
                ackRequested = true
                out.append(.send(Self.serialize(XMLElement("r", namespace: XMPPNamespace.streamManagement))))
            }
            return out
        case "failed":
            guard state == .enabling else { return [] }
            state = .failed
            unacknowledged = []
            return [.enableFailed]
        case "r":
            guard state == .enabled else { return [] }
            let answer = XMLElement("a", namespace: XMPPNamespace.streamManagement, ["h": String(handled)])
            return [.send(Self.serialize(answer))]
        case "a":
            guard state == .enabled, let h = element.attribute("h").flatMap(UInt32.init) else { return [] }
            ackRequested = false
            let before = acknowledged
            acknowledge(h)
            // More to acknowledge and the server is catching up: ask again. An ack that covers
            // nothing new waits for the next stanza (no request/answer ping-pong).
            if !unacknowledged.isEmpty, acknowledged != before {
                ackRequested = true
                return [.send(Self.serialize(XMLElement("r", namespace: XMPPNamespace.streamManagement)))]
            }
            return []
        default:
            return []
        }
    }

    /// The server resumed the session (`<resumed h/>`): drops what it acknowledged and returns the
    /// stanzas it did not receive, to be written again (they are counted again by `sent(_:)`).
    public mutating func resumed(serverHandled h: UInt32) -> [String] {
        acknowledge(h)
        let resend = unacknowledged
        unacknowledged = []
        sentCount = acknowledged
        ackRequested = false
        state = .enabled
        return resend
    }

    /// The session cannot be resumed any more (`<failed/>` to `<resume/>`, or a new session):
    /// returns the stanzas that were never acknowledged, which the server will not deliver, and
    /// forgets everything.
    public mutating func abandon() -> [String] {
        let lost = unacknowledged
        self = StreamManagement()
        return lost
    }

    /// Drops the stanzas the server's `h` covers; an `h` beyond what we sent is ignored.
    private mutating func acknowledge(_ h: UInt32) {
        let newlyAcked = h &- acknowledged
        let outstanding = UInt32(unacknowledged.count)
        guard newlyAcked <= outstanding else { return }
        unacknowledged.removeFirst(Int(newlyAcked))
        acknowledged = h
    }

    /// `<resume xmlns='urn:xmpp:sm:3' previd='…' h='…'/>`.
    public static func resumeRequest(_ resumption: Resumption) -> String {
        serialize(
            XMLElement(
                "resume", namespace: XMPPNamespace.streamManagement,
                ["previd": resumption.id, "h": String(resumption.handled)]))
    }

    static func serialize(_ element: XMLElement) -> String {
        XMLSerializer.serialize(element, parentNamespace: XMPPNamespace.client)
    }
}

/// XEP-0199 §4.2 keep-alive as a sans-IO value: after `interval` without anything from the
/// server, ping it; when the ping (or anything else) is not answered within `timeout`, the
/// connection is dead. Any bytes from the server count as a sign of life.
public struct KeepAlive: Sendable {
    public enum Output: Sendable, Hashable {
        /// Send this ping (an IQ get to our server); its answer is routed back by id.
        case ping(IQ)
        /// No sign of life for `interval + timeout`: close and reconnect.
        case dead(silence: Duration)
    }

    public var interval: Duration
    public var timeout: Duration
    private var lastHeard: EngineInstant
    private var pingSentAt: EngineInstant?
    private var counter = 0
    /// The id prefix of our pings, so their answers are recognised.
    public static let idPrefix = "keepalive-"

    public init(interval: Duration, timeout: Duration, now: EngineInstant) {
        self.interval = interval
        self.timeout = timeout
        self.lastHeard = now
    }

    /// When the next ping goes out, or when the outstanding one is given up.
    public var nextDeadline: EngineInstant {
        if let pingSentAt { return pingSentAt + timeout }
        return lastHeard + interval
    }

    /// Something arrived from the server.
    public mutating func heard(now: EngineInstant) {
        lastHeard = now
        pingSentAt = nil
    }

    /// Whether `iq` answers one of our pings (the driver drops it).
    public static func isAnswer(_ iq: IQ) -> Bool {
        (iq.type == .result || iq.type == .error) && iq.id.hasPrefix(idPrefix)
    }

    public mutating func handleTimeout(now: EngineInstant, server: JID) -> Output? {
        if let pingSentAt {
            guard now >= pingSentAt + timeout else { return nil }
            return .dead(silence: now - lastHeard)
        }
        guard now >= lastHeard + interval else { return nil }
        pingSentAt = now
        counter += 1
        return .ping(Ping.request(id: "\(Self.idPrefix)\(counter)", to: server))
    }
}
