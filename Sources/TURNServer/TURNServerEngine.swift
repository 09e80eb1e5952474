import CryptoPrimitives
import EngineTime
import STUN

/// The TURN server's allocation engine (RFC 8656 over RFC 8489, IPv6 per RFC 6156), sans-IO:
/// feed it datagrams from clients and peers with the current time, carry out the returned
/// actions, and call `handleTimeout` at `nextDeadline`. It opens no sockets and reads no clock.
public struct TURNServerEngine: Sendable {
    public private(set) var configuration: TURNServerConfiguration
    public internal(set) var credentials: CredentialStore
    public internal(set) var statistics = TURNStatistics()
    let nonces: NonceIssuer

    var allocations: [FiveTuple: Allocation] = [:]
    var relayOwners: [TransportAddress: FiveTuple] = [:]
    var usedPorts: [IPAddress: Set<UInt16>] = [:]
    var reservations: [UInt64: (relay: TransportAddress, expiry: EngineInstant)] = [:]
    var allocationsPerUser: [String: Int] = [:]
    var timers = TimerQueue()
    /// Answers sent without authentication (challenges, 400s), per source address.
    var replyLimiter: SourceRateLimiter?
    /// `authenticationFailed` events (log lines) per source address: 10 at once, then 1 a second.
    var authFailureLog = SourceRateLimiter(rate: 1, burst: 10)
    var channelRoutes: [ChannelKey: ChannelRoute] = [:]
    var peerRoutes: [PeerKey: PeerRoute] = [:]
    var permissionIndex: [PermissionKey: EngineInstant] = [:]
    var peerConnections = PeerConnectionTable()
    var draining = false

    public init(configuration: TURNServerConfiguration, credentials: CredentialStore, nonceSecret: [UInt8] = SecureRandom.bytes(32)) {
        self.configuration = configuration
        self.credentials = credentials
        self.nonces = NonceIssuer(secret: nonceSecret, lifetime: configuration.nonceLifetime)
        if let rate = configuration.unauthenticatedRepliesPerSecond {
            replyLimiter = SourceRateLimiter(rate: rate, burst: rate)
        }
    }

    /// Number of live allocations.
    public var allocationCount: Int { allocations.count }

    /// Relayed addresses of the allocation on `tuple`, if any.
    public func relayedAddresses(of tuple: FiveTuple) -> [TransportAddress] { allocations[tuple]?.relays ?? [] }

    /// The next time `handleTimeout` has work to do.
    public var nextDeadline: EngineInstant? { timers.earliest }

    /// Replaces users and REST secrets (configuration reload); live allocations keep their keys.
    public mutating func replaceCredentials(users: [String: String], secrets: [String]) {
        credentials.replace(users: users, secrets: secrets)
    }

    /// Refuses new allocations from now on (graceful drain); existing ones keep working.
    public mutating func startDraining() { draining = true }

    /// Names the relay's own addresses, its host's other addresses and its own services
    /// (listeners, metrics endpoint) for the peer filter, once the driver has bound them.
    public mutating func setOwnAddresses(_ own: [IPAddress], host: [IPAddress] = [], services: [TransportAddress]) {
        configuration.peerFilter.setOwnAddresses(own, host: host, services: services)
    }

    mutating func schedule(_ item: TimerItem, at time: EngineInstant) {
        timers.push(item, at: time)
    }

    /// `reply` to a request that was not authenticated, unless its source has had its share
    /// of such answers (reflection: RFC 8489 §16.1); then nothing, counted.
    mutating func unauthenticatedReply(_ reply: [UInt8], to tuple: FiveTuple, now: EngineInstant) -> [TURNServerAction] {
        if tuple.transport == .udp, replyLimiter != nil, replyLimiter?.allow(tuple.client.ip, now: now) == false {
            statistics.unauthenticatedRepliesLimited += 1
            return []
        }
        return [.sendToClient(tuple, reply)]
    }

    /// Whether a request carries the attributes its method cannot do without (RFC 8656 §7.2,
    /// §10.2, §11.2, RFC 6062 §5.2, §5.4). An unauthenticated request without them is dropped
    /// unanswered: no legitimate client sends one, and its 401 would only amplify.
    static func hasMandatoryAttributes(_ request: STUNMessage) -> Bool {
        switch request.type.method {
        case .allocate: request.requestedTransport != nil
        case .createPermission, .connect: !request.xorPeerAddresses.isEmpty
        case .channelBind: request.channelNumber != nil && !request.xorPeerAddresses.isEmpty
        case .connectionBind: request.connectionID != nil
        default: true
        }
    }

    mutating func countDrop(_ reason: DropReason) {
        statistics.drops[reason, default: 0] += 1
    }

    // MARK: - Client datagrams

    /// A datagram (or framed stream message) from a client on `tuple`. `wallClock` is read only
    /// to check a TURN REST username's expiry.
    public mutating func handleClientDatagram(
        _ bytes: [UInt8], from tuple: FiveTuple, now: EngineInstant, wallClock: UnixTime
    ) -> [TURNServerAction] {
        guard let first = bytes.first else { return [] }
        if ChannelData.isChannelData(first) {
            let route = bytes.withUnsafeBytes { routeChannelData($0, from: tuple, now: now) }
            if case .toPeer(let relay, let peer, let payload) = route {
                return [.sendToPeer(from: relay, to: peer, Array(bytes[payload]))]
            }
            return []
        }
        if tuple.transport == .udp, let transaction = ClassicBinding.transactionID(of: bytes) {
            return [.sendToClient(tuple, ClassicBinding.response(transactionID: transaction, mapped: tuple.client))]
        }
        let message: STUNMessage
        do {
            message = try STUNMessage.decode(bytes)
        } catch {
            countDrop(.malformed)
            return [.event(.malformed(tuple, error))]
        }
        switch message.type.messageClass {
        case .request:
            return handleRequest(message, requestSize: bytes.count, from: tuple, now: now, wallClock: wallClock)
        case .indication:
            if message.type.method == .send { return handleSendIndication(message, from: tuple, now: now) }
            return []
        case .successResponse, .errorResponse:
            return []
        }
    }

    mutating func handleRequest(
        _ request: STUNMessage, requestSize: Int, from tuple: FiveTuple, now: EngineInstant, wallClock: UnixTime
    ) -> [TURNServerAction] {
        let unknown = request.unknownComprehensionRequired
        if !unknown.isEmpty {
            let response = errorResponse(to: request, .unknownAttribute, extra: [.unknownAttributes(unknown)], key: nil)
            // Never answer an unauthenticated request with more than it sent (amplification).
            guard response.count <= requestSize + 24 else { return [] }
            return unauthenticatedReply(response, to: tuple, now: now)
        }
        switch request.type.method {
        case .binding:
            return handleBinding(request, requestSize: requestSize, from: tuple)
        case .allocate, .refresh, .createPermission, .channelBind, .connect, .connectionBind:
            if request.integrityAlgorithm == nil && !TURNServerEngine.hasMandatoryAttributes(request) {
                countDrop(.malformed)
                return []
            }
            let auth = authenticate(request, from: tuple, now: now, wallClock: wallClock)
            switch auth {
            case .reject(let actions):
                return actions
            case .accepted(let context):
                switch request.type.method {
                case .allocate: return handleAllocate(request, context: context, from: tuple, now: now)
                case .refresh: return handleRefresh(request, context: context, from: tuple, now: now)
                case .createPermission: return handleCreatePermission(request, context: context, from: tuple, now: now)
                case .connect: return handleConnect(request, context: context, from: tuple, now: now)
                case .connectionBind: return handleConnectionBind(request, context: context, from: tuple, now: now)
                default: return handleChannelBind(request, context: context, from: tuple, now: now)
                }
            }
        default:
            return unauthenticatedReply(errorResponse(to: request, .badRequest, key: nil), to: tuple, now: now)
        }
    }

    /// Binding (RFC 8489 §6.3.1): XOR-MAPPED-ADDRESS only, plus FINGERPRINT if the request had
    /// one, so the response is never larger than the request plus the mapped address.
    mutating func handleBinding(_ request: STUNMessage, requestSize: Int, from tuple: FiveTuple) -> [TURNServerAction] {
        let response = STUNMessage(
            .binding, .successResponse, transactionID: request.transactionID,
            attributes: [.xorMappedAddress(tuple.client)])
        let bytes = response.encode(fingerprint: request.has(.fingerprint))
        let mappedSize = tuple.client.ip.family == .ipv4 ? 12 : 24
        guard bytes.count <= requestSize + mappedSize else { return [] }
        return [.sendToClient(tuple, bytes)]
    }

    // MARK: - Responses

    func successResponse(to request: STUNMessage, _ attributes: [STUNAttribute], key: [UInt8], integrity: IntegrityAlgorithms) -> [UInt8] {
        var attrs = attributes
        if let software = configuration.software, request.type.method == .allocate { attrs.append(.software(software)) }
        return STUNMessage(request.type.method, .successResponse, transactionID: request.transactionID, attributes: attrs)
            .encode(key: key, integrity: integrity, fingerprint: request.has(.fingerprint))
    }

    func errorResponse(
        to request: STUNMessage, _ error: STUNErrorCode, extra: [STUNAttribute] = [], key: [UInt8]?,
        integrity: IntegrityAlgorithms = .sha1
    ) -> [UInt8] {
        STUNMessage(
            request.type.method, .errorResponse, transactionID: request.transactionID,
            attributes: [.errorCode(error)] + extra
        )
        .encode(key: key, integrity: integrity, fingerprint: request.has(.fingerprint))
    }

    func reject(
        _ request: STUNMessage, _ error: STUNErrorCode, context: AuthContext, from tuple: FiveTuple,
        extra: [STUNAttribute] = []
    ) -> [TURNServerAction] {
        [
            .sendToClient(tuple, errorResponse(to: request, error, extra: extra, key: context.key, integrity: context.integrity)),
            .event(.requestRejected(tuple, method: request.type.method, code: error.code)),
        ]
    }
}
