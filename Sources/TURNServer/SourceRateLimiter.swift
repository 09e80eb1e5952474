import EngineTime
import STUN

/// Token buckets per source address (an IPv6 source by its /64) in a fixed table of slots, for
/// answers sent without authentication (reflection, RFC 8489 §16.1) and for log lines about
/// failures. Memory is fixed whatever the number of sources: sources whose slot collides share
/// a bucket (an idle bucket is taken over), which only ever limits more. The slot hash is
/// seeded per process, so nobody can aim for a victim's slot. Time is an argument.
public struct SourceRateLimiter: Sendable {
    struct Slot: Sendable {
        var source: IPAddress?
        var tokens: Double
        var last: EngineInstant
    }

    public let rate: Double
    public let burst: Double
    var slots: [Slot]

    /// `rate` events per second per source, `burst` at once; `slots` buckets in all.
    public init(rate: Double, burst: Double, slots: Int = 4096) {
        self.rate = rate
        self.burst = max(burst, 1)
        self.slots = Array(repeating: Slot(source: nil, tokens: max(burst, 1), last: .zero), count: max(slots, 1))
    }

    static func key(_ ip: IPAddress) -> IPAddress {
        if case .v6(let hi, _) = ip { return .v6(hi, 0) }
        return ip
    }

    func slot(of ip: IPAddress) -> Int {
        var hasher = Hasher()
        hasher.combine(SourceRateLimiter.key(ip))
        return Int(UInt(bitPattern: hasher.finalize()) % UInt(slots.count))
    }

    /// Takes one token for `source`; false when its bucket is empty.
    public mutating func allow(_ source: IPAddress, now: EngineInstant) -> Bool {
        let key = SourceRateLimiter.key(source)
        let index = slot(of: key)
        var s = slots[index]
        if now.isAfter(s.last) {
            s.tokens = min(burst, s.tokens + now.seconds(since: s.last) * rate)
            s.last = now
        }
        if s.source != key && s.tokens >= burst { s.source = key }
        defer { slots[index] = s }
        guard s.tokens >= 1 else { return false }
        s.tokens -= 1
        return true
    }
}
