/// Wall-clock time in seconds since the Unix epoch: what a TURN REST username's expiry is
/// compared with (draft-uberti-behave-turn-rest-00 §2.2; coturn's `use-auth-secret`). The
/// driver reads it and passes it beside `now` with each client message; nothing else in the
/// engine is about the wall clock.
public struct UnixTime: Hashable, Comparable, Sendable {
    public var seconds: Double

    public init(seconds: Double) { self.seconds = seconds }

    public static func < (a: UnixTime, b: UnixTime) -> Bool { a.seconds < b.seconds }
}
