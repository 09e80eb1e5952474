import STUN

extension TURNServerEngine {
    /// How many entries each of the engine's tables holds (RFC 8656 §2.2 allocation state and
    /// the indexes kept beside it). Soak tests use it to show churn leaves nothing behind.
    public struct StateSizes: Hashable, Sendable, CustomStringConvertible {
        public var allocations = 0
        public var relayOwners = 0
        public var usedPorts = 0
        public var reservations = 0
        public var users = 0
        public var channelRoutes = 0
        public var peerRoutes = 0
        public var permissions = 0
        /// TCP allocations' peer connections (RFC 6062).
        public var peerConnections = 0

        public init() {}

        /// True when no table holds anything.
        public var isEmpty: Bool { self == StateSizes() }

        public var description: String {
            "allocations=\(allocations) relayOwners=\(relayOwners) usedPorts=\(usedPorts) reservations=\(reservations) "
                + "users=\(users) channelRoutes=\(channelRoutes) peerRoutes=\(peerRoutes) permissions=\(permissions) "
                + "peerConnections=\(peerConnections)"
        }
    }

    /// The current table sizes.
    public var stateSizes: StateSizes {
        var s = StateSizes()
        s.allocations = allocations.count
        s.relayOwners = relayOwners.count
        s.usedPorts = usedPorts.values.reduce(0) { $0 + $1.count }
        s.reservations = reservations.count
        s.users = allocationsPerUser.count
        s.channelRoutes = channelRoutes.count
        s.peerRoutes = peerRoutes.count
        s.permissions = permissionIndex.count
        s.peerConnections = peerConnections.count
        return s
    }
}
