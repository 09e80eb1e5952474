import EngineTime

extension EngineInstant {
    /// The duration in seconds, for nonce expiry and LIFETIME values.
    var inSeconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }

    /// `self > other`, inlined: the standard library's `Duration` comparison is a call (about
    /// 4 ns against 1 ns), and routing a packet makes two or three.
    @inline(__always) func isAfter(_ other: EngineInstant) -> Bool { attoseconds > other.attoseconds }

    /// Seconds from `earlier` to `self`, inlined, for the token buckets a capped allocation
    /// takes from per packet. Exact where the seconds are (half a second is 0.5).
    @inline(__always) func seconds(since earlier: EngineInstant) -> Double {
        let d = attoseconds &- earlier.attoseconds
        return (Double(Int64(truncatingIfNeeded: d >> 64)) * 0x1p64 + Double(UInt64(truncatingIfNeeded: d))) / 1e18
    }
}
