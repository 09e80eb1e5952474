import EngineTime
import STUN

/// A channel the engine lets a kernel fast path relay without it (RFC 8656 §12: a channel bound
/// to `peer` with a live permission for its address), for a UDP client. Until `expires`, the
/// earlier of the channel's and the permission's end, ChannelData from `client` to `server` on
/// `channel` may go out from `relay` to `peer` as plain UDP, and datagrams from `peer` to `relay`
/// back to the client as ChannelData; after it, nothing may.
public struct KernelChannelRoute: Hashable, Sendable {
    public var client: TransportAddress
    public var server: TransportAddress
    public var channel: UInt16
    public var peer: TransportAddress
    public var relay: TransportAddress
    public var expires: EngineInstant

    public init(
        client: TransportAddress, server: TransportAddress, channel: UInt16, peer: TransportAddress,
        relay: TransportAddress, expires: EngineInstant
    ) {
        self.client = client
        self.server = server
        self.channel = channel
        self.peer = peer
        self.relay = relay
        self.expires = expires
    }

    /// The 5-tuple of the client's allocation.
    public var tuple: FiveTuple { FiveTuple(client: client, server: server, transport: .udp) }
}

extension TURNServerEngine {
    /// The channels a kernel fast path may relay at `now`: UDP clients on a specific listening
    /// address, channels bound with a live permission to a peer the peer filter allows (the
    /// client's leg and the peer's leg each of one family; the two may differ, as for an IPv6
    /// client given an IPv4 relayed address). None while a bandwidth cap is set (the engine must
    /// count every byte). Everything else stays with the engine: TCP and TLS clients, Send and
    /// Data indications, listeners on the unspecified address.
    public func kernelChannelRoutes(now: EngineInstant) -> [KernelChannelRoute] {
        guard configuration.bandwidthBytesPerSecond == nil else { return [] }
        var routes: [KernelChannelRoute] = []
        routes.reserveCapacity(channelRoutes.count)
        for (key, route) in channelRoutes {
            let tuple = key.tuple
            guard tuple.transport == .udp, route.expiry > now, route.permissionExpiry > now else { continue }
            guard tuple.server.ip.family == tuple.client.ip.family, route.relay.ip.family == route.peer.ip.family,
                !PeerFilter.isUnspecifiedAddress(tuple.server.ip), configuration.peerFilter.allows(route.peer)
            else { continue }
            routes.append(
                KernelChannelRoute(
                    client: tuple.client, server: tuple.server, channel: key.number, peer: route.peer,
                    relay: route.relay, expires: min(route.expiry, route.permissionExpiry)))
        }
        return routes
    }
}
