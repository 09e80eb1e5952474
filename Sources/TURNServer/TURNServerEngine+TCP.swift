import CryptoPrimitives
import EngineTime
import STUN

/// One peer TCP connection of a TCP allocation (RFC 6062 §3): made by Connect or accepted
/// on the relayed address, then joined to a client data connection by ConnectionBind.
struct PeerConnection: Sendable {
    enum State: Sendable {
        /// Connect sent to the driver; the request waits for the outcome (§5.2).
        case connecting(transaction: TransactionID, key: [UInt8], integrity: IntegrityAlgorithms, fingerprint: Bool)
        /// Up, waiting for ConnectionBind until the deadline (§5.2, §5.3: 30 s).
        case awaitingBind(deadline: EngineInstant)
        /// Joined to the client data connection on this 5-tuple (§5.4).
        case joined(FiveTuple)
    }

    let owner: FiveTuple
    let relay: TransportAddress
    let peer: TransportAddress
    var state: State
}

extension TURNServerEngine {
    /// How long a peer connection waits for its ConnectionBind (RFC 6062 §5.2, §5.3).
    public static let connectionBindTimeout: Double = 30

    /// Connect (RFC 6062 §5.2): opens a TCP connection from the relayed address to the peer.
    /// 437 without an allocation, 400 for a UDP allocation or a missing peer, 443 for a family
    /// with no relay, 403 for a filtered peer, 446 when this allocation already has a
    /// connection (or a Connect under way) to the same peer address.
    mutating func handleConnect(_ request: STUNMessage, context: AuthContext, from tuple: FiveTuple, now: EngineInstant)
        -> [TURNServerAction]
    {
        if let failure = requireAllocation(request, context: context, from: tuple) { return failure }
        guard let allocation = allocations[tuple], allocation.tcp, let peer = request.xorPeerAddresses.first else {
            return reject(request, .badRequest, context: context, from: tuple)
        }
        guard let relay = allocation.relay(for: peer.ip.family) else {
            return reject(request, .peerAddressFamilyMismatch, context: context, from: tuple)
        }
        // The relay's own addresses only on relay ports: never its listeners or metrics endpoint.
        guard configuration.peerFilter.allows(peer) else {
            return reject(request, .forbidden, context: context, from: tuple) + [.event(.peerDenied(tuple, peer: peer.ip))]
        }
        if peerConnections.contains(owner: tuple, peer: peer) {
            return reject(request, .connectionAlreadyExists, context: context, from: tuple)
        }
        // Local policy (RFC 6062 §5.2): 403.
        guard peerConnectionCount(of: tuple) < configuration.maxPeerConnectionsPerAllocation else {
            return reject(request, .forbidden, context: context, from: tuple)
        }
        let id = newPeerConnectionID()
        peerConnections.insert(
            PeerConnection(
                owner: tuple, relay: relay, peer: peer,
                state: .connecting(
                    transaction: request.transactionID, key: context.key,
                    integrity: context.integrity, fingerprint: request.has(.fingerprint))),
            id: id)
        return [.connectToPeer(id, from: relay, to: peer)]
    }

    /// The driver's connection to the peer is up: Connect succeeds with CONNECTION-ID and the
    /// 30 s wait for ConnectionBind starts (RFC 6062 §5.2).
    public mutating func peerConnectionEstablished(_ id: PeerConnectionID, now: EngineInstant) -> [TURNServerAction] {
        // Gone meanwhile (its allocation ended): the driver's new connection must close.
        guard let connection = peerConnections[id],
            case .connecting(let transaction, let key, let integrity, let fingerprint) = connection.state
        else {
            return [.closePeerConnection(id)]
        }
        guard allocations[connection.owner] != nil else {
            peerConnections.remove(id)
            return [.closePeerConnection(id)]
        }
        let deadline = now + .seconds(TURNServerEngine.connectionBindTimeout)
        peerConnections.update(id, to: .awaitingBind(deadline: deadline))
        schedule(.peerConnection(id), at: deadline)
        statistics.peerConnectionsConnected += 1
        let response = STUNMessage(.connect, .successResponse, transactionID: transaction, attributes: [.connectionID(id)])
            .encode(key: key, integrity: integrity, fingerprint: fingerprint)
        return [
            .sendToClient(connection.owner, response),
            .event(.peerConnectionOpened(connection.owner, id, peer: connection.peer, outgoing: true)),
        ]
    }

    /// The driver could not reach the peer (refused, unreachable, or no answer in 30 s):
    /// Connect fails with 447 (RFC 6062 §5.2).
    public mutating func peerConnectionFailed(_ id: PeerConnectionID, now: EngineInstant) -> [TURNServerAction] {
        guard let connection = peerConnections[id],
            case .connecting(let transaction, let key, let integrity, let fingerprint) = connection.state
        else { return [] }
        peerConnections.remove(id)
        statistics.peerConnectionsFailed += 1
        guard allocations[connection.owner] != nil else { return [] }
        let response = STUNMessage(
            .connect, .errorResponse, transactionID: transaction,
            attributes: [.errorCode(.connectionTimeoutOrFailure)]
        )
        .encode(key: key, integrity: integrity, fingerprint: fingerprint)
        return [
            .sendToClient(connection.owner, response),
            .event(.requestRejected(connection.owner, method: .connect, code: STUNErrorCode.connectionTimeoutOrFailure.code)),
            .event(.peerConnectionClosed(connection.owner, id, reason: .connectFailed)),
        ]
    }

    /// A peer opened a TCP connection to a relayed address (RFC 6062 §5.3). With a TCP
    /// allocation there and a permission for the peer's IP, the client hears of it by a
    /// ConnectionAttempt indication and the connection's ID is returned; otherwise nil, and the
    /// driver closes the connection at once.
    public mutating func peerConnectionAccepted(
        from peer: TransportAddress, on relay: TransportAddress,
        now: EngineInstant
    ) -> (id: PeerConnectionID?, actions: [TURNServerAction]) {
        guard let tuple = relayOwners[relay], let allocation = allocations[tuple], allocation.tcp,
            allocation.pendingResponse == nil
        else {
            countDrop(.noAllocation)
            return (nil, [])
        }
        guard configuration.peerFilter.allows(peer) else {
            countDrop(.peerDenied)
            return (nil, [.event(.peerDenied(tuple, peer: peer.ip))])
        }
        guard allocation.hasPermission(peer.ip, now: now) else {
            countDrop(.noPermission)
            return (nil, [])
        }
        guard peerConnectionCount(of: tuple) < configuration.maxPeerConnectionsPerAllocation else {
            countDrop(.quota)
            return (nil, [])
        }
        let id = newPeerConnectionID()
        let deadline = now + .seconds(TURNServerEngine.connectionBindTimeout)
        peerConnections.insert(PeerConnection(owner: tuple, relay: relay, peer: peer, state: .awaitingBind(deadline: deadline)), id: id)
        schedule(.peerConnection(id), at: deadline)
        statistics.peerConnectionsAccepted += 1
        let attempt = STUNMessage(.connectionAttempt, .indication, attributes: [.xorPeerAddress(peer), .connectionID(id)]).encode()
        return (id, [.sendToClient(tuple, attempt), .event(.peerConnectionOpened(tuple, id, peer: peer, outgoing: false))])
    }

    /// ConnectionBind (RFC 6062 §5.4): on a new TCP or TLS connection, authenticated as the
    /// allocation's user, naming a peer connection waiting for its bind. The connection becomes
    /// that peer's data connection. 400 over UDP, on a control connection, or for an unknown
    /// or already joined CONNECTION-ID; 441 for another user.
    mutating func handleConnectionBind(_ request: STUNMessage, context: AuthContext, from tuple: FiveTuple, now: EngineInstant)
        -> [TURNServerAction]
    {
        guard tuple.transport != .udp, allocations[tuple] == nil, peerConnections.id(joinedTo: tuple) == nil,
            let id = request.connectionID, let connection = peerConnections[id],
            case .awaitingBind = connection.state, let allocation = allocations[connection.owner]
        else {
            return reject(request, .badRequest, context: context, from: tuple)
        }
        guard allocation.username == context.username else {
            return reject(request, .wrongCredentials, context: context, from: tuple)
        }
        peerConnections.update(id, to: .joined(tuple))
        statistics.peerConnectionsJoined += 1
        return [
            .sendToClient(tuple, successResponse(to: request, [], key: context.key, integrity: context.integrity)),
            .joinDataConnection(id, tuple),
        ]
    }

    /// The peer side of a connection closed, or the driver gave it up: the connection and its
    /// client data connection end (RFC 6062 §5.5).
    public mutating func peerConnectionClosed(_ id: PeerConnectionID, now: EngineInstant) -> [TURNServerAction] {
        guard let connection = peerConnections[id] else { return [] }
        if case .connecting = connection.state { return peerConnectionFailed(id, now: now) }
        peerConnections.remove(id)
        return [.closePeerConnection(id), .event(.peerConnectionClosed(connection.owner, id, reason: .closed))]
    }

    func peerConnectionCount(of tuple: FiveTuple) -> Int {
        peerConnections.ids(ownedBy: tuple).count
    }

    /// Closes the peer connections of the allocation on `tuple` (it is being removed), or the
    /// one whose data connection is `tuple` (that connection closed).
    mutating func closePeerConnections(of tuple: FiveTuple) -> [TURNServerAction] {
        guard !peerConnections.isEmpty else { return [] }
        var actions: [TURNServerAction] = []
        for id in peerConnections.ids(ownedBy: tuple).sorted() {
            guard let connection = peerConnections.remove(id) else { continue }
            actions.append(.closePeerConnection(id))
            actions.append(.event(.peerConnectionClosed(connection.owner, id, reason: .allocationEnded)))
        }
        if let id = peerConnections.id(joinedTo: tuple), let connection = peerConnections.remove(id) {
            actions.append(.closePeerConnection(id))
            actions.append(.event(.peerConnectionClosed(connection.owner, id, reason: .closed)))
        }
        return actions
    }

    /// A random CONNECTION-ID not in use (unpredictable, so another client cannot guess it).
    /// With `connectionIDShard`, the ID is `index` modulo `count`.
    mutating func newPeerConnectionID() -> PeerConnectionID {
        let (index, count) = configuration.connectionIDShard
        let stride = max(count, 1)
        while true {
            let id = PeerConnectionID.random(in: 0...(PeerConnectionID.max - index) / stride) * stride + index
            if id != 0, peerConnections[id] == nil { return id }
        }
    }
}
