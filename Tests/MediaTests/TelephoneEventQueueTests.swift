import Testing
@testable import Media

@Suite struct TelephoneEventQueueTests {
    /// Runs `slots` packet intervals from timestamp 1000 and returns what each carried.
    static func run(_ queue: inout TelephoneEventQueue, slots: Int) -> [TelephoneEventQueue.Slot] {
        (0..<slots).map { queue.nextSlot(timestamp: 1000 + UInt32($0) * 960) }
    }

    @Test func idleQueueCarriesAudio() throws {
        var q = try TelephoneEventQueue()
        #expect(q.isIdle)
        #expect(Self.run(&q, slots: 3) == [.audio, .audio, .audio])
    }

    @Test func oneDigitIsStartUpdatesAndThreeEndsOnOneTimestamp() throws {
        var q = try TelephoneEventQueue()
        q.enqueue([TelephoneEvent.dtmf("5")!])
        #expect(q.pendingEvents == 1)
        let slots = Self.run(&q, slots: 6)
        #expect(slots[5] == .audio)
        let groups: [[TelephoneEventSender.Packet]] = slots.prefix(5).compactMap {
            if case .events(let p) = $0 { p } else { nil }
        }
        #expect(groups.count == 5, "100 ms of 20 ms intervals")
        #expect(groups.prefix(4).allSatisfy { $0.count == 1 })
        #expect(groups[4].count == 3)
        let packets = groups.flatMap { $0 }
        #expect(packets.allSatisfy { $0.timestamp == 1000 && $0.event.event == 5 && $0.event.volume == 10 })
        #expect(packets.map(\.marker) == [true] + Array(repeating: false, count: 6))
        #expect(packets.prefix(4).map(\.event.duration) == [960, 1920, 2880, 3840])
        #expect(packets.prefix(4).allSatisfy { !$0.event.isEnd })
        #expect(packets.suffix(3).allSatisfy { $0.event.isEnd && $0.event.duration == 4800 })
        #expect(q.isIdle)
    }

    /// telephone-event/8000 beside a 48 kHz stream: the same slots and timestamps, durations in
    /// 8 kHz units (160 per 20 ms interval), as libwebrtc sends them.
    @Test func durationsCountInTheEventClockRate() throws {
        var q = try TelephoneEventQueue(eventClockRate: 8_000, audioClockRate: 48_000)
        q.enqueue([TelephoneEvent.dtmf("#")!])
        let packets = Self.run(&q, slots: 5).flatMap { slot -> [TelephoneEventSender.Packet] in
            if case .events(let p) = slot { p } else { [] }
        }
        #expect(packets.count == 7)
        #expect(packets.allSatisfy { $0.timestamp == 1000 && $0.event.event == 11 })
        #expect(packets.prefix(4).map(\.event.duration) == [160, 320, 480, 640])
        #expect(packets.suffix(3).allSatisfy { $0.event.isEnd && $0.event.duration == 800 })
        #expect(throws: MediaWireError.valueOutOfRange(what: "telephone-event clock rate", value: 0)) {
            try TelephoneEventQueue(eventClockRate: 0)
        }
    }

    @Test func digitsAreSeparatedByAGapAndGetTheirOwnTimestamps() throws {
        var q = try TelephoneEventQueue()
        q.enqueue([1, 2])
        let slots = Self.run(&q, slots: 20)
        let kinds = slots.map { if case .events = $0 { "e" } else { "a" } }.joined()
        #expect(kinds == "eeeeeaaaaaeeeeeaaaaa")
        guard case .events(let second) = slots[10] else { Issue.record("no second event"); return }
        #expect(second.first?.timestamp == UInt32(1000 + 10 * 960))
        #expect(second.first?.marker == true && second.first?.event.event == 2)
    }

    @Test func digitsQueuedDuringAnEventWaitTheirTurn() throws {
        var q = try TelephoneEventQueue()
        q.enqueue([7])
        _ = Self.run(&q, slots: 2)
        q.enqueue([8])
        #expect(q.pendingEvents == 2)
        var seen: [UInt8] = []
        for i in 0..<30 {
            if case .events(let p) = q.nextSlot(timestamp: UInt32(i) * 960), let first = p.first, first.marker {
                seen.append(first.event.event)
            }
        }
        #expect(seen == [8])
        #expect(q.isIdle)
    }

    @Test func shortToneIsOnlyTheEndPacketsWithTheMarker() throws {
        var q = try TelephoneEventQueue(toneSamples: 500)
        q.enqueue([11])
        guard case .events(let p) = q.nextSlot(timestamp: 0) else { Issue.record("no event"); return }
        #expect(p.count == 3 && p[0].marker && p.allSatisfy { $0.event.isEnd && $0.event.duration == 960 })
    }

    @Test func loudVolumeIsATypedError() {
        #expect(throws: MediaWireError.valueOutOfRange(what: "telephone-event volume", value: 64)) {
            try TelephoneEventQueue(volume: 64)
        }
    }

    @Test func dtmfDigitsRoundTrip() {
        for c in "0123456789*#ABCD" {
            #expect(TelephoneEvent.dtmf(c).flatMap(TelephoneEvent.dtmfDigit) == c)
        }
        #expect(TelephoneEvent.dtmfDigit(16) == nil)
    }
}
