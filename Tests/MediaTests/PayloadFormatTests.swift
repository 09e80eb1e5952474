import Testing
@testable import Media

@Suite struct PayloadFormatTests {
    @Test func opusTOC() throws {
        // config 15 (hybrid FB 20 ms), mono, code 0.
        let hybrid = try OpusPacketInfo(parsing: [15 << 3, 0xFF])
        #expect(hybrid.mode == .hybrid && hybrid.bandwidth == .fullband && hybrid.totalSamples == 960 && !hybrid.isStereo)
        // config 9 (SILK WB 20 ms), stereo, code 1 (two frames).
        let silk = try OpusPacketInfo(parsing: [9 << 3 | 0x04 | 1])
        #expect(silk.mode == .silk && silk.isStereo && silk.frameCount == 2 && silk.totalSamples == 1920)
        // config 31 (CELT FB 20 ms), code 3 with 3 frames.
        let celt = try OpusPacketInfo(parsing: [31 << 3 | 3, 3])
        #expect(celt.mode == .celt && celt.frameCount == 3 && celt.totalSamples == 2880)
        #expect(throws: MediaWireError.self) { try OpusPacketInfo(parsing: []) }
        #expect(throws: MediaWireError.self) { try OpusPacketInfo(parsing: [31 << 3 | 3]) }
        #expect(throws: MediaWireError.valueOutOfRange(what: "Opus frame count", value: 0)) {
            try OpusPacketInfo(parsing: [31 << 3 | 3, 0])
        }
        // 7 frames of 20 ms = 140 ms > 120 ms.
        #expect(throws: MediaWireError.self) { try OpusPacketInfo(parsing: [31 << 3 | 3, 7]) }
    }

    @Test func telephoneEventWire() throws {
        let e = try TelephoneEvent(event: 5, isEnd: true, volume: 10, duration: 1600)
        #expect(e.serialized() == [5, 0x8A, 0x06, 0x40])
        #expect(try TelephoneEvent(parsing: [5, 0xCA, 0x06, 0x40]) == e) // reserved bit ignored
        #expect(throws: MediaWireError.self) { try TelephoneEvent(parsing: [1, 2, 3]) }
        #expect(throws: MediaWireError.invalidLength(what: "telephone-event payload", value: 5)) {
            try TelephoneEvent(parsing: [1, 2, 3, 4, 5])
        }
        #expect(throws: MediaWireError.self) { try TelephoneEvent(event: 1, isEnd: false, volume: 64, duration: 0) }
        #expect(TelephoneEvent.dtmf("#") == 11 && TelephoneEvent.dtmf("7") == 7 && TelephoneEvent.dtmf("x") == nil)
    }

    @Test func senderEmitsStartUpdatesAndThreeEnds() throws {
        let packets = try TelephoneEventSender(packetSamples: 960).packets(event: 1, timestamp: 5000, durationSamples: 4800)
        #expect(packets.count == 4 + 3)
        #expect(packets[0].marker && packets.dropFirst().allSatisfy { !$0.marker })
        #expect(packets.allSatisfy { $0.timestamp == 5000 })
        #expect(packets.prefix(4).map(\.event.duration) == [960, 1920, 2880, 3840])
        #expect(packets.suffix(3).allSatisfy { $0.event.isEnd && $0.event.duration == 4800 })
    }

    @Test func receiverReportsOnceDespiteRetransmittedEnds() throws {
        let packets = try TelephoneEventSender().packets(event: 9, timestamp: 100, durationSamples: 2880)
        var rx = TelephoneEventReceiver()
        var notes: [TelephoneEventReceiver.Notification] = []
        for p in packets { notes += rx.receive(timestamp: p.timestamp, payload: p.event) }
        #expect(notes == [.began(event: 9, timestamp: 100), .ended(event: 9, timestamp: 100, duration: 2880)])
    }

    @Test func receiverEndsEventWhoseEndPacketsWereLost() throws {
        var rx = TelephoneEventReceiver()
        let a = try TelephoneEvent(event: 1, isEnd: false, volume: 10, duration: 960)
        let b = try TelephoneEvent(event: 2, isEnd: true, volume: 10, duration: 960)
        #expect(rx.receive(timestamp: 100, payload: a) == [.began(event: 1, timestamp: 100)])
        #expect(
            rx.receive(timestamp: 5000, payload: b) == [
                .ended(event: 1, timestamp: 100, duration: 960), .began(event: 2, timestamp: 5000),
                .ended(event: 2, timestamp: 5000, duration: 960),
            ])
        // A late end packet of the first event is ignored.
        #expect(rx.receive(timestamp: 100, payload: try TelephoneEvent(event: 1, isEnd: true, volume: 10, duration: 1920)) == [])
    }
}
