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

    /// A short key for machine-readable reports: `calls`, `duration`, `max-failures`, `interrupted`.
    public var key: String {
        switch self {
        case .calls: "calls"
        case .duration: "duration"
        case .maxFailures: "max-failures"
        case .interrupted: "interrupted"
        }
    }

    /// `--calls 100 reached`, `--duration 10 s elapsed`, `--max-failures 5 reached`, `interrupted (SIGINT)`.
    public var description: String {
        switch self {
        case .calls(let n): "--calls \(n) reached"
        case .duration(let s): "--duration \(s.formatted) s elapsed"
        case .maxFailures(let n): "--max-failures \(n) reached"
        case .interrupted(let how): "interrupted (\(how))"
        }
    }
}

private extension Double {
    /// `10`, or `2.5`: no trailing `.0`.
    var formatted: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}
