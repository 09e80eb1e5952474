import STUN

extension TURNServerEngine {
    /// Refresh (RFC 8656 §8.2): lifetime 0 deletes; otherwise the lifetime is renewed.
    mutating func handleRefresh(_ request: STUNMessage, context: AuthContext, from tuple: FiveTuple, now: Timestamp) -> [TURNServerAction] {
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
        allocations[tuple]?.expiry = now + Double(lifetime)
        scheduleDeadline(now + Double(lifetime))
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
    mutating func handleCreatePermission(_ request: STUNMessage, context: AuthContext, from tuple: FiveTuple, now: Timestamp) -> [TURNServerAction] {
        if let failure = requireAllocation(request, context: context, from: tuple) { return failure }
        let peers = request.xorPeerAddresses
        guard !peers.isEmpty else { return reject(request, .badRequest, context: context, from: tuple) }
        guard let allocation = allocations[tuple] else { return [] }
        for peer in peers where allocation.relay(for: peer.ip.family) == nil {
            return reject(request, .peerAddressFamilyMismatch, context: context, from: tuple)
        }
        for peer in peers where !configuration.peerFilter.allows(peer.ip) {
            return reject(request, .forbidden, context: context, from: tuple) + [.event(.peerDenied(tuple, peer: peer.ip))]
        }
        var events: [TURNServerAction] = []
        for peer in peers {
            setPermission(tuple, peer.ip, expiry: now + configuration.permissionLifetime)
            events.append(.event(.permissionCreated(tuple, peer: peer.ip)))
        }
        scheduleDeadline(now + configuration.permissionLifetime)
        return [.sendToClient(tuple, successResponse(to: request, [], key: context.key, integrity: context.integrity))] + events
    }

    /// Installs or refreshes the permission for `ip` (RFC 8656 §9) in the allocation, the
    /// permission index and the routes of the channels bound to peers at that IP.
    mutating func setPermission(_ tuple: FiveTuple, _ ip: IPAddress, expiry: Timestamp) {
        guard let allocation = allocations[tuple] else { return }
        allocations[tuple]?.permissions[ip] = expiry
        permissionIndex[PermissionKey(tuple: tuple, ip: ip)] = expiry
        for (number, channel) in allocation.channels where channel.peer.ip == ip {
            channelRoutes[ChannelKey(tuple: tuple, number: number)]?.permissionExpiry = expiry
            if let relay = allocation.relay(for: ip.family) {
                peerRoutes[PeerKey(relay: relay, peer: channel.peer)]?.permissionExpiry = expiry
            }
        }
    }

    /// ChannelBind (RFC 8656 §11.2): number in 0x4000-0x4FFF, a number bound to one peer and a
    /// peer to one number (including during the cooldown after expiry), installs or refreshes
    /// the permission too.
    mutating func handleChannelBind(_ request: STUNMessage, context: AuthContext, from tuple: FiveTuple, now: Timestamp) -> [TURNServerAction] {
        if let failure = requireAllocation(request, context: context, from: tuple) { return failure }
        guard let number = request.channelNumber, configuration.channelNumbers.contains(number),
              let peer = request.xorPeerAddresses.first, let allocation = allocations[tuple], !allocation.tcp else {
            // A TCP allocation has no channels (RFC 6062 §3).
            return reject(request, .badRequest, context: context, from: tuple)
        }
        if let bound = allocation.channels[number], bound.peer != peer {
            return reject(request, .badRequest, context: context, from: tuple)
        }
        if let boundNumber = allocation.channelByPeer[peer], boundNumber != number {
            return reject(request, .badRequest, context: context, from: tuple)
        }
        guard allocation.relay(for: peer.ip.family) != nil else {
            return reject(request, .peerAddressFamilyMismatch, context: context, from: tuple)
        }
        guard configuration.peerFilter.allows(peer.ip) else {
            return reject(request, .forbidden, context: context, from: tuple) + [.event(.peerDenied(tuple, peer: peer.ip))]
        }
        allocations[tuple]?.channels[number] = Allocation.Channel(peer: peer, expiry: now + configuration.channelLifetime)
        allocations[tuple]?.channelByPeer[peer] = number
        let permissionExpiry = now + configuration.permissionLifetime
        if let relay = allocation.relay(for: peer.ip.family) {
            let expiry = now + configuration.channelLifetime
            channelRoutes[ChannelKey(tuple: tuple, number: number)] = ChannelRoute(peer: peer, relay: relay, expiry: expiry,
                                                                                permissionExpiry: permissionExpiry)
            peerRoutes[PeerKey(relay: relay, peer: peer)] = PeerRoute(number: number, expiry: expiry, tuple: tuple,
                                                                      permissionExpiry: permissionExpiry)
        }
        setPermission(tuple, peer.ip, expiry: permissionExpiry)
        scheduleDeadline(now + configuration.permissionLifetime)
        return [.sendToClient(tuple, successResponse(to: request, [], key: context.key, integrity: context.integrity)),
                .event(.channelBound(tuple, channel: number, peer: peer))]
    }
}
