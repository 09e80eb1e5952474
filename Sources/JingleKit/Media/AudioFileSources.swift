import Foundation
import Media
import Synchronization

/// Why an audio file could not be used as a call's source.
public enum CallAudioFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case invalidWAV(path: String, reason: String)
    case invalidOggOpus(path: String, reason: String)
    case unsupportedExtension(path: String)
    case unwritable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let p, let r): "\(p): cannot read: \(r)"
        case .invalidWAV(let p, let r): "\(p): not a usable WAV file: \(r)"
        case .invalidOggOpus(let p, let r): "\(p): not a usable Ogg Opus file (RFC 7845): \(r)"
        case .unsupportedExtension(let p): "\(p): unknown audio file type (use .wav, .ogg or .opus)"
        case .unwritable(let p, let r): "\(p): cannot write: \(r)"
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

    /// A source for a WAV (any rate and channel count: mixed to mono, resampled to 48 kHz) or an
    /// Ogg Opus file (RFC 7845), chosen by extension.
    public static func file(_ url: URL, loop: Bool = false) throws(CallAudioFileError) -> PCMBufferSource {
        switch url.pathExtension.lowercased() {
        case "wav", "wave": return try WAVFileSource.load(url, loop: loop)
        case "ogg", "opus", "oga": return try OggOpusFileSource.load(url, loop: loop)
        default: throw .unsupportedExtension(path: url.path)
        }
    }

    static func read(_ url: URL) throws(CallAudioFileError) -> [UInt8] {
        do { return Array(try Data(contentsOf: url)) } catch {
            throw .unreadable(path: url.path, reason: error.localizedDescription)
        }
    }
}

/// WAV files as call sources (16-bit PCM; mixed down to mono and resampled to 48 kHz).
public enum WAVFileSource {
    public static func load(_ url: URL, loop: Bool = false) throws(CallAudioFileError) -> PCMBufferSource {
        let wav: WAVFile
        do { wav = try WAVFile(parsing: try PCMBufferSource.read(url)) } catch let e as CallAudioFileError { throw e } catch {
            throw .invalidWAV(path: url.path, reason: "\(error)")
        }
        let mono = AudioConversion.mixToMono(wav.samples, channels: wav.channels)
        return PCMBufferSource(samples: AudioConversion.resample(mono, from: wav.sampleRate, to: CallAudio.sampleRate), loop: loop)
    }
}

/// Ogg Opus files (RFC 7845) as call sources: decoded at 48 kHz, pre-skip removed, mixed to mono.
public enum OggOpusFileSource {
    public static func load(_ url: URL, loop: Bool = false) throws(CallAudioFileError) -> PCMBufferSource {
        let bytes = try PCMBufferSource.read(url)
        do {
            let file = try OggOpusFile(parsing: bytes)
            let channels = max(1, min(2, file.head.channels))
            let decoder = try OpusDecoder(sampleRate: 48_000, channels: channels)
            var pcm: [Int16] = []
            for packet in file.packets { pcm += try decoder.decode(packet) }
            var mono = AudioConversion.mixToMono(pcm, channels: channels)
            mono.removeFirst(min(mono.count, file.head.preSkip))
            return PCMBufferSource(samples: mono, loop: loop)
        } catch {
            throw .invalidOggOpus(path: url.path, reason: "\(error)")
        }
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

    /// Linear-interpolation resampling (good enough for prompts; 48 kHz input passes unchanged).
    static func resample(_ input: [Int16], from rate: Int, to target: Int) -> [Int16] {
        guard rate != target, rate > 0, !input.isEmpty else { return input }
        let count = Int((Double(input.count) * Double(target) / Double(rate)).rounded())
        var out = [Int16](repeating: 0, count: count)
        let step = Double(rate) / Double(target)
        for i in 0..<count {
            let x = Double(i) * step
            let j = Int(x)
            let f = x - Double(j)
            let a = Double(input[min(j, input.count - 1)])
            let b = Double(input[min(j + 1, input.count - 1)])
            out[i] = Int16(clamping: Int((a + (b - a) * f).rounded()))
        }
        return out
    }
}
