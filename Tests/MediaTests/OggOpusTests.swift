import Testing
@testable import Media

@Suite struct OggOpusTests {
    @Test func pageCRCMatchesKnownValue() {
        // CRC-32/OGG ("CRC-32/MPEG-2" without the final inversion): check value of "123456789".
        #expect(OggPage.crc(Array("123456789".utf8)) == 0x89A1_897F)
    }

    @Test func encodeWriteReadDecodeRoundTrip() throws {
        let encoder = try OpusEncoder()
        var tone = ToneGenerator(frequency: 440, amplitude: 0.3)
        var writer = OggOpusWriter(head: OpusHead(channels: 1, preSkip: encoder.lookahead), serial: 0x1234_5678, packetsPerPage: 20)
        var file = writer.headerPages()
        var packets: [[UInt8]] = []
        for _ in 0..<75 {
            let p = try encoder.encode(tone.nextFrame(samplesPerChannel: 960))
            packets.append(p)
            file += writer.append(packet: p, samples: 960)
        }
        file += writer.finish()
        let parsed = try OggOpusFile(parsing: file)
        #expect(parsed.packets == packets)
        #expect(parsed.head.channels == 1 && parsed.head.preSkip == encoder.lookahead && parsed.head.inputSampleRate == 48_000)
        #expect(parsed.vendor == "JingleKit")
        #expect(parsed.finalGranulePosition == 75 * 960)
        // Pages: head, tags, 3 full pages of 20, one final page of 15 with EOS.
        var offset = 0
        var pages: [OggPage] = []
        while offset < file.count { let (p, n) = try OggPage.parse(file, at: offset); pages.append(p); offset = n }
        #expect(pages.count == 6)
        #expect(pages.first?.beginningOfStream == true && pages.last?.endOfStream == true)
        #expect(pages.map(\.sequence) == [0, 1, 2, 3, 4, 5])
        #expect(pages[2].granulePosition == 20 * 960)
        let decoder = try OpusDecoder()
        let pcm = try parsed.packets.flatMap { try decoder.decode($0) }
        #expect(pcm.count == 75 * 960)
    }

    @Test func corruptFilesGiveTypedErrors() throws {
        var writer = OggOpusWriter(head: OpusHead(channels: 2, preSkip: 312), serial: 1)
        var file = writer.headerPages()
        file += writer.append(packet: [0xFC, 1, 2, 3], samples: 960)
        file += writer.finish()
        var flipped = file
        flipped[40] ^= 0xFF
        #expect(throws: OggError.crcMismatch(pageSequence: 0)) { try OggOpusFile(parsing: flipped) }
        #expect(throws: OggError.badCapturePattern(offset: 0)) { try OggOpusFile(parsing: [0x50] + file.dropFirst()) }
        #expect(throws: OggError.self) { try OggOpusFile(parsing: Array(file.prefix(30))) }
        for n in stride(from: 0, to: file.count, by: 3) { _ = try? OggOpusFile(parsing: Array(file.prefix(n))) }
        #expect(try OggOpusFile(parsing: file).head.channels == 2)
    }
}
