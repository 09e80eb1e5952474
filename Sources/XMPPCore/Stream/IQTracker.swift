/// Tracks outstanding IQ requests (RFC 6120 §8.2.3): each has an id, the address it went to and a
/// deadline. A response matches only when its id *and* its sender fit the request, so a response
/// forged by another entity with a guessed id is not taken for the real one.
///
/// Sans-IO: the driver calls `register`, feeds every incoming result/error to `match`, and calls
/// `handleTimeout(now:)` at `nextDeadline`.
public struct IQTracker: Sendable {
    /// One outstanding request.
    public struct Pending: Sendable, Hashable {
        public var id: String
        public var to: JID?
        public var deadline: EngineInstant
    }

    /// A matched response: the request's id and the outcome.
    public struct Completion: Sendable, Hashable {
        public var id: String
        public var response: IQ
        /// The response's payload on `result`, the stanza error on `error`.
        public var result: Result<IQ, StanzaError> {
            if response.type == .error { return .failure(response.error ?? StanzaError(.undefinedCondition)) }
            return .success(response)
        }
    }

    private var pending: [String: Pending] = [:]
    /// Our own full JID once bound; it decides which senders may answer requests sent with no `to`.
    public var ownJID: JID?

    public init(ownJID: JID? = nil) {
        self.ownJID = ownJID
    }

    public var count: Int { pending.count }
    public func isPending(_ id: String) -> Bool { pending[id] != nil }

    /// Starts tracking a request that is about to be sent.
    public mutating func register(_ request: IQ, deadline: EngineInstant) {
        pending[request.id] = Pending(id: request.id, to: request.to, deadline: deadline)
    }

    /// Matches a response; nil when it is not a result/error, not one we wait for, or from the wrong sender.
    public mutating func match(_ response: IQ) -> Completion? {
        guard response.type == .result || response.type == .error,
            let request = pending[response.id],
            isExpectedSender(response.from, for: request.to)
        else { return nil }
        pending[response.id] = nil
        return Completion(id: response.id, response: response)
    }

    /// Removes and returns the ids of requests whose deadline is at or before `now`.
    public mutating func handleTimeout(now: EngineInstant) -> [String] {
        let expired = pending.values.filter { $0.deadline <= now }.sorted { $0.deadline < $1.deadline }.map(\.id)
        for id in expired { pending[id] = nil }
        return expired
    }

    /// Forgets a request (the caller gave up on it).
    public mutating func cancel(_ id: String) {
        pending[id] = nil
    }

    /// Removes every request, returning their ids (the connection is gone).
    public mutating func cancelAll() -> [String] {
        let ids = pending.values.sorted { $0.deadline < $1.deadline }.map(\.id)
        pending.removeAll()
        return ids
    }

    /// The earliest deadline among outstanding requests.
    public var nextDeadline: EngineInstant? {
        pending.values.lazy.map(\.deadline).min()
    }

    /// RFC 6120 §8.2.3 and §10.3.3: a request to an address is answered from that address; a request
    /// with no `to` (or to our own bare JID) is answered by the server on behalf of the account,
    /// with no `from`, our bare or full JID, or (as some servers do) our domain.
    func isExpectedSender(_ from: JID?, for to: JID?) -> Bool {
        guard let own = ownJID else { return from == to }
        if to == nil || to == own.bare {
            guard let from else { return true }
            return from == own.bare || from == own || from == JID(localpart: nil, domainpart: own.domainpart)
        }
        return from == to
    }
}
