import Testing
@testable import STUN

@Suite struct ChannelDataTests {
    @Test(arguments: [0, 1, 2, 3, 4, 5, 100, 1200])
    func datagramRoundTrip(length: Int) throws {
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0) }
        for padded in [false, true] {
            let bytes = ChannelData.encode(channel: 0x4ABC, data: payload, padded: padded)
            #expect(bytes.count % 4 == 0 || !padded)
            let (channel, range) = try bytes.withUnsafeBytes { try ChannelData.parse($0) }
            #expect(channel == 0x4ABC)
            #expect(Array(bytes[range]) == payload)
        }
    }

    @Test func badChannelAndTruncation() {
        #expect(throws: STUNParseError.badChannelNumber(0x8000)) {
            try ([0x80, 0x00, 0x00, 0x00] as [UInt8]).withUnsafeBytes { try ChannelData.parse($0) }
        }
        #expect(throws: STUNParseError.truncated(needed: 9, available: 6)) {
            try ([0x40, 0x00, 0x00, 0x05, 1, 2] as [UInt8]).withUnsafeBytes { try ChannelData.parse($0) }
        }
    }

    /// A stream of mixed STUN and padded ChannelData split at every offset yields the same frames.
    @Test func streamFramingAtEverySplit() throws {
        let stun = STUNMessage(.refresh, .request, attributes: [.lifetime(600)]).encode()
        let cd1 = ChannelData.encode(channel: 0x4000, data: [1, 2, 3, 4, 5], padded: true)
        let cd2 = ChannelData.encode(channel: 0x4FFF, data: [], padded: true)
        let stream = cd1 + stun + cd2 + cd1
        let expected: [STUNStreamFramer.Frame] = [
            .channelData(channel: 0x4000, data: [1, 2, 3, 4, 5]), .stun(stun),
            .channelData(channel: 0x4FFF, data: []), .channelData(channel: 0x4000, data: [1, 2, 3, 4, 5]),
        ]
        for split in 0...stream.count {
            var framer = STUNStreamFramer()
            var frames: [STUNStreamFramer.Frame] = []
            framer.append(stream[0..<split])
            while let f = try framer.next() { frames.append(f) }
            framer.append(stream[split...])
            while let f = try framer.next() { frames.append(f) }
            #expect(frames == expected, "split at \(split)")
        }
    }

    @Test func streamRejectsGarbage() {
        var framer = STUNStreamFramer()
        framer.append([0xC0, 0, 0, 0])
        #expect(throws: STUNParseError.unknownFraming(0xC0)) { try framer.next() }
        var big = STUNStreamFramer(maximumFrameSize: 100)
        big.append([0x40, 0x00, 0x01, 0x00])
        #expect(throws: STUNParseError.frameTooLong(260)) { try big.next() }
    }
}
