/// A 64-bit NTP timestamp (RFC 3550 §4; RFC 5905 §6): seconds since 1900 and a binary fraction.
public struct NTPTimestamp: Equatable, Hashable, Sendable {
    public var seconds: UInt32
    public var fraction: UInt32

    public init(seconds: UInt32, fraction: UInt32) {
        self.seconds = seconds
        self.fraction = fraction
    }

    /// Seconds between the NTP epoch (1900) and the Unix epoch (1970).
    public static let unixEpochOffset: UInt64 = 2_208_988_800

    /// From a duration since the Unix epoch (the caller reads the wall clock).
    public init(sinceUnixEpoch d: Duration) {
        let (s, atto) = d.components
        seconds = UInt32(truncatingIfNeeded: UInt64(max(0, s)) &+ Self.unixEpochOffset)
        // attoseconds (1e-18) to a 2^-32 fraction.
        fraction = UInt32(truncatingIfNeeded: (UInt64(max(0, atto)) / 1_000_000_000) << 32 / 1_000_000_000)
    }

    /// This time plus `d` (which may be negative), wrapping as NTP time does in 2036.
    public func advanced(by d: Duration) -> NTPTimestamp {
        let (s, atto) = d.components
        // attoseconds to 2^-32 units: atto * 2^32 / 1e18, in two steps to stay within 64 bits.
        let units = s &* (1 << 32) &+ (atto / 1_000_000_000) &* (1 << 32) / 1_000_000_000
        let value = (UInt64(seconds) << 32 | UInt64(fraction)) &+ UInt64(bitPattern: units)
        return NTPTimestamp(seconds: UInt32(truncatingIfNeeded: value >> 32), fraction: UInt32(truncatingIfNeeded: value))
    }

    /// The middle 32 bits, as LSR and DLSR use them (RFC 3550 §6.4.1): 16.16 fixed-point seconds.
    public var compact: UInt32 { (seconds << 16) | (fraction >> 16) }
}

/// Round-trip time from a report block (RFC 3550 §6.4.1, Figure 2): A - LSR - DLSR, where A is the
/// compact NTP time at which the report arrived. Nil when the block names no sender report.
public func rtcpRoundTripTime(block: RTCPReportBlock, arrival: NTPTimestamp) -> Duration? {
    guard block.lastSenderReport != 0 else { return nil }
    let units = Int64(Int32(bitPattern: arrival.compact &- block.lastSenderReport &- block.delaySinceLastSenderReport))
    guard units >= 0 else { return nil }
    return compactNTPToDuration(UInt32(units))
}

/// 16.16 fixed-point seconds to a `Duration`.
func compactNTPToDuration(_ units: UInt32) -> Duration {
    .nanoseconds(Int64(units) * 1_000_000_000 / 65_536)
}

/// A `Duration` to 16.16 fixed-point seconds, saturating.
func durationToCompactNTP(_ d: Duration) -> UInt32 {
    let (s, atto) = d.components
    guard s >= 0 else { return 0 }
    let units = s * 65_536 + (atto / 1_000_000_000) * 65_536 / 1_000_000_000
    return UInt32(clamping: units)
}
