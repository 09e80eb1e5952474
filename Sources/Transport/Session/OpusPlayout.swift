import Media

/// The receive side of one Opus stream (RFC 7587): `AdaptiveJitterBuffer` decisions turned into
/// one 20 ms PCM frame per pull, with in-band FEC recovery (RFC 6716 §2.1.7) and concealment.
/// Like `AudioPlayout`, but time stretching can be switched off: then the jitter buffer's
/// accelerate hints are ignored and every frame is exactly one frame long, which keeps a
/// recording sample-aligned with what was sent. Called with the session's lock held.
final class OpusPlayout {
    private(set) var jitterBuffer: AdaptiveJitterBuffer
    private let decoder: OpusDecoder
    private let timeStretching: Bool
    private let sampleRate: Int
    private var pending: [Int16] = []
    private(set) var decodeErrors = 0

    init(configuration: AdaptiveJitterBuffer.Configuration, timeStretching: Bool) throws(OpusError) {
        jitterBuffer = AdaptiveJitterBuffer(configuration: configuration)
        decoder = try OpusDecoder(sampleRate: configuration.clockRate, channels: 1)
        self.timeStretching = timeStretching
        self.sampleRate = configuration.clockRate
    }

    func insert(_ packet: RTPPacket, at now: ContinuousClock.Instant) {
        jitterBuffer.insert(packet, at: now)
    }

    /// Media time taken by a telephone event: not audio to wait for.
    func noteNoAudio(from timestamp: UInt32, duration: Int) {
        jitterBuffer.noteNoAudio(from: timestamp, duration: duration)
    }

    func pull(at now: ContinuousClock.Instant) -> [Int16] {
        let frame = jitterBuffer.configuration.samplesPerFrame
        var rounds = 0
        while pending.count < frame && rounds < 4 {
            rounds += 1
            switch jitterBuffer.pull(at: now, pendingSamples: pending.count) {
            case .buffering:
                pending.append(contentsOf: repeatElement(0, count: frame - pending.count))
            case .decode(let payload, _, let stretch):
                var pcm: [Int16]
                do { pcm = try decoder.decode(payload) } catch {
                    decodeErrors += 1
                    pcm = silenceOrConcealment(frame)
                }
                if timeStretching, stretch != .none {
                    let full = pcm.count
                    pcm = TimeStretcher.accelerateIfQuiet(pcm, channels: 1, sampleRate: sampleRate)
                    if stretch == .fastAccelerate && pcm.count == full {
                        pcm = TimeStretcher.accelerate(pcm, channels: 1, sampleRate: sampleRate)
                    }
                    jitterBuffer.didAccelerate(removedSamples: full - pcm.count)
                }
                pending.append(contentsOf: pcm)
            case .decodeFEC(let next, _):
                pending.append(contentsOf: (try? decoder.decodeFEC(from: next, frameSize: frame)) ?? silenceOrConcealment(frame))
            case .conceal:
                pending.append(contentsOf: silenceOrConcealment(frame))
            }
        }
        if pending.count < frame { pending.append(contentsOf: repeatElement(0, count: frame - pending.count)) }
        let out = Array(pending[0..<frame])
        pending.removeFirst(frame)
        return out
    }

    private func silenceOrConcealment(_ frame: Int) -> [Int16] {
        (try? decoder.conceal(frameSize: frame)) ?? [Int16](repeating: 0, count: frame)
    }
}
