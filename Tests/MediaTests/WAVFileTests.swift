import Testing
@testable import Media

@Suite struct WAVFileTests {
    @Test(arguments: [1, 2]) func roundTrip(channels: Int) throws {
        var tone = ToneGenerator(frequency: 1000, channels: channels)
        let wav = WAVFile(sampleRate: 48_000, channels: channels, samples: tone.nextFrame(samplesPerChannel: 4800))
        let bytes = wav.serialized()
        #expect(bytes.count == 44 + 4800 * channels * 2)
        #expect(try WAVFile(parsing: bytes, requireSampleRate: 48_000) == wav)
    }

    @Test func skipsUnknownChunksWithPadding() throws {
        let wav = WAVFile(samples: [1, -2, 3])
        var bytes = wav.serialized()
        // Insert an odd-sized LIST chunk (plus its pad byte) before "data".
        bytes.insert(contentsOf: Array("LIST".utf8) + [3, 0, 0, 0, 0x61, 0x62, 0x63, 0], at: 36)
        #expect(try WAVFile(parsing: bytes) == wav)
    }

    @Test func otherRatesAreReportedClearly() throws {
        let wav = WAVFile(sampleRate: 44_100, channels: 1, samples: [0, 1])
        #expect(throws: WAVFile.Error.unsupportedSampleRate(found: 44_100, required: 48_000)) {
            try WAVFile(parsing: wav.serialized(), requireSampleRate: 48_000)
        }
        #expect(try WAVFile(parsing: wav.serialized()).sampleRate == 44_100)
    }

    @Test func malformedFilesGiveTypedErrors() {
        let good = WAVFile(samples: [1, 2]).serialized()
        #expect(throws: WAVFile.Error.notRIFFWAVE) { try WAVFile(parsing: Array(good.prefix(10))) }
        #expect(throws: WAVFile.Error.missingChunk("fmt ")) { try WAVFile(parsing: Array(good.prefix(12))) }
        #expect(throws: WAVFile.Error.truncated(chunk: "fmt ")) { try WAVFile(parsing: Array(good.prefix(30))) }
        #expect(throws: WAVFile.Error.missingChunk("data")) { try WAVFile(parsing: Array(good.prefix(36))) }
        var eightBit = good; eightBit[34] = 8
        #expect(throws: WAVFile.Error.unsupportedBitsPerSample(8)) { try WAVFile(parsing: eightBit) }
        var float = good; float[20] = 3
        #expect(throws: WAVFile.Error.unsupportedFormat(tag: 3)) { try WAVFile(parsing: float) }
        for n in 0..<good.count { _ = try? WAVFile(parsing: Array(good.prefix(n))) }
    }
}
