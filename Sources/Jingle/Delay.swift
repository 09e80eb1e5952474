import XMLModel
import XMPPCore

/// Why a XEP-0082 timestamp could not be read; `text` is the input, `reason` what was wrong.
public struct XMPPDateTimeError: Error, Sendable, Hashable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "invalid XEP-0082 DateTime '\(text)': \(reason)" }
}

/// An instant in the XEP-0082 §3.2 DateTime profile, `CCYY-MM-DDThh:mm:ss[.sss]TZD` where TZD is
/// `Z` or `+hh:mm`/`-hh:mm`, held as seconds since 1970-01-01T00:00:00Z. Engines take wall-clock
/// time in this form from their driver (no Foundation `Date`, no clock inside).
public struct XMPPDateTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var secondsSince1970: Double

    public init(secondsSince1970: Double) {
        self.secondsSince1970 = secondsSince1970
    }

    public static func < (a: Self, b: Self) -> Bool { a.secondsSince1970 < b.secondsSince1970 }

    /// Parses the DateTime profile; the fraction may have any number of digits, `t`/`z` are
    /// accepted in lower case (RFC 3339 §5.6), a leap second `60` counts as the next second.
    public init(parsing text: String) throws(XMPPDateTimeError) {
        let b = Array(text.utf8)
        func fail(_ reason: String) -> XMPPDateTimeError { XMPPDateTimeError(text: text, reason: reason) }
        func number(_ at: Int, _ count: Int, _ what: String) throws(XMPPDateTimeError) -> Int {
            guard at + count <= b.count else { throw fail("\(what) is cut short") }
            var n = 0
            for i in at..<(at + count) {
                guard b[i] >= 0x30, b[i] <= 0x39 else { throw fail("\(what) has a non-digit") }
                n = n * 10 + Int(b[i] - 0x30)
            }
            return n
        }
        func expect(_ at: Int, _ c: UInt8, _ what: String) throws(XMPPDateTimeError) {
            guard at < b.count, b[at] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))' \(what)") }
        }
        let year = try number(0, 4, "year")
        try expect(4, UInt8(ascii: "-"), "after the year")
        let month = try number(5, 2, "month")
        try expect(7, UInt8(ascii: "-"), "after the month")
        let day = try number(8, 2, "day")
        guard b.count > 10, b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") else { throw fail("expected 'T' after the date") }
        let hour = try number(11, 2, "hour")
        try expect(13, UInt8(ascii: ":"), "after the hour")
        let minute = try number(14, 2, "minute")
        try expect(16, UInt8(ascii: ":"), "after the minute")
        let second = try number(17, 2, "second")
        guard (1...12).contains(month) else { throw fail("month \(month) is out of range") }
        guard day >= 1, day <= Self.daysIn(month: month, year: year) else { throw fail("day \(day) is out of range") }
        guard hour <= 23 else { throw fail("hour \(hour) is out of range") }
        guard minute <= 59 else { throw fail("minute \(minute) is out of range") }
        guard second <= 60 else { throw fail("second \(second) is out of range") }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                fraction += Double(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { throw fail("fraction without digits") }
        }
        guard i < b.count else { throw fail("missing time zone (Z or +hh:mm)") }
        var offset = 0
        switch b[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
            let h = try number(i + 1, 2, "time zone hour")
            try expect(i + 3, UInt8(ascii: ":"), "in the time zone")
            let m = try number(i + 4, 2, "time zone minute")
            guard h <= 23, m <= 59 else { throw fail("time zone offset out of range") }
            offset = sign * (h * 3600 + m * 60)
            i += 6
        default:
            throw fail("invalid time zone")
        }
        guard i == b.count else { throw fail("unexpected text after the time zone") }
        let days = Self.daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
        secondsSince1970 = Double(seconds) + fraction
    }

    /// The UTC form with milliseconds, e.g. `2026-11-22T03:47:09.250Z`.
    public var description: String {
        let totalMillis = Int64((secondsSince1970 * 1000).rounded(.down))
        let millis = Int(((totalMillis % 1000) + 1000) % 1000)
        let seconds = (totalMillis - Int64(millis)) / 1000
        var days = Int(seconds / 86400)
        var rest = Int(seconds % 86400)
        if rest < 0 { rest += 86400; days -= 1 }
        let (y, m, d) = Self.civil(fromDays: days)
        func pad(_ n: Int, _ w: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rest / 3600, 2)):\(pad(rest % 3600 / 60, 2)):\(pad(rest % 60, 2))"
            + (millis == 0 ? "" : ".\(pad(millis, 3))") + "Z"
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (years counted from March so the
    /// leap day is last; 400-year cycles of 146097 days).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let cycle = (y >= 0 ? y : y - 399) / 400
        let yearOfCycle = y - cycle * 400
        let monthFromMarch = (month + 9) % 12
        let dayOfYear = (153 * monthFromMarch + 2) / 5 + day - 1
        let dayOfCycle = yearOfCycle * 365 + yearOfCycle / 4 - yearOfCycle / 100 + dayOfYear
        return cycle * 146097 + dayOfCycle - 719468
    }

    /// The inverse of `daysFromCivil`.
    static func civil(fromDays z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let cycle = (z >= 0 ? z : z - 146096) / 146097
        let dayOfCycle = z - cycle * 146097
        let yearOfCycle = (dayOfCycle - dayOfCycle / 1460 + dayOfCycle / 36524 - dayOfCycle / 146096) / 365
        let dayOfYear = dayOfCycle - (365 * yearOfCycle + yearOfCycle / 4 - yearOfCycle / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfCycle + cycle * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// A delayed-delivery mark, `<delay xmlns='urn:xmpp:delay' from stamp>reason</delay>`
/// (XEP-0203 §3): when a stanza was first sent, as stamped by the server that held it.
public struct Delay: Sendable, Hashable {
    public var from: JID?
    public var stamp: XMPPDateTime
    public var reason: String?

    public init(from: JID? = nil, stamp: XMPPDateTime, reason: String? = nil) {
        self.from = from
        self.stamp = stamp
        self.reason = reason
    }

    public init(element: XMLElement) throws(JingleParseError) {
        var r = try ElementReader(element, name: "delay", namespace: XMPPNamespace.delay)
        let raw = try r.required("stamp")
        do { stamp = try XMPPDateTime(parsing: raw) } catch {
            throw .invalidAttribute(element: "delay", attribute: "stamp", value: raw)
        }
        if let f = r.optional("from") {
            guard let j = JID(f) else { throw .invalidAttribute(element: "delay", attribute: "from", value: f) }
            from = j
        } else {
            from = nil
        }
        let t = element.text.trimmingSpaces
        reason = t.isEmpty ? nil : String(t)
    }

    public var element: XMLElement {
        var e = XMLElement("delay", namespace: XMPPNamespace.delay, ordered: [("from", from?.description), ("stamp", stamp.description)])
        if let reason { e.append(text: reason) }
        return e
    }

    /// The earliest readable `<delay/>` among the children of `elements` (several servers may
    /// each add one; the earliest is when the stanza was first sent). Unreadable ones are skipped.
    public static func earliest(in elements: [XMLElement]) -> Delay? {
        var best: Delay? = nil
        for e in elements {
            for c in e.children("delay", namespace: XMPPNamespace.delay) {
                guard let d = try? Delay(element: c) else { continue }
                if best.map({ d.stamp < $0.stamp }) ?? true { best = d }
            }
        }
        return best
    }
}
