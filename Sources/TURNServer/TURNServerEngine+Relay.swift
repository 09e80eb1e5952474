import EngineTime
import STUN

extension TURNServerEngine {
    /// Send indication (RFC 8656 §11.2-11.3): relayed if a permission exists; otherwise, or
    /// for a filtered peer, silently dropped and counted.
    mutating func handleSendIndication(_ indication: STUNMessage, from tuple: FiveTuple, now: EngineInstant) -> [TURNServerAction] {
        guard let allocation = allocations[tuple], allocation.pendingResponse == nil else { countDrop(.noAllocation); return [] }
        // A TCP allocation reaches peers only by Connect and ConnectionAttempt (RFC 6062 §3).
        guard !allocation.tcp else { countDrop(.noPermission); return [] }
        guard let peer = indication.xorPeerAddresses.first, let data = indication.data else { countDrop(.malformed); return [] }
        guard let relay = allocation.relay(for: peer.ip.family) else { countDrop(.noPermission); return [] }
        guard configuration.peerFilter.allows(peer) else { countDrop(.peerDenied); return [] }
        guard allocation.hasPermission(peer.ip, now: now) else { countDrop(.noPermission); return [] }
        guard takeBandwidth(tuple, data.count, now: now) else { countDrop(.bandwidth); return [] }
        statistics.packetsToPeer += 1
        statistics.bytesToPeer += UInt64(data.count)
        statistics.indicationsToPeer += 1
        return [.sendToPeer(from: relay, to: peer, data)]
    }

    mutating func takeBandwidth(_ tuple: FiveTuple, _ bytes: Int, now: EngineInstant) -> Bool {
        guard allocations[tuple]?.bucket != nil else { return true }
        return allocations[tuple]?.bucket?.take(bytes, now: now) ?? true
    }

    /// Hot path, client to peer: a ChannelData message (RFC 8656 §12.5). Returns where its
    /// payload goes without copying it.
    public mutating func routeChannelData(_ bytes: UnsafeRawBufferPointer, from tuple: FiveTuple, now: EngineInstant) -> ClientDataRoute {
        guard let (number, payload) = try? ChannelData.parse(bytes) else { countDrop(.malformed); return .dropped(.malformed) }
        // Plain-value indexes: no allocation is copied on the hot path.
        guard let route = channelRoutes[ChannelKey(tuple: tuple, number: number)], route.expiry.isAfter(now) else {
            if allocations[tuple] == nil { countDrop(.noAllocation); return .dropped(.noAllocation) }
            countDrop(.unknownChannel)
            return .dropped(.unknownChannel)
        }
        guard route.permissionExpiry.isAfter(now) else {
            countDrop(.noPermission)
            return .dropped(.noPermission)
        }
        if configuration.bandwidthBytesPerSecond != nil, !takeBandwidth(tuple, payload.count, now: now) {
            countDrop(.bandwidth)
            return .dropped(.bandwidth)
        }
        statistics.packetsToPeer += 1
        statistics.bytesToPeer += UInt64(payload.count)
        return .toPeer(relay: route.relay, peer: route.peer, payload: payload)
    }

    /// Hot path, peer to client (RFC 8656 §11.3, §12.6): `length` bytes arrived from `peer`
    /// on `relay`. Returns the channel to use or that a Data indication is needed.
    public mutating func routePeerData(from peer: TransportAddress, to relay: TransportAddress, length: Int, now: EngineInstant)
        -> PeerDataRoute
    {
        // A bound channel with a live permission: one look-up.
        if let route = peerRoutes[PeerKey(relay: relay, peer: peer)], route.expiry.isAfter(now), route.permissionExpiry.isAfter(now) {
            if configuration.bandwidthBytesPerSecond != nil, !takeBandwidth(route.tuple, length, now: now) {
                countDrop(.bandwidth)
                return .dropped(.bandwidth)
            }
            statistics.packetsToClient += 1
            statistics.bytesToClient += UInt64(length)
            return .channel(route.tuple, route.number)
        }
        guard let tuple = relayOwners[relay] else {
            countDrop(.noAllocation)
            return .dropped(.noAllocation)
        }
        guard let permission = permissionIndex[PermissionKey(tuple: tuple, ip: peer.ip)], permission.isAfter(now) else {
            countDrop(.noPermission)
            return .dropped(.noPermission)
        }
        // From the relay's own address, only another allocation's relayed port (not a listener);
        // other addresses passed the address rules when their permission was made.
        guard !configuration.peerFilter.isHost(peer.ip) || configuration.peerFilter.allows(peer) else {
            countDrop(.peerDenied)
            return .dropped(.peerDenied)
        }
        if configuration.bandwidthBytesPerSecond != nil, !takeBandwidth(tuple, length, now: now) {
            countDrop(.bandwidth)
            return .dropped(.bandwidth)
        }
        statistics.packetsToClient += 1
        statistics.bytesToClient += UInt64(length)
        statistics.indicationsToClient += 1
        return .indication(tuple)
    }

    /// A peer's datagram on a relayed address, as actions (general path; the driver may use
    /// `routePeerData` instead to avoid copies).
    public mutating func handlePeerDatagram(_ bytes: [UInt8], from peer: TransportAddress, to relay: TransportAddress, now: EngineInstant)
        -> [TURNServerAction]
    {
        switch routePeerData(from: peer, to: relay, length: bytes.count, now: now) {
        case .dropped:
            return []
        case .channel(let tuple, let number):
            return [.sendToClient(tuple, ChannelData.encode(channel: number, data: bytes, padded: tuple.transport != .udp))]
        case .indication(let tuple):
            return [.sendToClient(tuple, TURNServerEngine.dataIndication(peer: peer, data: bytes))]
        }
    }

    /// A Data indication carrying `data` from `peer` (RFC 8656 §11.3).
    public static func dataIndication(peer: TransportAddress, data: [UInt8]) -> [UInt8] {
        STUNMessage(.data, .indication, attributes: [.xorPeerAddress(peer), .data(data)]).encode()
    }

    // MARK: - Timers

    /// Expires allocations, permissions, channels, reservations and unbound peer connections
    /// due at `now`. Only the timer entries that are due are looked at (O(log n) each), never
    /// every allocation; an entry for something refreshed since goes back for its new time.
    public mutating func handleTimeout(now: EngineInstant) -> [TURNServerAction] {
        var actions: [TURNServerAction] = []
        while let entry = timers.popDue(now) {
            switch entry.item {
            case .allocation(let tuple):
                guard let expiry = allocations[tuple]?.expiry else { continue }
                if expiry <= now {
                    actions += removeAllocation(tuple, reason: .expired)
                } else {
                    schedule(entry.item, at: expiry)
                }
            case .permission(let tuple, let ip):
                let key = PermissionKey(tuple: tuple, ip: ip)
                guard let expiry = permissionIndex[key] else { continue }
                if expiry <= now {
                    permissionIndex[key] = nil
                    allocations[tuple]?.permissions[ip] = nil
                } else {
                    schedule(entry.item, at: expiry)
                }
            case .channel(let tuple, let number):
                guard let channel = allocations[tuple]?.channels[number] else { continue }
                let release = channel.expiry + .seconds(configuration.channelCooldown)
                if release > now {
                    schedule(entry.item, at: release)
                    continue
                }
                allocations[tuple]?.channels[number] = nil
                allocations[tuple]?.channelByPeer[channel.peer] = nil
                allocations[tuple]?.channelsByIP[channel.peer.ip]?.removeAll { $0 == number }
                if allocations[tuple]?.channelsByIP[channel.peer.ip]?.isEmpty == true {
                    allocations[tuple]?.channelsByIP[channel.peer.ip] = nil
                }
                channelRoutes[ChannelKey(tuple: tuple, number: number)] = nil
                if let relay = allocations[tuple]?.relay(for: channel.peer.ip.family) {
                    peerRoutes[PeerKey(relay: relay, peer: channel.peer)] = nil
                }
            case .reservation(let token):
                guard let reservation = reservations[token] else { continue }
                if reservation.expiry <= now {
                    reservations[token] = nil
                    usedPorts[reservation.relay.ip]?.remove(reservation.relay.port)
                } else {
                    schedule(entry.item, at: reservation.expiry)
                }
            case .peerConnection(let id):
                guard let connection = peerConnections[id], case .awaitingBind(let deadline) = connection.state else { continue }
                if deadline <= now {
                    peerConnections.remove(id)
                    actions.append(.closePeerConnection(id))
                    actions.append(.event(.peerConnectionClosed(connection.owner, id, reason: .notBound)))
                } else {
                    schedule(entry.item, at: deadline)
                }
            }
        }
        return actions
    }

    /// Deletes every allocation (shutdown).
    public mutating func removeAll() -> [TURNServerAction] {
        var actions: [TURNServerAction] = []
        for tuple in Array(allocations.keys) { actions += removeAllocation(tuple, reason: .shutdown) }
        return actions
    }
}

extension TURNServerEngine {
    /// The client's TCP or TLS connection closed: its allocation ends (RFC 8656 §3.1).
    /// A closed client data connection ends its peer connection (RFC 6062 §5.5).
    public mutating func clientDisconnected(_ tuple: FiveTuple, now: EngineInstant) -> [TURNServerAction] {
        allocations[tuple] != nil ? removeAllocation(tuple, reason: .connectionClosed) : closePeerConnections(of: tuple)
    }
}
