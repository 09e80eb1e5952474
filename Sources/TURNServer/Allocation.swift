import EngineTime
import STUN

/// One allocation's state (RFC 8656 §2.2): relayed addresses, lifetime, permissions (§9),
/// channels (§12), the credentials that created it, and its bandwidth bucket.
struct Allocation: Sendable {
    struct Channel: Sendable {
        var peer: TransportAddress
        var expiry: EngineInstant
    }

    let tuple: FiveTuple
    let username: String
    /// What `user-quota` counts under: the username, or a REST username's name part.
    var quotaKey = ""
    /// Key and algorithm of the request that created the allocation; responses use them.
    var key: [UInt8]
    var integrity: IntegrityAlgorithms
    var relays: [TransportAddress]
    var expiry: EngineInstant
    var permissions: [IPAddress: EngineInstant] = [:]
    var channels: [UInt16: Channel] = [:]
    var channelByPeer: [TransportAddress: UInt16] = [:]
    /// Channel numbers by peer IP, so refreshing a permission finds its channels at once.
    var channelsByIP: [IPAddress: [UInt16]] = [:]
    /// Relays not yet confirmed open, and the response to send once they are.
    var pendingRelays: Set<TransportAddress> = []
    var pendingResponse: [UInt8]?
    var allocateTransaction: TransactionID
    var allocateResponse: [UInt8] = []
    /// What the success response is rebuilt from when a relayed port turns out to be taken
    /// by another process (until the response is sent).
    var responseExtra: [STUNAttribute] = []
    var grantedLifetime: UInt32 = 0
    var responseFingerprint = false
    /// A port fixed by a RESERVATION-TOKEN cannot move to another port.
    var portsMovable = true
    /// EVEN-PORT was asked (RFC 8656 §14.6): a move goes to another even port.
    var evenPort = false
    /// The token of the odd port reserved with EVEN-PORT's R bit; the reservation moves with it.
    var reservedNext: UInt64?
    var bindRetries = 0
    var bucket: TokenBucket?
    /// A TCP allocation (RFC 6062): the relayed address is a TCP listener and peers are
    /// reached by Connect and ConnectionAttempt, never by Send, ChannelBind or ChannelData.
    var tcp = false

    func hasPermission(_ ip: IPAddress, now: EngineInstant) -> Bool {
        if let e = permissions[ip] { return e.isAfter(now) }
        return false
    }

    func relay(for family: AddressFamily) -> TransportAddress? {
        relays.first { $0.ip.family == family }
    }
}

/// Hot-path indexes kept beside the allocations so relaying a packet copies no allocation:
/// plain values only, no reference-counted storage.
struct ChannelKey: Hashable, Sendable {
    var tuple: FiveTuple
    var number: UInt16
}

/// A bound channel, client to peer. The permission's expiry for the peer's IP is copied in
/// (kept current by `setPermission`) so relaying takes one look-up.
struct ChannelRoute: Sendable {
    var peer: TransportAddress
    var relay: TransportAddress
    var expiry: EngineInstant
    var permissionExpiry: EngineInstant
}

struct PeerKey: Hashable, Sendable {
    var relay: TransportAddress
    var peer: TransportAddress
}

/// A bound channel, peer to client: the allocation, the number and both expiries, so a peer's
/// datagram on a channel takes one look-up.
struct PeerRoute: Sendable {
    var number: UInt16
    var expiry: EngineInstant
    var tuple: FiveTuple
    var permissionExpiry: EngineInstant
}

struct PermissionKey: Hashable, Sendable {
    var tuple: FiveTuple
    var ip: IPAddress
}

/// A token bucket for the per-allocation bandwidth cap: `rate` bytes per second, one second
/// of burst.
struct TokenBucket: Sendable {
    let rate: Double
    var tokens: Double
    var last: EngineInstant

    init(rate: Int, now: EngineInstant) {
        self.rate = Double(rate)
        self.tokens = Double(rate)
        self.last = now
    }

    mutating func take(_ bytes: Int, now: EngineInstant) -> Bool {
        if now.isAfter(last) {
            tokens = min(rate, tokens + now.seconds(since: last) * rate)
            last = now
        }
        guard tokens >= Double(bytes) else { return false }
        tokens -= Double(bytes)
        return true
    }
}
