/// Time as every sans-IO engine sees it: the duration since an origin its driver chose
/// (monotonic: the driver reads `ContinuousClock`, a test its virtual clock). Engines take it
/// as `now` with every input (`handle(_:now:)`, `handleTimeout(now:)`) and report
/// `nextDeadline` in it. What needs the wall clock (XEP-0203 delay stamps, RTCP's NTP times,
/// TURN REST credential expiry) is passed in beside it, never read inside.
public typealias EngineInstant = Duration

extension Duration {
    /// The duration in seconds, for reports and rates (engines keep `Duration` for time itself).
    public var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
