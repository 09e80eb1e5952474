/// The RTP payload for a named telephone event (RFC 4733 §2.3): event code, end bit, volume in
/// -dBm0 (0...63) and the duration so far in timestamp units.
public struct TelephoneEvent: Equatable, Sendable {
    public var event: UInt8
    public var isEnd: Bool
    public var volume: UInt8
    public var duration: UInt16

    /// DTMF digits 0-9, *, #, A-D as RFC 4733 §3.2 numbers them.
    public static func dtmf(_ c: Character) -> UInt8? {
        switch c {
        case "0"..."9": return UInt8(String(c))
        case "*": return 10
        case "#": return 11
        case "A", "a": return 12
        case "B", "b": return 13
        case "C", "c": return 14
        case "D", "d": return 15
        default: return nil
        }
    }

    /// The DTMF digit for an event code 0...15 (RFC 4733 §3.2), upper-case letters for A-D.
    public static func dtmfDigit(_ event: UInt8) -> Character? {
        switch event {
        case 0...9: return Character(String(event))
        case 10: return "*"
        case 11: return "#"
        case 12...15: return Character(UnicodeScalar(UInt8(ascii: "A") + event - 12))
        default: return nil
        }
    }

    public init(event: UInt8, isEnd: Bool, volume: UInt8, duration: UInt16) throws(MediaWireError) {
        guard volume <= 63 else { throw .valueOutOfRange(what: "telephone-event volume", value: Int(volume)) }
        self.event = event
        self.isEnd = isEnd
        self.volume = volume
        self.duration = duration
    }

    /// Parses a 4-octet payload; the reserved bit is ignored as §2.3.4 asks.
    public init(parsing payload: [UInt8]) throws(MediaWireError) {
        guard payload.count >= 4 else { throw .truncated(what: "telephone-event payload", needed: 4, available: payload.count) }
        guard payload.count == 4 else { throw .invalidLength(what: "telephone-event payload", value: payload.count) }
        event = payload[0]
        isEnd = payload[1] & 0x80 != 0
        volume = payload[1] & 0x3F
        duration = UInt16(payload[2]) << 8 | UInt16(payload[3])
    }

    public func serialized() -> [UInt8] {
        [event, (isEnd ? 0x80 : 0) | (volume & 0x3F), UInt8(duration >> 8), UInt8(duration & 0xFF)]
    }
}

/// Sender side of RFC 4733 §2.5.1: one event becomes a start packet (marker set), updates every
/// packet interval with the same timestamp and a growing duration, and three end packets.
public struct TelephoneEventSender: Sendable {
    /// One packet to send: marker, the RTP timestamp (the event's start) and the payload.
    public struct Packet: Equatable, Sendable {
        public var marker: Bool
        public var timestamp: UInt32
        public var event: TelephoneEvent
    }

    public let packetSamples: UInt16
    public let endRetransmissions = 3

    /// `packetSamples`: timestamp units per packet interval (960 for 20 ms at 48 kHz).
    public init(packetSamples: UInt16 = 960) { self.packetSamples = max(1, packetSamples) }

    /// All packets for an event of `durationSamples`, starting at RTP timestamp `timestamp`.
    /// Durations above 65535 units would need the §2.5.1.3 segmentation and are cut to 65535.
    public func packets(
        event: UInt8, volume: UInt8 = 10, timestamp: UInt32,
        durationSamples: Int
    ) throws(MediaWireError) -> [Packet] {
        let total = UInt16(clamping: max(Int(packetSamples), durationSamples))
        var out: [Packet] = []
        var d: UInt16 = packetSamples
        while d < total {
            out.append(
                Packet(
                    marker: out.isEmpty, timestamp: timestamp,
                    event: try TelephoneEvent(event: event, isEnd: false, volume: volume, duration: d)))
            d = d.addingReportingOverflow(packetSamples).overflow ? total : d + packetSamples
        }
        let end = try TelephoneEvent(event: event, isEnd: true, volume: volume, duration: total)
        for i in 0..<endRetransmissions {
            out.append(Packet(marker: out.isEmpty && i == 0, timestamp: timestamp, event: end))
        }
        return out
    }
}

/// Receiver side of RFC 4733 §2.5.2: turns a stream of telephone-event packets into begin/end
/// notifications, once each, ignoring retransmitted end packets and ending an event whose end
/// packets were all lost when a new event (new timestamp) starts.
public struct TelephoneEventReceiver: Sendable {
    public enum Notification: Equatable, Sendable {
        case began(event: UInt8, timestamp: UInt32)
        case ended(event: UInt8, timestamp: UInt32, duration: UInt16)
    }

    private var current: (timestamp: UInt32, event: UInt8, duration: UInt16, ended: Bool)?

    public init() {}

    public mutating func receive(timestamp: UInt32, payload: TelephoneEvent) -> [Notification] {
        var out: [Notification] = []
        if let c = current, c.timestamp == timestamp {
            if c.ended { return [] }
            current?.duration = max(c.duration, payload.duration)
            if payload.isEnd {
                current?.ended = true
                out.append(.ended(event: c.event, timestamp: timestamp, duration: payload.duration))
            }
            return out
        }
        // A late packet of an earlier event (timestamp behind the current one) is ignored.
        if let c = current, Int32(bitPattern: timestamp &- c.timestamp) < 0 { return [] }
        if let c = current, !c.ended {
            out.append(.ended(event: c.event, timestamp: c.timestamp, duration: c.duration))
        }
        current = (timestamp, payload.event, payload.duration, payload.isEnd)
        out.append(.began(event: payload.event, timestamp: timestamp))
        if payload.isEnd { out.append(.ended(event: payload.event, timestamp: timestamp, duration: payload.duration)) }
        return out
    }
}
