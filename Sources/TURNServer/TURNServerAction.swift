import STUN

/// What the allocation engine asks its driver to do (RFC 8656 server behaviour, sans-IO).
public enum TURNServerAction: Hashable, Sendable {
    /// Send bytes to the client over the 5-tuple's transport.
    case sendToClient(FiveTuple, [UInt8])
    /// Send a UDP datagram from the relayed address to a peer.
    case sendToPeer(from: TransportAddress, to: TransportAddress, [UInt8])
    /// Bind a UDP socket on this relayed address, then call `relayOpened` or `relayFailed`.
    case openRelay(TransportAddress)
    /// Listen for TCP connections on this relayed address (a TCP allocation, RFC 6062 §5.1),
    /// then call `relayOpened`, `relayAddressInUse` or `relayFailed` as for `openRelay`.
    case openTCPRelay(TransportAddress)
    /// Close the relayed address's socket (UDP or TCP listener).
    case closeRelay(TransportAddress)
    /// Open a TCP connection from the relayed address to the peer (RFC 6062 §5.2), giving up
    /// after at least 30 s; then call `peerConnectionEstablished` or `peerConnectionFailed`.
    case connectToPeer(PeerConnectionID, from: TransportAddress, to: TransportAddress)
    /// The client connection on the 5-tuple is now the data connection of this peer
    /// connection (RFC 6062 §5.4): after the response queued before this action, relay bytes
    /// raw both ways, peer bytes buffered so far first.
    case joinDataConnection(PeerConnectionID, FiveTuple)
    /// Close the peer connection and its client data connection, if any (RFC 6062 §5.5).
    case closePeerConnection(PeerConnectionID)
    /// Something worth logging or counting.
    case event(TURNServerEvent)
}

/// Events for logs and metrics. Usernames appear, escaped (`LogText`: no control characters,
/// so a USERNAME cannot forge a log line); passwords and keys never do.
public enum TURNServerEvent: Hashable, Sendable {
    case allocationCreated(FiveTuple, username: String, relays: [TransportAddress], lifetime: UInt32)
    case allocationRefreshed(FiveTuple, lifetime: UInt32)
    case allocationDeleted(FiveTuple, reason: DeletionReason)
    case authenticationFailed(FiveTuple, username: String?, reason: AuthFailure)
    case requestRejected(FiveTuple, method: STUNMethod, code: Int)
    case peerDenied(FiveTuple, peer: IPAddress)
    case permissionCreated(FiveTuple, peer: IPAddress)
    case channelBound(FiveTuple, channel: UInt16, peer: TransportAddress)
    /// A TCP allocation's peer connection was made (outgoing by Connect, or accepted).
    case peerConnectionOpened(FiveTuple, PeerConnectionID, peer: TransportAddress, outgoing: Bool)
    case peerConnectionClosed(FiveTuple, PeerConnectionID, reason: PeerConnectionEnd)
    case malformed(FiveTuple, STUNParseError)
}

public enum DeletionReason: String, Hashable, Sendable {
    case expired, refreshedToZero, relayFailed, shutdown, connectionClosed
}

/// Why a TCP allocation's peer connection ended (RFC 6062 §5.2-5.5).
public enum PeerConnectionEnd: String, Hashable, Sendable {
    case connectFailed, notBound, closed, allocationEnded
}

/// Names one peer TCP connection of a TCP allocation (RFC 6062 §6.2.1 CONNECTION-ID).
public typealias PeerConnectionID = UInt32

public enum AuthFailure: String, Hashable, Sendable {
    case unknownUser, expiredCredential, badIntegrity, staleNonce, missingAttributes, badPasswordAlgorithm
}

/// Why a relayed packet was dropped; each is counted.
public enum DropReason: String, Hashable, Sendable, CaseIterable {
    case noAllocation, noPermission, unknownChannel, peerDenied, bandwidth, malformed, pending
    /// A peer TCP connection beyond the allocation's limit (RFC 6062), closed at once.
    case quota
}

/// Where the driver should send a packet that arrived on the hot path.
public enum ClientDataRoute: Hashable, Sendable {
    /// Send `bytes[payload]` from `relay` to `peer`.
    case toPeer(relay: TransportAddress, peer: TransportAddress, payload: Range<Int>)
    case dropped(DropReason)
}

/// Where a peer's datagram goes: as ChannelData on `channel` or as a Data indication.
public enum PeerDataRoute: Hashable, Sendable {
    case channel(FiveTuple, UInt16)
    case indication(FiveTuple)
    case dropped(DropReason)
}

/// Counters the engine keeps for metrics.
public struct TURNStatistics: Hashable, Sendable {
    public var packetsToPeer: UInt64 = 0
    public var bytesToPeer: UInt64 = 0
    public var packetsToClient: UInt64 = 0
    public var bytesToClient: UInt64 = 0
    /// Of the packets above, those carried in Send and Data indications (RFC 8656 §11); the
    /// rest went as ChannelData (§12).
    public var indicationsToPeer: UInt64 = 0
    public var indicationsToClient: UInt64 = 0
    public var drops: [DropReason: UInt64] = [:]
    public var authFailures: UInt64 = 0
    /// Answers to unauthenticated requests (401, 438, 400, 420) not sent because their source
    /// address had had its share (`unauthenticatedRepliesPerSecond`).
    public var unauthenticatedRepliesLimited: UInt64 = 0
    /// Authentication failures not reported as events (log lines) because their source had
    /// had its share; `authFailures` counts them all.
    public var authFailureEventsSuppressed: UInt64 = 0
    public var allocationsCreated: UInt64 = 0
    public var allocationsDeleted: UInt64 = 0
    /// TCP allocations' peer connections (RFC 6062): opened by Connect, accepted from peers
    /// (and announced with ConnectionAttempt), Connects that failed (447), joined to a client
    /// data connection by ConnectionBind.
    public var peerConnectionsConnected: UInt64 = 0
    public var peerConnectionsAccepted: UInt64 = 0
    public var peerConnectionsFailed: UInt64 = 0
    public var peerConnectionsJoined: UInt64 = 0

    public init() {}
}
