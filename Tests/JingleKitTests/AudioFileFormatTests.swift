import Foundation
import JingleKit
import Media
import Testing

/// Prompt files in the formats people have (mu-law and A-law WAV as Asterisk and IVR prompt
/// libraries ship them, 24-bit and float WAV, FLAC), made here with sox, read through libsndfile
/// and libsoxr: each must come out as the tone that was written, at its frequency and level.
@Suite struct AudioFileFormatTests {
    struct Format: Sendable, CustomStringConvertible {
        let name: String
        let file: String
        let soxOptions: [String]
        let rate: Int
        var description: String { name }
    }

    static let formats: [Format] = [
        Format(name: "mu-law WAV 8 kHz", file: "prompt-ulaw.wav", soxOptions: ["-e", "u-law", "-b", "8"], rate: 8000),
        Format(name: "A-law WAV 8 kHz", file: "prompt-alaw.wav", soxOptions: ["-e", "a-law", "-b", "8"], rate: 8000),
        Format(name: "24-bit WAV 44.1 kHz", file: "prompt-24.wav", soxOptions: ["-e", "signed-integer", "-b", "24"], rate: 44_100),
        Format(name: "float WAV 16 kHz", file: "prompt-float.wav", soxOptions: ["-e", "floating-point", "-b", "32"], rate: 16_000),
        Format(name: "FLAC 22.05 kHz", file: "prompt.flac", soxOptions: ["-b", "16"], rate: 22_050),
        // Recognised by content, not by name.
        Format(name: "FLAC named .prompt", file: "flac-inside.prompt", soxOptions: ["-t", "flac", "-b", "16"], rate: 48_000),
        Format(name: "16-bit WAV 48 kHz", file: "prompt-16.wav", soxOptions: ["-e", "signed-integer", "-b", "16"], rate: 48_000),
    ]

    @Test(arguments: formats) func aToneWrittenBySoxIsReadAtItsFrequencyAndLevel(_ format: Format) throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent(format.file)
        // One second of a 1 kHz sine at half scale: RMS -9.03 dBFS.
        try runSox(["-n", "-r", "\(format.rate)", "-c", "1"] + format.soxOptions + [url.path, "synth", "1", "sine", "1000", "vol", "0.5"])

        let file = try CallAudioFile.load(url)
        #expect(!file.sendsOpusPackets)
        let source = file.makeSource()
        var pcm: [Int16] = []
        while let frame = source.nextFrame() { pcm += frame }
        #expect(abs(pcm.count - 48_000) < 960, "one second at 48 kHz, got \(pcm.count) samples")
        let middle = Array(pcm[4800..<43_200])
        let frequency = toneFrequency(middle)
        #expect(abs(frequency - 1000) < 3, "\(format): \(frequency) Hz")
        let level = CallAudio.level(of: middle)
        #expect(abs(level - -9.03) < 0.3, "\(format): \(level) dBFS, \(file.format)")
        // The same file through the decoded-PCM entry point.
        let pcmSource = try PCMBufferSource.file(url)
        #expect(pcmSource.nextFrame()?.count == CallAudio.samplesPerFrame)
    }

    @Test func formatNamesSayWhatWasRead() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("ivr.wav")
        try runSox(["-n", "-r", "8000", "-c", "1", "-e", "u-law", url.path, "synth", "0.2", "sine", "440"])
        let file = try CallAudioFile.load(url)
        #expect(file.format.contains("U-Law") && file.format.contains("8000 Hz"), "\(file.format)")
    }

    @Test func unknownContentIsRefusedNamingTheFile() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("notes.txt")
        try Data("just some text, not audio at all".utf8).write(to: url)
        do {
            _ = try CallAudioFile.load(url)
            Issue.record("text was accepted as audio")
        } catch {
            guard case .unsupportedFormat = error else { Issue.record("\(error)"); return }
            #expect(error.description.contains("notes.txt"))
        }
    }
}

func temporaryFolder() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jk-audio-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Writes `packets` Opus packets of `samplesPerPacket` samples of a tone at `frequency` (libopus,
/// mono, 312 samples pre-skip) as an Ogg Opus file named `name` in `dir`, with our OggOpusWriter.
func writeOggOpusTone(
    frequency: Double, packets: Int, samplesPerPacket: Int = 960, serial: UInt32, named name: String, in dir: URL
) throws -> URL {
    let encoder = try OpusEncoder(sampleRate: 48_000, channels: 1, application: .audio)
    var tone = ToneGenerator(frequency: frequency, amplitude: 0.3)
    var writer = OggOpusWriter(head: OpusHead(channels: 1, preSkip: 312), serial: serial)
    var bytes = writer.headerPages()
    for _ in 0..<packets {
        bytes += writer.append(
            packet: try encoder.encode(tone.nextFrame(samplesPerChannel: samplesPerPacket)), samples: samplesPerPacket)
    }
    bytes += writer.finish()
    let url = dir.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}

/// Runs sox (Debian `sox`, installed by Tools/bootstrap) and fails the test if it fails.
func runSox(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sox")
    process.arguments = ["-q"] + arguments
    try process.run()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "sox \(arguments.joined(separator: " ")) failed")
}
