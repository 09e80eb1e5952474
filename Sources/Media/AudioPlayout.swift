import EngineTime

/// The receive side of an Opus stream (RFC 7587): an `AdaptiveJitterBuffer` driving an
/// `OpusDecoder`, with FEC recovery (RFC 6716 §2.1.7), concealment, silence through the sender's
/// DTX gaps and time stretching; every `pull` returns exactly one frame of interleaved PCM. An
/// adapter (it owns the decoder); the clock is an argument.
///
/// With `timeStretching` off the jitter buffer's accelerate hints are ignored and every decoded
/// frame keeps its length, which keeps a recording sample-aligned with what was sent.
public final class AudioPlayout {
    public private(set) var jitterBuffer: AdaptiveJitterBuffer
    public let channels: Int
    public let sampleRate: Int
    public let timeStretching: Bool
    private let decoder: OpusDecoder
    private var pending: [Int16] = []
    /// Packets that failed to decode (concealed instead).
    public private(set) var decodeErrors = 0

    public init(
        configuration: AdaptiveJitterBuffer.Configuration = .init(), channels: Int = 1,
        timeStretching: Bool = true
    ) throws(OpusError) {
        jitterBuffer = AdaptiveJitterBuffer(configuration: configuration)
        decoder = try OpusDecoder(sampleRate: configuration.clockRate, channels: channels)
        self.channels = channels
        self.sampleRate = configuration.clockRate
        self.timeStretching = timeStretching
    }

    public var statistics: AdaptiveJitterBuffer.Statistics { jitterBuffer.statistics }

    @discardableResult
    public func insert(_ packet: RTPPacket, at now: EngineInstant) -> AdaptiveJitterBuffer.InsertResult {
        jitterBuffer.insert(packet, at: now)
    }

    /// Earlier frames the stream's RED packets repeat (RFC 2198): the jitter buffer waits that
    /// much longer, so a burst's lost frames are restored before they are due.
    public func setRedundancyDistance(_ frames: Int) {
        jitterBuffer.setRedundancyDistance(frames)
    }

    /// Media time taken by a telephone event (RFC 4733): not audio to wait for.
    public func noteNoAudio(from timestamp: UInt32, duration: Int) {
        jitterBuffer.noteNoAudio(from: timestamp, duration: duration)
    }

    /// One frame (`samplesPerFrame * channels` samples) for playout at `now`.
    public func pull(at now: EngineInstant) -> [Int16] {
        let frame = jitterBuffer.configuration.samplesPerFrame
        let needed = frame * channels
        var rounds = 0
        while pending.count < needed && rounds < 4 {
            rounds += 1
            switch jitterBuffer.pull(at: now, pendingSamples: pending.count / channels) {
            case .buffering:
                pending.append(contentsOf: repeatElement(0, count: needed - pending.count))
            case .silence:
                pending.append(contentsOf: repeatElement(0, count: needed))
            case .decode(let payload, _, let stretch):
                var pcm: [Int16]
                do { pcm = try decoder.decode(payload) } catch {
                    decodeErrors += 1
                    pcm = conceal(frame)
                }
                if timeStretching, stretch != .none {
                    let full = pcm.count
                    pcm = TimeStretcher.accelerateIfQuiet(pcm, channels: channels, sampleRate: sampleRate)
                    if stretch == .fastAccelerate && pcm.count == full {
                        pcm = TimeStretcher.accelerate(pcm, channels: channels, sampleRate: sampleRate)
                    }
                    jitterBuffer.didAccelerate(removedSamples: (full - pcm.count) / channels)
                }
                pending.append(contentsOf: pcm)
            case .decodeFEC(let next, _):
                pending.append(contentsOf: (try? decoder.decodeFEC(from: next, frameSize: frame)) ?? conceal(frame))
            case .conceal:
                pending.append(contentsOf: conceal(frame))
            }
        }
        if pending.count < needed { pending.append(contentsOf: repeatElement(0, count: needed - pending.count)) }
        let out = Array(pending[0..<needed])
        pending.removeFirst(needed)
        return out
    }

    private func conceal(_ frame: Int) -> [Int16] {
        (try? decoder.conceal(frameSize: frame)) ?? [Int16](repeating: 0, count: frame * channels)
    }
}
