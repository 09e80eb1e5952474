import CryptoPrimitives
import EngineTime
import STUN

/// A TURN client (RFC 8656 §7-12), sans-IO: client transactions with retransmission
/// (RFC 8489 §6.2.1), the long-term credential mechanism with 401/438 retries (§9.2.3-9.2.5),
/// automatic refresh of the allocation, permissions and channels, and ChannelData/Send framing.
/// Feed it datagrams from the server and `now`; carry out the returned actions; call
/// `handleTimeout` at `nextDeadline`.
public struct TURNClient: Sendable {
    public struct Configuration: Sendable {
        public var username: String
        public var password: String
        /// Use SHA-256 keys and MESSAGE-INTEGRITY-SHA256 when the server offers them.
        public var preferSHA256 = false
        /// Send USERHASH instead of USERNAME when the server allows anonymity.
        public var useUserhash = false
        public var requestedLifetime: UInt32 = 600
        public var requestedFamily: AddressFamily?
        public var additionalFamily: AddressFamily?
        public var evenPort: Bool?
        public var reservationToken: [UInt8]?
        public var dontFragment = false
        /// Initial retransmission timeout and number of transmissions (RFC 8489 §6.2.1).
        public var rto: Double = 0.5
        public var maxTransmissions = 7
        /// Reliable transport: no retransmissions, one 39.5 s timeout (RFC 8489 §6.2.2).
        public var reliable = false

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    public enum Event: Hashable, Sendable {
        case allocated(relayed: [TransportAddress], mapped: TransportAddress?, lifetime: UInt32, reservationToken: [UInt8]?)
        case refreshed(lifetime: UInt32)
        case deallocated
        case permissionCreated([IPAddress])
        case channelBound(UInt16, TransportAddress)
        case data(from: TransportAddress, [UInt8])
        case failed(STUNMethod, STUNErrorCode)
        case timedOut(STUNMethod)
    }

    public enum Action: Hashable, Sendable {
        /// Send these bytes to the TURN server.
        case send([UInt8])
        case event(Event)
    }

    public enum State: Hashable, Sendable {
        case idle, allocating, allocated, deallocated, failed
    }

    struct Pending: Sendable {
        var method: STUNMethod
        var attributes: [STUNAttribute]
        var bytes: [UInt8]
        var transmissions: Int
        var rto: Double
        var deadline: EngineInstant
        var authRetries: Int
    }

    public var configuration: Configuration
    public private(set) var state: State = .idle
    public private(set) var relayedAddresses: [TransportAddress] = []
    public private(set) var realm: String?
    var nonce: String?
    var serverAlgorithms: [PasswordAlgorithm]?
    var algorithm: PasswordAlgorithm = .md5
    var key: [UInt8]?
    var pending: [TransactionID: Pending] = [:]
    var allocationRefreshAt: EngineInstant?
    var permissionRefreshAt: [IPAddress: EngineInstant] = [:]
    var channels: [UInt16: TransportAddress] = [:]
    var channelByPeer: [TransportAddress: UInt16] = [:]
    var channelRefreshAt: [UInt16: EngineInstant] = [:]
    var nextChannel: UInt16 = 0x4000

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The channel bound to `peer`, if any.
    public func channel(for peer: TransportAddress) -> UInt16? { channelByPeer[peer] }

    // MARK: - Requests

    public mutating func allocate(now: EngineInstant) -> [Action] {
        state = .allocating
        var attributes: [STUNAttribute] = [.requestedTransport(17), .lifetime(configuration.requestedLifetime)]
        if let f = configuration.requestedFamily { attributes.append(.requestedAddressFamily(f)) }
        if let f = configuration.additionalFamily { attributes.append(.additionalAddressFamily(f)) }
        if let e = configuration.evenPort { attributes.append(.evenPort(reserveNext: e)) }
        if let t = configuration.reservationToken { attributes.append(.reservationToken(t)) }
        if configuration.dontFragment { attributes.append(.dontFragment) }
        return start(.allocate, attributes, now: now)
    }

    /// Refresh; lifetime 0 deletes the allocation.
    public mutating func refresh(lifetime: UInt32, now: EngineInstant) -> [Action] {
        start(.refresh, [.lifetime(lifetime)], now: now)
    }

    public mutating func createPermission(_ peers: [IPAddress], now: EngineInstant) -> [Action] {
        start(.createPermission, peers.map { .xorPeerAddress(TransportAddress(ip: $0, port: 0)) }, now: now)
    }

    /// Binds `peer` to a channel (the next free number unless `number` is given).
    public mutating func bindChannel(_ peer: TransportAddress, number: UInt16? = nil, now: EngineInstant) -> [Action] {
        let n: UInt16
        if let number {
            n = number
        } else if let existing = channelByPeer[peer] {
            n = existing
        } else {
            n = nextChannel
            nextChannel = nextChannel >= 0x4FFF ? 0x4000 : nextChannel + 1
        }
        return start(.channelBind, [.channelNumber(n), .xorPeerAddress(peer)], now: now)
    }

    /// Frames application data for `peer`: ChannelData when a channel is bound, else a Send
    /// indication (RFC 8656 §11.1, §12.4).
    public func frame(_ data: [UInt8], to peer: TransportAddress) -> [UInt8] {
        if let number = channelByPeer[peer] {
            return ChannelData.encode(channel: number, data: data, padded: configuration.reliable)
        }
        var attributes: [STUNAttribute] = [.xorPeerAddress(peer), .data(data)]
        if configuration.dontFragment { attributes.append(.dontFragment) }
        return STUNMessage(.send, .indication, attributes: attributes).encode()
    }

    mutating func start(_ method: STUNMethod, _ attributes: [STUNAttribute], now: EngineInstant, authRetries: Int = 0) -> [Action] {
        let id = TransactionID.random()
        let bytes = encodeRequest(method, attributes, id: id)
        let rto = configuration.reliable ? 39.5 : configuration.rto
        pending[id] = Pending(
            method: method, attributes: attributes, bytes: bytes, transmissions: 1, rto: rto,
            deadline: now + .seconds(rto), authRetries: authRetries)
        return [.send(bytes)]
    }

    func encodeRequest(_ method: STUNMethod, _ attributes: [STUNAttribute], id: TransactionID) -> [UInt8] {
        var attrs = attributes
        guard let key, let realm, let nonce else {
            return STUNMessage(method, .request, transactionID: id, attributes: attrs).encode(fingerprint: true)
        }
        let anonymous = configuration.useUserhash && nonce.hasPrefix("obMatJos2")
        attrs.append(
            anonymous
                ? .userhash(STUNKey.userhash(username: configuration.username, realm: realm))
                : .username(configuration.username))
        attrs.append(.realm(realm))
        attrs.append(.nonce(nonce))
        if let offered = serverAlgorithms {
            attrs.append(.passwordAlgorithms(offered))
            attrs.append(.passwordAlgorithm(algorithm))
        }
        let integrity: IntegrityAlgorithms = algorithm == .sha256 ? .sha256 : .sha1
        return STUNMessage(method, .request, transactionID: id, attributes: attrs).encode(key: key, integrity: integrity, fingerprint: true)
    }

    // MARK: - Input

    /// A datagram (or framed stream message) from the server.
    public mutating func handle(_ bytes: [UInt8], now: EngineInstant) -> [Action] {
        guard let first = bytes.first else { return [] }
        if ChannelData.isChannelData(first) {
            guard let (number, payload) = try? bytes.withUnsafeBytes({ try ChannelData.parse($0) }),
                let peer = channels[number]
            else { return [] }
            return [.event(.data(from: peer, Array(bytes[payload])))]
        }
        guard let message = try? STUNMessage.decode(bytes) else { return [] }
        switch message.type.messageClass {
        case .indication:
            guard message.type.method == .data, let peer = message.xorPeerAddresses.first, let data = message.data else { return [] }
            return [.event(.data(from: peer, data))]
        case .request:
            return []
        case .successResponse, .errorResponse:
            guard let request = pending[message.transactionID] else { return [] }
            // Responses to authenticated requests must carry valid integrity.
            if let key, message.integrityAlgorithm != nil, message.verifyIntegrity(key: key) == .invalid { return [] }
            pending[message.transactionID] = nil
            if message.type.messageClass == .successResponse {
                return handleSuccess(message, request: request, now: now)
            }
            return handleError(message, request: request, now: now)
        }
    }

    mutating func handleError(_ response: STUNMessage, request: Pending, now: EngineInstant) -> [Action] {
        let error = response.errorCode ?? .serverError
        if (error.code == 401 || error.code == 438), request.authRetries < 2,
            let realm = response.realm ?? self.realm, let nonce = response.nonce
        {
            let firstChallenge = key == nil || error.code == 401
            self.realm = realm
            self.nonce = nonce
            if firstChallenge {
                let offered = response.passwordAlgorithms
                serverAlgorithms = nonce.hasPrefix("obMatJos2") ? offered : nil
                if let offered = serverAlgorithms {
                    algorithm =
                        configuration.preferSHA256 && offered.contains(.sha256) ? .sha256 : (offered.contains(.md5) ? .md5 : offered[0])
                } else {
                    algorithm = .md5
                }
                key = STUNKey.longTerm(
                    username: configuration.username, realm: realm, password: configuration.password, algorithm: algorithm)
            }
            if error.code == 401 && request.authRetries >= 1 {
                return fail(request.method, error)
            }
            return start(request.method, request.attributes, now: now, authRetries: request.authRetries + 1)
        }
        return fail(request.method, error)
    }

    mutating func fail(_ method: STUNMethod, _ error: STUNErrorCode) -> [Action] {
        if method == .allocate { state = .failed }
        return [.event(.failed(method, error))]
    }

    mutating func handleSuccess(_ response: STUNMessage, request: Pending, now: EngineInstant) -> [Action] {
        switch request.method {
        case .allocate:
            state = .allocated
            relayedAddresses = response.xorRelayedAddresses
            let lifetime = response.lifetime ?? 600
            allocationRefreshAt = now + .seconds(refreshDelay(lifetime))
            return [
                .event(
                    .allocated(
                        relayed: relayedAddresses, mapped: response.xorMappedAddress,
                        lifetime: lifetime, reservationToken: response.reservationToken))
            ]
        case .refresh:
            let lifetime = response.lifetime ?? 0
            if lifetime == 0 {
                state = .deallocated
                allocationRefreshAt = nil
                permissionRefreshAt = [:]
                channelRefreshAt = [:]
                return [.event(.deallocated)]
            }
            allocationRefreshAt = now + .seconds(refreshDelay(lifetime))
            return [.event(.refreshed(lifetime: lifetime))]
        case .createPermission:
            var peers: [IPAddress] = []
            for case .xorPeerAddress(let p) in request.attributes {
                peers.append(p.ip)
                permissionRefreshAt[p.ip] = now + .seconds(240)
            }
            return [.event(.permissionCreated(peers))]
        case .channelBind:
            var number: UInt16 = 0
            var peer: TransportAddress?
            for attribute in request.attributes {
                if case .channelNumber(let n) = attribute { number = n }
                if case .xorPeerAddress(let p) = attribute { peer = p }
            }
            guard let peer else { return [] }
            channels[number] = peer
            channelByPeer[peer] = number
            channelRefreshAt[number] = now + .seconds(240)
            permissionRefreshAt[peer.ip] = nil
            return [.event(.channelBound(number, peer))]
        default:
            return []
        }
    }

    /// Refresh a minute before expiry, or at half the lifetime if it is short.
    func refreshDelay(_ lifetime: UInt32) -> Double {
        lifetime > 120 ? Double(lifetime) - 60 : Double(lifetime) / 2
    }

    // MARK: - Timers

    public var nextDeadline: EngineInstant? {
        var next: EngineInstant?
        func consider(_ t: EngineInstant?) { if let t, next.map({ t < $0 }) ?? true { next = t } }
        for p in pending.values { consider(p.deadline) }
        guard state == .allocated else { return next }
        consider(allocationRefreshAt)
        for t in permissionRefreshAt.values { consider(t) }
        for t in channelRefreshAt.values { consider(t) }
        return next
    }

    public mutating func handleTimeout(now: EngineInstant) -> [Action] {
        var actions: [Action] = []
        for (id, var p) in pending where p.deadline <= now {
            if p.transmissions >= (configuration.reliable ? 1 : configuration.maxTransmissions) {
                pending[id] = nil
                if p.method == .allocate { state = .failed }
                actions.append(.event(.timedOut(p.method)))
                continue
            }
            p.transmissions += 1
            p.rto *= 2
            p.deadline = now + .seconds(p.transmissions == configuration.maxTransmissions ? configuration.rto * 16 : p.rto)
            pending[id] = p
            actions.append(.send(p.bytes))
        }
        guard state == .allocated else { return actions }
        if let t = allocationRefreshAt, t <= now {
            allocationRefreshAt = nil
            actions += refresh(lifetime: configuration.requestedLifetime, now: now)
        }
        let duePermissions = permissionRefreshAt.filter { $0.value <= now }.map(\.key)
        if !duePermissions.isEmpty {
            for ip in duePermissions { permissionRefreshAt[ip] = nil }
            actions += createPermission(duePermissions, now: now)
        }
        for (number, t) in channelRefreshAt where t <= now {
            channelRefreshAt[number] = nil
            if let peer = channels[number] { actions += bindChannel(peer, number: number, now: now) }
        }
        return actions
    }
}
