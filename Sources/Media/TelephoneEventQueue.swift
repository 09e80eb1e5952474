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
///
/// Timestamps are always on the audio stream's clock (the events share its SSRC and sequence);
/// the durations inside the events count in the telephone-event payload type's own clock rate,
/// which may differ (telephone-event/8000 beside Opus at 48 kHz: 160 units per 20 ms interval),
/// as libwebrtc sends them.
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
    /// Clock rates of the telephone-event payload type and of the audio timestamps.
    public let eventClockRate: Int
    public let audioClockRate: Int

    private var queued: [UInt8] = []
    private var nextQueued = 0
    /// Packets of the event in progress, grouped by interval, and the next group to send.
    private var current: [[TelephoneEventSender.Packet]] = []
    private var nextGroup = 0
    private var gapLeft = 0

    /// - Parameters: timestamp units per packet interval (960: 20 ms at 48 kHz), tone and gap
    ///   lengths in the same units (4800 and 4800: 100 ms each), volume 0...63, and the clock
    ///   rates of the telephone-event payload type (8000 or 48000 in practice) and of the audio.
    public init(
        packetSamples: Int = 960, toneSamples: Int = 4800, gapSamples: Int = 4800,
        volume: UInt8 = 10, eventClockRate: Int = 48_000, audioClockRate: Int = 48_000
    ) throws(MediaWireError) {
        guard volume <= 63 else { throw .valueOutOfRange(what: "telephone-event volume", value: Int(volume)) }
        guard (1...192_000).contains(eventClockRate) else {
            throw .valueOutOfRange(what: "telephone-event clock rate", value: eventClockRate)
        }
        guard (1...192_000).contains(audioClockRate) else {
            throw .valueOutOfRange(what: "audio clock rate", value: audioClockRate)
        }
        self.eventClockRate = eventClockRate
        self.audioClockRate = audioClockRate
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
        let sender = TelephoneEventSender(packetSamples: UInt16(clamping: eventUnits(packetSamples)))
        // Cannot fail: the volume was checked in `init`.
        let packets =
            (try? sender.packets(
                event: event, volume: volume, timestamp: timestamp,
                durationSamples: eventUnits(toneSamples))) ?? []
        let ends = min(sender.endRetransmissions, packets.count)
        current = packets.dropLast(ends).map { [$0] } + [Array(packets.suffix(ends))]
        nextGroup = 0
        return nextSlot(timestamp: timestamp)
    }

    /// `samples` of the audio clock in the telephone-event clock's units.
    private func eventUnits(_ samples: Int) -> Int { samples * eventClockRate / audioClockRate }
}
