/// Lays queued DTMF events (RFC 4733 §2.5.1) on an audio stream's packet clock. Sans-IO: the
/// owner asks, once per packet interval, what the interval starting at a given RTP timestamp
/// carries, and sends either its audio frame or the event packets returned instead.
///
/// Each event lasts `toneSamples` (rounded up to whole packet intervals): its first interval
/// carries the start packet (marker set, duration one interval), each later one an update with
/// the same timestamp and a growing duration, and the last one the three end packets back to
/// back. The events replace the audio for their duration, as phones do, so the tone is not also
/// heard in-band and the event's duration covers exactly the media time it took; the timestamp
/// of the audio after it advances as if audio had been sent throughout. Between two events,
/// `gapSamples` of audio (at least one interval) tell the receiver the digits apart.
public struct TelephoneEventQueue: Sendable {
    /// What one packet interval carries.
    public enum Slot: Equatable, Sendable {
        case audio
        /// Send these telephone-event packets (in order) instead of the audio frame.
        case events([TelephoneEventSender.Packet])
    }

    public let packetSamples: Int
    public let toneSamples: Int
    public let gapSamples: Int
    /// Volume in -dBm0 (RFC 4733 §2.3.2; 10 is typical for DTMF).
    public let volume: UInt8

    private var queued: [UInt8] = []
    private var nextQueued = 0
    /// Packets of the event in progress, grouped by interval, and the next group to send.
    private var current: [[TelephoneEventSender.Packet]] = []
    private var nextGroup = 0
    private var gapLeft = 0

    /// - Parameters: timestamp units per packet interval (960: 20 ms at 48 kHz), tone and gap
    ///   lengths in the same units (4800 and 4800: 100 ms each), volume 0...63.
    public init(packetSamples: Int = 960, toneSamples: Int = 4800, gapSamples: Int = 4800,
                volume: UInt8 = 10) throws(MediaWireError) {
        guard volume <= 63 else { throw .valueOutOfRange(what: "telephone-event volume", value: Int(volume)) }
        self.packetSamples = min(max(1, packetSamples), Int(UInt16.max))
        let intervals = max(1, (toneSamples + self.packetSamples - 1) / self.packetSamples)
        self.toneSamples = min(intervals * self.packetSamples, Int(UInt16.max) / self.packetSamples * self.packetSamples)
        self.gapSamples = max(self.packetSamples, gapSamples)
        self.volume = volume
    }

    /// Events waiting, including the one being sent.
    public var pendingEvents: Int { queued.count - nextQueued + (nextGroup < current.count ? 1 : 0) }
    /// True when nothing is being sent and nothing waits (a gap may still be running).
    public var isIdle: Bool { pendingEvents == 0 }

    /// Queues event codes (0...255; DTMF digits are 0...15) to send after those already queued.
    public mutating func enqueue(_ events: [UInt8]) {
        if nextQueued > 64 && nextQueued * 2 > queued.count {
            queued.removeFirst(nextQueued)
            nextQueued = 0
        }
        queued += events
    }

    /// What the packet interval starting at RTP `timestamp` carries. Call once per interval.
    public mutating func nextSlot(timestamp: UInt32) -> Slot {
        if nextGroup < current.count {
            defer { nextGroup += 1 }
            if nextGroup == current.count - 1 { gapLeft = gapSamples / packetSamples }
            return .events(current[nextGroup])
        }
        if gapLeft > 0 {
            gapLeft -= 1
            return .audio
        }
        guard nextQueued < queued.count else { return .audio }
        let event = queued[nextQueued]
        nextQueued += 1
        let sender = TelephoneEventSender(packetSamples: UInt16(packetSamples))
        // Cannot fail: the volume was checked in `init`.
        let packets = (try? sender.packets(event: event, volume: volume, timestamp: timestamp,
                                           durationSamples: toneSamples)) ?? []
        let ends = min(sender.endRetransmissions, packets.count)
        current = packets.dropLast(ends).map { [$0] } + [Array(packets.suffix(ends))]
        nextGroup = 0
        return nextSlot(timestamp: timestamp)
    }
}
