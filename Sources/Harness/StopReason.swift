/// What ended the placing of new calls in a run: a limit given on the command line, or an
/// interruption (SIGINT, the `q` key). Calls in flight then drain (within `--drain`).
public enum StopReason: Sendable, Hashable, CustomStringConvertible {
    /// `--calls N`: that many calls (placements, or calls answered in a responder-only run) were made.
    case calls(Int)
    /// `--duration S`: that many seconds of placing calls (pauses left out) went by.
    case duration(Double)
    /// `--max-failures N`: that many calls failed.
    case maxFailures(Int)
    /// Stopped from outside: `how` says by what (`SIGINT`, `q key`).
    case interrupted(String)
    /// `--stop-on-fail P`: the calls placed at `rate` (a step of a `--rate-increase` stair)
    /// failed more than `limit` % (`percent` %).
    case stepFailures(rate: Double, percent: Double, limit: Double)
    /// `--rate-max M`: a `--rate-increase` stair ran its last step, at `M` calls/s.
    case rateMax(Double)

    /// A short key for machine-readable reports: `calls`, `duration`, `max-failures`, `interrupted`,
    /// `stop-on-fail`, `rate-max`.
    public var key: String {
        switch self {
        case .calls: "calls"
        case .duration: "duration"
        case .maxFailures: "max-failures"
        case .interrupted: "interrupted"
        case .stepFailures: "stop-on-fail"
        case .rateMax: "rate-max"
        }
    }

    /// `--calls 100 reached`, `--duration 10 s elapsed`, `--max-failures 5 reached`, `interrupted (SIGINT)`.
    public var description: String {
        switch self {
        case .calls(let n): "--calls \(n) reached"
        case .duration(let s): "--duration \(s.formatted) s elapsed"
        case .maxFailures(let n): "--max-failures \(n) reached"
        case .interrupted(let how): "interrupted (\(how))"
        case .stepFailures(let rate, let percent, let limit):
            "--stop-on-fail \(limit.formatted) %: \(percent.rounded1.formatted) % of the calls at \(rate.formatted) calls/s failed"
        case .rateMax(let rate): "--rate-max \(rate.formatted) calls/s step done"
        }
    }
}

private extension Double {
    /// `10`, or `2.5`: no trailing `.0`.
    var formatted: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
    /// Rounded to one decimal.
    var rounded1: Double { (self * 10).rounded() / 10 }
}
