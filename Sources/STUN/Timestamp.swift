/// A point in time as seconds since the Unix epoch. Engines take it as an argument (`now`) and
/// never read a clock; tests drive them with a virtual clock. Wall-clock based because TURN REST
/// credentials carry a Unix expiry time.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var seconds: Double

    public init(seconds: Double) { self.seconds = seconds }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.seconds < b.seconds }
    public static func + (a: Timestamp, seconds: Double) -> Timestamp { Timestamp(seconds: a.seconds + seconds) }
    public static func - (a: Timestamp, seconds: Double) -> Timestamp { Timestamp(seconds: a.seconds - seconds) }
    public static func - (a: Timestamp, b: Timestamp) -> Double { a.seconds - b.seconds }

    public var description: String { String(seconds) }
}
