import CryptoPrimitives
import EngineTime
import STUN

extension TURNServerEngine {
    /// Allocate (RFC 8656 §7.2, RFC 6156 §4, RFC 8656 §7.2 EVEN-PORT/RESERVATION-TOKEN).
    mutating func handleAllocate(_ request: STUNMessage, context: AuthContext, from tuple: FiveTuple, now: EngineInstant)
        -> [TURNServerAction]
    {
        // Retransmission of the request that created the allocation: same answer again.
        if let existing = allocations[tuple] {
            if existing.allocateTransaction == request.transactionID {
                return existing.pendingResponse != nil ? [] : [.sendToClient(tuple, existing.allocateResponse)]
            }
            return reject(request, .allocationMismatch, context: context, from: tuple)
        }
        if let alternate = configuration.alternateServer {
            return reject(request, .tryAlternate, context: context, from: tuple, extra: [.alternateServer(alternate)])
        }
        guard let transport = request.requestedTransport else { return reject(request, .badRequest, context: context, from: tuple) }
        guard transport == 17 || (transport == 6 && configuration.tcpAllocations) else {
            return reject(request, .unsupportedTransportProtocol, context: context, from: tuple)
        }
        let tcp = transport == 6
        let token = request.reservationToken
        let evenPort = request.evenPort
        let requestedFamily = request.requestedAddressFamily
        let additionalFamily = request.additionalAddressFamily
        // A TCP allocation (RFC 6062 §5.1) needs a stream client connection, and takes neither
        // port reservations nor DONT-FRAGMENT; it relays one address family.
        if tcp && (tuple.transport == .udp || token != nil || evenPort != nil || request.has(.dontFragment) || additionalFamily != nil) {
            return reject(request, .badRequest, context: context, from: tuple)
        }
        if token != nil && (evenPort != nil || requestedFamily != nil || additionalFamily != nil) {
            return reject(request, .badRequest, context: context, from: tuple)
        }
        if requestedFamily != nil && additionalFamily != nil {
            return reject(request, .badRequest, context: context, from: tuple)
        }
        if let additionalFamily, additionalFamily != .ipv6 {
            return reject(request, .badRequest, context: context, from: tuple)
        }
        if draining || allocations.count >= configuration.maxAllocations {
            return reject(request, .insufficientCapacity, context: context, from: tuple)
        }
        if allocationsPerUser[context.quotaKey, default: 0] >= configuration.maxAllocationsPerUser {
            return reject(request, .allocationQuotaReached, context: context, from: tuple)
        }

        var relays: [TransportAddress] = []
        var extra: [STUNAttribute] = []
        var reservedNext: UInt64?
        if let token {
            let tokenValue = token.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard let reservation = reservations.removeValue(forKey: tokenValue), reservation.expiry > now else {
                return reject(request, .insufficientCapacity, context: context, from: tuple)
            }
            relays = [reservation.relay]
        } else {
            let family = requestedFamily ?? .ipv4
            guard let ip = relayIP(for: family) else {
                return reject(request, .addressFamilyNotSupported, context: context, from: tuple)
            }
            if let reserveNext = evenPort {
                guard let port = pickEvenPort(on: ip, reserveNext: reserveNext) else {
                    return reject(request, .insufficientCapacity, context: context, from: tuple)
                }
                relays = [TransportAddress(ip: ip, port: port)]
                if reserveNext {
                    let tokenBytes = SecureRandom.bytes(8)
                    let value = tokenBytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
                    let next = TransportAddress(ip: ip, port: port + 1)
                    reservations[value] = (next, now + .seconds(configuration.reservationLifetime))
                    reservedNext = value
                    schedule(.reservation(value), at: now + .seconds(configuration.reservationLifetime))
                    extra.append(.reservationToken(tokenBytes))
                }
            } else {
                guard let port = pickPort(on: ip) else {
                    return reject(request, .insufficientCapacity, context: context, from: tuple)
                }
                relays = [TransportAddress(ip: ip, port: port)]
            }
            if additionalFamily == .ipv6 {
                if let ip6 = configuration.relayIPv6, let port = pickPort(on: ip6) {
                    relays.append(TransportAddress(ip: ip6, port: port))
                } else {
                    extra.append(.addressErrorCode(family: .ipv6, error: .addressFamilyNotSupported))
                }
            }
        }

        let lifetime = grantedLifetime(request.lifetime)
        var allocation = Allocation(
            tuple: tuple, username: context.username, key: context.key, integrity: context.integrity,
            relays: relays, expiry: now + .seconds(lifetime), allocateTransaction: request.transactionID)
        if let rate = configuration.bandwidthBytesPerSecond { allocation.bucket = TokenBucket(rate: rate, now: now) }
        allocation.quotaKey = context.quotaKey
        allocation.responseExtra = extra
        allocation.grantedLifetime = lifetime
        allocation.responseFingerprint = request.has(.fingerprint)
        allocation.portsMovable = token == nil
        allocation.evenPort = evenPort != nil
        allocation.reservedNext = reservedNext
        allocation.tcp = tcp
        let response = allocateSuccess(allocation)
        allocation.allocateResponse = response
        allocation.pendingResponse = response
        allocation.pendingRelays = Set(relays)
        allocations[tuple] = allocation
        for relay in relays { relayOwners[relay] = tuple }
        allocationsPerUser[context.quotaKey, default: 0] += 1
        schedule(.allocation(tuple), at: allocation.expiry)
        return relays.map { tcp ? .openTCPRelay($0) : .openRelay($0) }
    }

    /// The Allocate success response (RFC 8656 §7.3) for `allocation`'s current relays.
    func allocateSuccess(_ allocation: Allocation) -> [UInt8] {
        var attributes: [STUNAttribute] =
            allocation.relays.map { .xorRelayedAddress(advertised($0)) } + allocation.responseExtra
            + [.lifetime(allocation.grantedLifetime), .xorMappedAddress(allocation.tuple.client)]
        if let software = configuration.software { attributes.append(.software(software)) }
        return STUNMessage(.allocate, .successResponse, transactionID: allocation.allocateTransaction, attributes: attributes)
            .encode(key: allocation.key, integrity: allocation.integrity, fingerprint: allocation.responseFingerprint)
    }

    /// The address clients are given for `relay`: its external (NAT) address when configured.
    func advertised(_ relay: TransportAddress) -> TransportAddress {
        let external = relay.ip.family == .ipv4 ? configuration.externalIPv4 : configuration.externalIPv6
        return external.map { TransportAddress(ip: $0, port: relay.port) } ?? relay
    }

    /// How many other ports an allocation tries when its relayed port is taken.
    static let maximumBindRetries = 8

    /// The driver could not bind the relayed address because another socket holds it (the
    /// relay port range may overlap the system's ephemeral ports or another service's): the
    /// allocation moves to another free port (another even one for EVEN-PORT, whose reserved
    /// odd neighbour moves with it), up to `maximumBindRetries` times, then fails with 508 like
    /// `relayFailed`. A port fixed by a RESERVATION-TOKEN does not move.
    public mutating func relayAddressInUse(_ relay: TransportAddress, now: EngineInstant) -> [TURNServerAction] {
        guard let tuple = relayOwners[relay], var allocation = allocations[tuple], allocation.pendingResponse != nil,
            allocation.portsMovable, allocation.bindRetries < TURNServerEngine.maximumBindRetries
        else {
            return relayFailed(relay, now: now)
        }
        let picked =
            allocation.evenPort
            ? pickEvenPort(on: relay.ip, reserveNext: allocation.reservedNext != nil)
            : pickPort(on: relay.ip)
        guard let port = picked else { return relayFailed(relay, now: now) }
        usedPorts[relay.ip]?.remove(relay.port)
        if let token = allocation.reservedNext, var reservation = reservations[token] {
            usedPorts[relay.ip]?.remove(reservation.relay.port)
            reservation.relay = TransportAddress(ip: relay.ip, port: port + 1)
            reservations[token] = reservation
        }
        relayOwners[relay] = nil
        let moved = TransportAddress(ip: relay.ip, port: port)
        relayOwners[moved] = tuple
        allocation.relays = allocation.relays.map { $0 == relay ? moved : $0 }
        allocation.pendingRelays.remove(relay)
        allocation.pendingRelays.insert(moved)
        allocation.bindRetries += 1
        let response = allocateSuccess(allocation)
        allocation.allocateResponse = response
        allocation.pendingResponse = response
        allocations[tuple] = allocation
        return [allocation.tcp ? .openTCPRelay(moved) : .openRelay(moved)]
    }

    func relayIP(for family: AddressFamily) -> IPAddress? {
        family == .ipv4 ? configuration.relayIPv4 : configuration.relayIPv6
    }

    func grantedLifetime(_ requested: UInt32?) -> UInt32 {
        let asked = requested ?? configuration.defaultLifetime
        return min(max(asked, configuration.defaultLifetime), configuration.maxLifetime)
    }

    /// A free port in the configured range, chosen at random (RFC 8656 §7.2 asks for
    /// unpredictable ports), then by scan.
    mutating func pickPort(on ip: IPAddress) -> UInt16? {
        let range = configuration.portRange
        var used = usedPorts[ip, default: []]
        defer { usedPorts[ip] = used }
        guard used.count < range.count else { return nil }
        for _ in 0..<16 {
            let p = UInt16.random(in: range)
            if !used.contains(p) { used.insert(p); return p }
        }
        var p = UInt16.random(in: range)
        for _ in 0..<range.count {
            if !used.contains(p) {
                used.insert(p)
                return p
            }
            p = p == range.upperBound ? range.lowerBound : p + 1
        }
        return nil
    }

    /// An even port (and, with `reserveNext`, the odd one above it also free).
    mutating func pickEvenPort(on ip: IPAddress, reserveNext: Bool) -> UInt16? {
        let range = configuration.portRange
        var used = usedPorts[ip, default: []]
        defer { usedPorts[ip] = used }
        let low = range.lowerBound % 2 == 0 ? range.lowerBound : range.lowerBound + 1
        guard low < range.upperBound else { return nil }
        let count = (Int(range.upperBound) - Int(low)) / 2 + 1
        var index = Int.random(in: 0..<count)
        for _ in 0..<count {
            let p = UInt16(Int(low) + 2 * index)
            index = (index + 1) % count
            guard !used.contains(p) else { continue }
            if reserveNext {
                guard p < range.upperBound, !used.contains(p + 1) else { continue }
                used.insert(p + 1)
            }
            used.insert(p)
            return p
        }
        return nil
    }

    /// The driver bound the relayed address's socket.
    public mutating func relayOpened(_ relay: TransportAddress, now: EngineInstant) -> [TURNServerAction] {
        guard let tuple = relayOwners[relay], var allocation = allocations[tuple] else { return [.closeRelay(relay)] }
        allocation.pendingRelays.remove(relay)
        guard allocation.pendingRelays.isEmpty, let response = allocation.pendingResponse else {
            allocations[tuple] = allocation
            return []
        }
        allocation.pendingResponse = nil
        allocations[tuple] = allocation
        statistics.allocationsCreated += 1
        let lifetime = UInt32(max(0, (allocation.expiry - now).inSeconds.rounded()))
        return [
            .sendToClient(tuple, response),
            .event(.allocationCreated(tuple, username: LogText.escape(allocation.username), relays: allocation.relays, lifetime: lifetime)),
        ]
    }

    /// The driver could not bind the relayed address: the allocation fails with 508.
    public mutating func relayFailed(_ relay: TransportAddress, now: EngineInstant) -> [TURNServerAction] {
        guard let tuple = relayOwners[relay], let allocation = allocations[tuple] else { return [] }
        var actions: [TURNServerAction] = []
        if allocation.pendingResponse != nil, let request = try? STUNMessage.decode(allocation.allocateResponse) {
            let response = STUNMessage(
                .allocate, .errorResponse, transactionID: request.transactionID,
                attributes: [.errorCode(.insufficientCapacity)]
            )
            .encode(key: allocation.key, integrity: allocation.integrity)
            actions.append(.sendToClient(tuple, response))
            // The client never learns the token: the odd port it reserved is free again.
            if let token = allocation.reservedNext, let reservation = reservations.removeValue(forKey: token) {
                usedPorts[reservation.relay.ip]?.remove(reservation.relay.port)
            }
        }
        actions += removeAllocation(tuple, reason: .relayFailed, closing: allocation.relays.filter { $0 != relay })
        return actions
    }

    /// Removes an allocation and frees its ports; returns close actions for `closing`.
    mutating func removeAllocation(_ tuple: FiveTuple, reason: DeletionReason, closing: [TransportAddress]? = nil) -> [TURNServerAction] {
        guard let allocation = allocations.removeValue(forKey: tuple) else { return [] }
        for ip in allocation.permissions.keys { permissionIndex[PermissionKey(tuple: tuple, ip: ip)] = nil }
        for (number, channel) in allocation.channels {
            channelRoutes[ChannelKey(tuple: tuple, number: number)] = nil
            if let relay = allocation.relay(for: channel.peer.ip.family) { peerRoutes[PeerKey(relay: relay, peer: channel.peer)] = nil }
        }
        for relay in allocation.relays {
            relayOwners[relay] = nil
            usedPorts[relay.ip]?.remove(relay.port)
        }
        allocationsPerUser[allocation.quotaKey, default: 1] -= 1
        if allocationsPerUser[allocation.quotaKey] == 0 { allocationsPerUser[allocation.quotaKey] = nil }
        // The odd port EVEN-PORT reserved (RFC 8656 §7.2) goes with the allocation.
        if let token = allocation.reservedNext, let reservation = reservations.removeValue(forKey: token) {
            usedPorts[reservation.relay.ip]?.remove(reservation.relay.port)
        }
        if allocation.pendingResponse == nil { statistics.allocationsDeleted += 1 }
        return closePeerConnections(of: tuple) + (closing ?? allocation.relays).map { .closeRelay($0) }
            + [.event(.allocationDeleted(tuple, reason: reason))]
    }
}
