import STUN

/// Settings of the allocation engine: realm, relay addresses, lifetimes (RFC 8656 §7.2, §9,
/// §11), quotas and the peer filter.
public struct TURNServerConfiguration: Sendable {
    public var realm: String
    /// The address relayed IPv4 allocations bind to; nil disables IPv4 relays.
    public var relayIPv4: IPAddress?
    /// The address relayed IPv6 allocations bind to (RFC 6156); nil disables IPv6 relays.
    public var relayIPv6: IPAddress?
    /// Behind a 1:1 NAT: the public addresses advertised in XOR-RELAYED-ADDRESS for
    /// allocations relayed on `relayIPv4` / `relayIPv6` (same port); nil advertises the relay address.
    public var externalIPv4: IPAddress?
    public var externalIPv6: IPAddress?
    public var portRange: ClosedRange<UInt16> = 49152...65535
    /// Lifetime granted when the client asks for less (RFC 8656 §7.2: 600 s).
    public var defaultLifetime: UInt32 = 600
    public var maxLifetime: UInt32 = 3600
    public var permissionLifetime: Double = 300
    public var channelLifetime: Double = 600
    /// How long an expired channel's number and peer stay reserved (RFC 8656 §12).
    public var channelCooldown: Double = 300
    /// How long an EVEN-PORT reservation is held (RFC 8656 §14.6 suggests about 30 s).
    public var reservationLifetime: Double = 30
    public var maxAllocations: Int = 10_000
    public var maxAllocationsPerUser: Int = 100
    /// Relayed bytes per second per allocation, each direction counted; nil for no cap.
    public var bandwidthBytesPerSecond: Int?
    public var peerFilter = PeerFilter()
    public var software: String?
    /// When set, Allocate requests are redirected here with 300 Try Alternate (RFC 8489 §10).
    public var alternateServer: TransportAddress?
    public var nonceLifetime: Double = 600
    /// Channel numbers ChannelBind accepts: RFC 8656 §12's 0x4000-0x4FFF by default; set to
    /// `ChannelData.legacyChannelRange` for RFC 5766 clients (such as coturn's test client).
    public var channelNumbers: ClosedRange<UInt16> = ChannelData.channelRange
    /// Whether Allocate may ask for TCP (RFC 6062); when not, REQUESTED-TRANSPORT TCP gets 442.
    public var tcpAllocations = true
    /// Peer TCP connections one TCP allocation may hold at once; Connect beyond it gets 403 and
    /// further peers connecting are closed.
    public var maxPeerConnectionsPerAllocation = 64
    /// Permissions (peer IPs, RFC 8656 §9) one allocation may hold; CreatePermission or
    /// ChannelBind beyond it gets 508.
    public var maxPermissionsPerAllocation = 1000
    /// Channels (RFC 8656 §12, cooling-down ones included) one allocation may hold; ChannelBind
    /// beyond it gets 508.
    public var maxChannelsPerAllocation = 1000
    /// Answers sent to unauthenticated requests (401, 438, 400, 420) per second per source
    /// address (IPv6: per /64), one second's worth at once; nil for no limit. Limits what a
    /// spoofed source can have reflected at a victim.
    public var unauthenticatedRepliesPerSecond: Double? = 20
    /// With several engines behind one listener (one per thread), each makes CONNECTION-IDs
    /// (RFC 6062) equal to `index` modulo `count`, so a ConnectionBind arriving on any thread
    /// can be handed to the engine that owns the connection.
    public var connectionIDShard: (index: UInt32, count: UInt32) = (0, 1)

    public init(realm: String, relayIPv4: IPAddress? = nil, relayIPv6: IPAddress? = nil) {
        self.realm = realm
        self.relayIPv4 = relayIPv4
        self.relayIPv6 = relayIPv6
    }
}
