import EngineTime
import STUN

/// Why a ChannelBind was refused (400, 443, 403, 508).
enum ChannelBindRefusal: Error { case bad, family, denied, capacity }

extension TURNServerEngine {
    /// Refresh (RFC 8656 §8.2): lifetime 0 deletes; otherwise the lifetime is renewed.
    mutating func handleRefresh(_ request: STUNMessage, context: AuthContext, from tuple: FiveTuple, now: EngineInstant)
        -> [TURNServerAction]
    {
        guard let allocation = allocations[tuple], allocation.pendingResponse == nil else {
            return reject(request, .allocationMismatch, context: context, from: tuple)
        }
        guard allocation.username == context.username else {
            return reject(request, .wrongCredentials, context: context, from: tuple)
        }
        if let family = request.requestedAddressFamily, allocation.relay(for: family) == nil {
            return reject(request, .peerAddressFamilyMismatch, context: context, from: tuple)
        }
        let requested = request.lifetime ?? configuration.defaultLifetime
        if requested == 0 {
            let response = successResponse(to: request, [.lifetime(0)], key: context.key, integrity: context.integrity)
            return [.sendToClient(tuple, response)] + removeAllocation(tuple, reason: .refreshedToZero)
        }
        let lifetime = grantedLifetime(requested)
        // Its timer entry, now early, re-queues itself for the new expiry when it comes due.
        allocations[tuple]?.expiry = now + .seconds(lifetime)
        let response = successResponse(to: request, [.lifetime(lifetime)], key: context.key, integrity: context.integrity)
        return [.sendToClient(tuple, response), .event(.allocationRefreshed(tuple, lifetime: lifetime))]
    }

    /// Checks common to CreatePermission and ChannelBind: allocation exists, same user.
    func requireAllocation(_ request: STUNMessage, context: AuthContext, from tuple: FiveTuple) -> [TURNServerAction]? {
        guard let allocation = allocations[tuple], allocation.pendingResponse == nil else {
            return reject(request, .allocationMismatch, context: context, from: tuple)
        }
        guard allocation.username == context.username else {
            return reject(request, .wrongCredentials, context: context, from: tuple)
        }
        return nil
    }

    /// CreatePermission (RFC 8656 §10.2): every XOR-PEER-ADDRESS must be acceptable or none is
    /// installed; 403 for filtered peers, 443 for a family with no relay.
    mutating func handleCreatePermission(_ request: STUNMessage, context: AuthContext, from tuple: FiveTuple, now: EngineInstant)
        -> [TURNServerAction]
    {
        if let failure = requireAllocation(request, context: context, from: tuple) { return failure }
        let peers = request.xorPeerAddresses
        guard !peers.isEmpty else { return reject(request, .badRequest, context: context, from: tuple) }
        // Checked on a copy that ends before anything is installed: installing into the
        // allocation while a copy lives would copy its whole permission table per insert.
        let failure: [TURNServerAction]? = {
            guard let allocation = allocations[tuple] else { return [] }
            for peer in peers where allocation.relay(for: peer.ip.family) == nil {
                return reject(request, .peerAddressFamilyMismatch, context: context, from: tuple)
            }
            for peer in peers where !configuration.peerFilter.allows(peer.ip) {
                return reject(request, .forbidden, context: context, from: tuple) + [.event(.peerDenied(tuple, peer: peer.ip))]
            }
            // Local capacity (RFC 8656 §10.2: 508), all or nothing.
            let fresh = Set(peers.map(\.ip)).filter { allocation.permissions[$0] == nil }.count
            if allocation.permissions.count + fresh > configuration.maxPermissionsPerAllocation {
                return reject(request, .insufficientCapacity, context: context, from: tuple)
            }
            return nil
        }()
        if let failure { return failure }
        var events: [TURNServerAction] = []
        for peer in peers {
            setPermission(tuple, peer.ip, expiry: now + .seconds(configuration.permissionLifetime))
            events.append(.event(.permissionCreated(tuple, peer: peer.ip)))
        }
        return [.sendToClient(tuple, successResponse(to: request, [], key: context.key, integrity: context.integrity))] + events
    }

    /// Installs or refreshes the permission for `ip` (RFC 8656 §9) in the allocation, the
    /// permission index and the routes of the channels bound to peers at that IP.
    /// O(1) (plus the channels bound at that IP): the allocation is changed in place, never
    /// copied, and a new permission gets one timer entry (a refresh moves none).
    mutating func setPermission(_ tuple: FiveTuple, _ ip: IPAddress, expiry: EngineInstant) {
        guard allocations[tuple] != nil else { return }
        allocations[tuple]?.permissions[ip] = expiry
        if permissionIndex.updateValue(expiry, forKey: PermissionKey(tuple: tuple, ip: ip)) == nil {
            schedule(.permission(tuple, ip), at: expiry)
        }
        guard let numbers = allocations[tuple]?.channelsByIP[ip], let relay = allocations[tuple]?.relay(for: ip.family) else { return }
        for number in numbers {
            channelRoutes[ChannelKey(tuple: tuple, number: number)]?.permissionExpiry = expiry
            if let peer = allocations[tuple]?.channels[number]?.peer {
                peerRoutes[PeerKey(relay: relay, peer: peer)]?.permissionExpiry = expiry
            }
        }
    }

    /// ChannelBind (RFC 8656 §11.2): number in 0x4000-0x4FFF, a number bound to one peer and a
    /// peer to one number (including during the cooldown after expiry), installs or refreshes
    /// the permission too.
    mutating func handleChannelBind(_ request: STUNMessage, context: AuthContext, from tuple: FiveTuple, now: EngineInstant)
        -> [TURNServerAction]
    {
        if let failure = requireAllocation(request, context: context, from: tuple) { return failure }
        guard let number = request.channelNumber, configuration.channelNumbers.contains(number),
            let peer = request.xorPeerAddresses.first, allocations[tuple]?.tcp == false
        else {
            // A TCP allocation has no channels (RFC 6062 §3).
            return reject(request, .badRequest, context: context, from: tuple)
        }
        // Checked on a copy that ends before the allocation is changed (no table copies).
        var isNew = false
        let checked: Result<TransportAddress, ChannelBindRefusal> = {
            guard let allocation = allocations[tuple] else { return .failure(.bad) }
            if let bound = allocation.channels[number], bound.peer != peer { return .failure(.bad) }
            if let boundNumber = allocation.channelByPeer[peer], boundNumber != number { return .failure(.bad) }
            guard let relay = allocation.relay(for: peer.ip.family) else { return .failure(.family) }
            // The relay's own addresses are peers only on relay ports (the port is fixed here).
            guard configuration.peerFilter.allows(peer) else { return .failure(.denied) }
            isNew = allocation.channels[number] == nil
            if isNew && allocation.channels.count >= configuration.maxChannelsPerAllocation { return .failure(.capacity) }
            if allocation.permissions[peer.ip] == nil && allocation.permissions.count >= configuration.maxPermissionsPerAllocation {
                return .failure(.capacity)
            }
            return .success(relay)
        }()
        let relay: TransportAddress
        switch checked {
        case .success(let r): relay = r
        case .failure(.bad): return reject(request, .badRequest, context: context, from: tuple)
        case .failure(.family): return reject(request, .peerAddressFamilyMismatch, context: context, from: tuple)
        case .failure(.denied):
            return reject(request, .forbidden, context: context, from: tuple) + [.event(.peerDenied(tuple, peer: peer.ip))]
        case .failure(.capacity): return reject(request, .insufficientCapacity, context: context, from: tuple)
        }
        allocations[tuple]?.channels[number] = Allocation.Channel(peer: peer, expiry: now + .seconds(configuration.channelLifetime))
        if isNew {
            allocations[tuple]?.channelByPeer[peer] = number
            allocations[tuple]?.channelsByIP[peer.ip, default: []].append(number)
            schedule(.channel(tuple, number), at: now + .seconds(configuration.channelLifetime) + .seconds(configuration.channelCooldown))
        }
        let permissionExpiry = now + .seconds(configuration.permissionLifetime)
        do {
            let expiry = now + .seconds(configuration.channelLifetime)
            channelRoutes[ChannelKey(tuple: tuple, number: number)] = ChannelRoute(
                peer: peer, relay: relay, expiry: expiry,
                permissionExpiry: permissionExpiry)
            peerRoutes[PeerKey(relay: relay, peer: peer)] = PeerRoute(
                number: number, expiry: expiry, tuple: tuple,
                permissionExpiry: permissionExpiry)
        }
        setPermission(tuple, peer.ip, expiry: permissionExpiry)
        return [
            .sendToClient(tuple, successResponse(to: request, [], key: context.key, integrity: context.integrity)),
            .event(.channelBound(tuple, channel: number, peer: peer)),
        ]
    }
}
