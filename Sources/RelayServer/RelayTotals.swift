import TURNServer

// Sums over data-plane threads: each thread's engine keeps its own counters and tables
// (RFC 8656 §2.2 state, sharded), and the server reports their totals.

extension TURNStatistics {
    static func + (a: TURNStatistics, b: TURNStatistics) -> TURNStatistics {
        var s = a
        s.packetsToPeer += b.packetsToPeer
        s.bytesToPeer += b.bytesToPeer
        s.packetsToClient += b.packetsToClient
        s.bytesToClient += b.bytesToClient
        s.indicationsToPeer += b.indicationsToPeer
        s.indicationsToClient += b.indicationsToClient
        s.drops.merge(b.drops, uniquingKeysWith: +)
        s.authFailures += b.authFailures
        s.unauthenticatedRepliesLimited += b.unauthenticatedRepliesLimited
        s.authFailureEventsSuppressed += b.authFailureEventsSuppressed
        s.allocationsCreated += b.allocationsCreated
        s.allocationsDeleted += b.allocationsDeleted
        s.peerConnectionsConnected += b.peerConnectionsConnected
        s.peerConnectionsAccepted += b.peerConnectionsAccepted
        s.peerConnectionsFailed += b.peerConnectionsFailed
        s.peerConnectionsJoined += b.peerConnectionsJoined
        return s
    }
}

extension TURNServerEngine.StateSizes {
    static func + (a: Self, b: Self) -> Self {
        var s = a
        s.allocations += b.allocations
        s.relayOwners += b.relayOwners
        s.usedPorts += b.usedPorts
        s.reservations += b.reservations
        s.users += b.users
        s.channelRoutes += b.channelRoutes
        s.peerRoutes += b.peerRoutes
        s.permissions += b.permissions
        s.peerConnections += b.peerConnections
        return s
    }
}

extension RelayMetrics {
    func render(_ snapshot: RelayServer.Snapshot) -> String {
        render(
            statistics: snapshot.statistics, allocationCount: snapshot.allocationCount,
            receiveErrorCount: snapshot.receiveErrors, sendErrorCount: snapshot.sendErrors,
            tcp: (snapshot.peerConnections, snapshot.tcpBytesToPeer, snapshot.tcpBytesToClient), kernel: snapshot.kernel,
            kernelRoutes: snapshot.kernelRoutes)
    }
}
