import Foundation
import Media
import Synchronization

/// Why an audio file could not be used as a call's source.
public enum CallAudioFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case invalidWAV(path: String, reason: String)
    case invalidOggOpus(path: String, reason: String)
    /// Neither Ogg Opus nor a format libsndfile reads (WAV, FLAC, AIFF, AU, Ogg Vorbis, ...).
    case unsupportedFormat(path: String, reason: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): "\(p): cannot read: \(r)"
        case .invalidWAV(let p, let r): "\(p): not a usable WAV file: \(r)"
        case .invalidOggOpus(let p, let r): "\(p): not a usable Ogg Opus file (RFC 7845): \(r)"
        case .unsupportedFormat(let p, let r):
            "\(p): unknown audio format (\(r)); use WAV (PCM, float, mu-law, A-law), FLAC or Ogg Opus"
        case .unwritable(let p, let r): "\(p): cannot write: \(r)"
        }
    }
}

/// An audio file loaded once to play into any number of calls (a bot's prompt), recognised by
/// its content rather than its name: Ogg Opus (RFC 7845) through JingleKit's own reader; WAV
/// (16/24/32-bit PCM, float, mu-law, A-law, ADPCM), FLAC, AIFF, AU and Ogg Vorbis through
/// libsndfile, mixed to mono and resampled to 48 kHz with libsoxr (band-limited).
///
/// An Ogg Opus file whose packets are all 20 ms and mono or stereo is kept as its packets: its
/// sources hand them to the call as they are (`CallAudioSource.nextOpusPacket()`), so playing
/// it costs no encoding. Other Opus files are decoded and re-encoded like any PCM.
public final class CallAudioFile: Sendable {
    public let path: String
    /// What was read, e.g. "WAV (Microsoft) / U-Law, 8000 Hz, 1 channel" or
    /// "Ogg Opus, 250 packets of 20 ms, sent as they are".
    public let format: String
    private enum Content: Sendable {
        case pcm([Int16])
        case opus([[UInt8]])
    }
    private let content: Content

    /// True when calls get the file's Opus packets unchanged (no encoder time).
    public var sendsOpusPackets: Bool {
        if case .opus = content { return true }
        return false
    }

    /// Length at 48 kHz, in whole 20 ms frames.
    public var frames: Int {
        switch content {
        case .pcm(let s): (s.count + CallAudio.samplesPerFrame - 1) / CallAudio.samplesPerFrame
        case .opus(let p): p.count
        }
    }

    private init(path: String, format: String, content: Content) {
        self.path = path
        self.format = format
        self.content = content
    }

    /// Reads and checks the whole file.
    public static func load(_ url: URL) throws(CallAudioFileError) -> CallAudioFile {
        switch try AudioFileKind.sniff(url) {
        case .oggOpus:
            let file = try OggOpusFileSource.parse(url)
            if let packets = OggOpusFileSource.passThroughPackets(file) {
                return CallAudioFile(
                    path: url.path, format: "Ogg Opus, \(packets.count) packets of 20 ms, sent as they are",
                    content: .opus(packets))
            }
            let pcm = try OggOpusFileSource.decode(file, path: url.path)
            return CallAudioFile(
                path: url.path, format: "Ogg Opus, \(file.head.channels) channel(s), decoded and re-encoded",
                content: .pcm(pcm))
        case .soundFile:
            let (pcm, format) = try WAVFileSource.decode(url)
            return CallAudioFile(path: url.path, format: format, content: .pcm(pcm))
        }
    }

    /// A new source playing the file from its start (each call needs its own).
    public func makeSource(loop: Bool = false) -> any CallAudioSource {
        switch content {
        case .pcm(let samples): PCMBufferSource(samples: samples, loop: loop)
        case .opus(let packets): OpusPacketSource(packets: packets, loop: loop)
        }
    }
}

/// Plays PCM held in memory (48 kHz mono), once or looped.
public final class PCMBufferSource: CallAudioSource {
    private let samples: [Int16]
    private let loop: Bool
    private let position = Mutex(0)

    public init(samples: [Int16], loop: Bool = false) {
        self.samples = samples
        self.loop = loop
    }

    public func nextFrame() -> [Int16]? {
        let n = CallAudio.samplesPerFrame
        guard !samples.isEmpty else { return nil }
        return position.withLock { p -> [Int16]? in
            if p >= samples.count {
                guard loop else { return nil }
                p = 0
            }
            var frame = Array(samples[p..<min(p + n, samples.count)])
            p += n
            if frame.count < n {
                if loop {
                    p = n - frame.count
                    frame += samples.prefix(p)
                }
                frame += [Int16](repeating: 0, count: n - frame.count)
            }
            return frame
        }
    }

    /// A decoded source for any file `CallAudioFile` reads (recognised by content), as 48 kHz
    /// mono PCM. Use `CallAudioFile.load(_:).makeSource()` to send Ogg Opus packets undecoded.
    public static func file(_ url: URL, loop: Bool = false) throws(CallAudioFileError) -> PCMBufferSource {
        switch try AudioFileKind.sniff(url) {
        case .oggOpus: return try OggOpusFileSource.load(url, loop: loop)
        case .soundFile: return try WAVFileSource.load(url, loop: loop)
        }
    }

    static func read(_ url: URL) throws(CallAudioFileError) -> [UInt8] {
        do { return Array(try Data(contentsOf: url)) } catch {
            throw .unreadable(path: url.path, reason: error.localizedDescription)
        }
    }
}

/// Plays an Ogg Opus file's 20 ms packets as they are (`nextOpusPacket()`), once or looped;
/// `nextFrame()` decodes them for a consumer that wants PCM.
public final class OpusPacketSource: CallAudioSource {
    private let packets: [[UInt8]]
    private let loop: Bool
    private struct State {
        var position = 0
        var decoder: OpusDecoder?
    }
    private let state = Mutex(State())

    /// - Parameters:
    ///   - packets: Opus packets of 20 ms each (RFC 6716), mono or stereo.
    ///   - loop: start again from the first packet after the last.
    public init(packets: [[UInt8]], loop: Bool = false) {
        self.packets = packets
        self.loop = loop
    }

    public func nextOpusPacket() -> [UInt8]? {
        state.withLock { take(&$0) }
    }

    public func nextFrame() -> [Int16]? {
        state.withLock { s -> [Int16]? in
            guard let packet = take(&s) else { return nil }
            if s.decoder == nil { s.decoder = try? OpusDecoder(sampleRate: CallAudio.sampleRate, channels: 1) }
            let pcm = (try? s.decoder?.decode(packet)) ?? nil
            return pcm ?? [Int16](repeating: 0, count: CallAudio.samplesPerFrame)
        }
    }

    private func take(_ s: inout State) -> [UInt8]? {
        guard !packets.isEmpty else { return nil }
        if s.position >= packets.count {
            guard loop else { return nil }
            s.position = 0
        }
        defer { s.position += 1 }
        return packets[s.position]
    }
}

/// What a file holds, from its first bytes.
enum AudioFileKind {
    case oggOpus, soundFile

    static func sniff(_ url: URL) throws(CallAudioFileError) -> AudioFileKind {
        let head: [UInt8]
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            head = Array(try handle.read(upToCount: 64) ?? Data())
        } catch {
            throw .unreadable(path: url.path, reason: error.localizedDescription)
        }
        guard head.starts(with: Array("OggS".utf8)) else { return .soundFile }
        // An Ogg stream's first page holds the codec's identification header.
        let text = String(decoding: head, as: UTF8.self)
        if text.contains("vorbis") || text.contains("FLAC") { return .soundFile }
        return .oggOpus
    }
}

/// Files libsndfile reads (WAV of any encoding, FLAC, AIFF, AU, Ogg Vorbis, ...) as call
/// sources: mixed down to mono and resampled to 48 kHz with libsoxr.
public enum WAVFileSource {
    public static func load(_ url: URL, loop: Bool = false) throws(CallAudioFileError) -> PCMBufferSource {
        PCMBufferSource(samples: try decode(url).samples, loop: loop)
    }

    static func decode(_ url: URL) throws(CallAudioFileError) -> (samples: [Int16], format: String) {
        let file: SoundFile
        do { file = try SoundFile(reading: url.path) } catch {
            var head: [UInt8] = []
            if let h = try? FileHandle(forReadingFrom: url) {
                head = [UInt8]((try? h.read(upToCount: 4)) ?? Data())
                try? h.close()
            }
            let looksWAV =
                [Array("RIFF".utf8), Array("RIFX".utf8), Array("RF64".utf8)].contains(head)
                || ["wav", "wave"].contains(url.pathExtension.lowercased())
            if !FileManager.default.isReadableFile(atPath: url.path) {
                throw .unreadable(path: url.path, reason: error.reason)
            }
            throw looksWAV
                ? .invalidWAV(path: url.path, reason: error.reason)
                : .unsupportedFormat(path: url.path, reason: "libsndfile: \(error.reason)")
        }
        let mono = AudioConversion.mixToMono(file.samples, channels: file.channels)
        let resampled: [Float]
        do { resampled = try SampleRateConverter.convert(mono, from: file.sampleRate, to: CallAudio.sampleRate) } catch {
            throw .unsupportedFormat(path: url.path, reason: "\(error)")
        }
        let format = "\(file.formatName), \(file.sampleRate) Hz, \(file.channels) channel\(file.channels == 1 ? "" : "s")"
        return (AudioConversion.int16(resampled), format)
    }
}

/// Ogg Opus files (RFC 7845) as call sources: decoded at 48 kHz, pre-skip removed, mixed to mono.
public enum OggOpusFileSource {
    public static func load(_ url: URL, loop: Bool = false) throws(CallAudioFileError) -> PCMBufferSource {
        PCMBufferSource(samples: try decode(try parse(url), path: url.path), loop: loop)
    }

    static func parse(_ url: URL) throws(CallAudioFileError) -> OggOpusFile {
        let bytes = try PCMBufferSource.read(url)
        do { return try OggOpusFile(parsing: bytes) } catch {
            throw .invalidOggOpus(path: url.path, reason: "\(error)")
        }
    }

    static func decode(_ file: OggOpusFile, path: String) throws(CallAudioFileError) -> [Int16] {
        do {
            let channels = max(1, min(2, file.head.channels))
            let decoder = try OpusDecoder(sampleRate: 48_000, channels: channels)
            var pcm: [Int16] = []
            for packet in file.packets { pcm += try decoder.decode(packet) }
            var mono = AudioConversion.mixToMono(pcm, channels: channels)
            mono.removeFirst(min(mono.count, file.head.preSkip))
            return mono
        } catch {
            throw .invalidOggOpus(path: path, reason: "\(error)")
        }
    }

    /// The file's packets when every one is a valid 20 ms Opus packet of a mono or stereo
    /// stream (channel mapping family 0), so they can go into RTP unchanged; nil otherwise.
    static func passThroughPackets(_ file: OggOpusFile) -> [[UInt8]]? {
        guard (1...2).contains(file.head.channels), !file.packets.isEmpty else { return nil }
        for packet in file.packets {
            guard let info = try? OpusPacketInfo(parsing: packet), info.totalSamples == CallAudio.samplesPerFrame else { return nil }
        }
        return file.packets
    }
}

/// A steady sine tone (e.g. 440 Hz), for tests and line checks.
public final class ToneSource: CallAudioSource {
    private let generator: Mutex<ToneGenerator>
    public init(frequency: Double, amplitude: Double = 0.3) {
        generator = Mutex(ToneGenerator(frequency: frequency, amplitude: amplitude, sampleRate: CallAudio.sampleRate))
    }
    public func nextFrame() -> [Int16]? {
        generator.withLock { $0.nextFrame(samplesPerChannel: CallAudio.samplesPerFrame) }
    }
}

/// Sends back what it receives (an echo test), delayed by the frames it holds: plug it in as
/// both the sink and the source of a call.
public final class EchoAudio: CallAudioSource, CallAudioSink {
    private let queue = Mutex([[Int16]]())
    private let capacity: Int
    /// - Parameter capacity: frames held at most (older ones are dropped), 50 = one second.
    public init(capacity: Int = 50) { self.capacity = capacity }
    public func receive(frame: [Int16]) {
        queue.withLock { q in
            q.append(frame)
            if q.count > capacity { q.removeFirst(q.count - capacity) }
        }
    }
    public func nextFrame() -> [Int16]? {
        queue.withLock { q in q.isEmpty ? [Int16](repeating: 0, count: CallAudio.samplesPerFrame) : q.removeFirst() }
    }
}

/// Channel mixing and sample-rate conversion for file sources.
enum AudioConversion {
    static func mixToMono(_ interleaved: [Int16], channels: Int) -> [Int16] {
        guard channels > 1 else { return interleaved }
        var out = [Int16](repeating: 0, count: interleaved.count / channels)
        for i in out.indices {
            var sum = 0
            for c in 0..<channels { sum += Int(interleaved[i * channels + c]) }
            out[i] = Int16(clamping: sum / channels)
        }
        return out
    }

    static func mixToMono(_ interleaved: [Float], channels: Int) -> [Float] {
        guard channels > 1 else { return interleaved }
        var out = [Float](repeating: 0, count: interleaved.count / channels)
        let scale = 1 / Float(channels)
        for i in out.indices {
            var sum: Float = 0
            for c in 0..<channels { sum += interleaved[i * channels + c] }
            out[i] = sum * scale
        }
        return out
    }

    /// Float samples (-1...1, as libsndfile normalises 16-bit by 32768) to 16-bit, clamped.
    static func int16(_ samples: [Float]) -> [Int16] {
        samples.map { Int16(clamping: Int(($0 * 32768).rounded())) }
    }

    /// Band-limited resampling with libsoxr (48 kHz input passes unchanged).
    static func resample(_ input: [Int16], from rate: Int, to target: Int) -> [Int16] {
        guard rate != target, rate > 0, !input.isEmpty else { return input }
        let floats = input.map { Float($0) / 32768 }
        guard let out = try? SampleRateConverter.convert(floats, from: rate, to: target) else { return input }
        return int16(out)
    }
}
