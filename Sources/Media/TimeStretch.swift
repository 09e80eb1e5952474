/// Pitch-synchronous time stretching of interleaved 16-bit PCM (the overlap-add idea behind
/// NetEq's accelerate and preemptive expand): remove or repeat one pitch period, found by
/// normalised autocorrelation, with a linear crossfade so no discontinuity is heard.
public enum TimeStretcher {
    /// Best pitch period (samples per channel) in `range`, on the channel mix.
    static func pitchPeriod(_ pcm: [Int16], channels: Int, range: ClosedRange<Int>) -> Int {
        let n = pcm.count / channels
        var mono = [Float](repeating: 0, count: n)
        for i in 0..<n {
            var s: Float = 0
            for c in 0..<channels { s += Float(pcm[i * channels + c]) }
            mono[i] = s
        }
        var best = range.lowerBound
        var bestScore = -Float.infinity
        for lag in range where 2 * lag <= n {
            var xy: Float = 0, xx: Float = 0, yy: Float = 0
            for i in 0..<lag {
                xy += mono[i] * mono[i + lag]
                xx += mono[i] * mono[i]
                yy += mono[i + lag] * mono[i + lag]
            }
            let score = xy / max(1, (xx * yy).squareRoot())
            if score > bestScore { bestScore = score; best = lag }
        }
        return best
    }

    /// The pitch search range for a sample rate: 2.5 ms to 10 ms (at most half the frame).
    static func range(sampleRate: Int, frame: Int) -> ClosedRange<Int> {
        let low = max(1, sampleRate / 400)
        let high = max(low, min(sampleRate / 100, frame / 2))
        return low...high
    }

    /// Shortens the frame by one pitch period: crossfade x[0..<P] into x[P..<2P], then x[2P...].
    public static func accelerate(_ pcm: [Int16], channels: Int, sampleRate: Int) -> [Int16] {
        let n = pcm.count / max(1, channels)
        let r = range(sampleRate: sampleRate, frame: n)
        guard n >= 2 * r.lowerBound else { return pcm }
        return remove(period: pitchPeriod(pcm, channels: channels, range: r), from: pcm, channels: channels)
    }

    /// Root-mean-square level of the samples (0...32768).
    public static func rms(_ pcm: [Int16]) -> Double {
        guard !pcm.isEmpty else { return 0 }
        var sum = 0.0
        for s in pcm { sum += Double(s) * Double(s) }
        return (sum / Double(pcm.count)).squareRoot()
    }

    /// Accelerate where it cannot be heard: a quiet frame (RMS below `quietLevel`, about -35 dBFS
    /// by default: a pause between words) loses 10 ms (at most half of it) with a crossfade;
    /// a louder frame is returned unchanged, so speech keeps its rhythm.
    public static func accelerateIfQuiet(
        _ pcm: [Int16], channels: Int, sampleRate: Int,
        quietLevel: Double = 600
    ) -> [Int16] {
        let n = pcm.count / max(1, channels)
        let p = min(n / 2, max(1, sampleRate / 100))
        guard p > 0, rms(pcm) < quietLevel else { return pcm }
        return remove(period: p, from: pcm, channels: channels)
    }

    /// Crossfades x[0..<p] into x[p..<2p] and appends x[2p...]: the frame is `p` samples shorter.
    static func remove(period p: Int, from pcm: [Int16], channels: Int) -> [Int16] {
        var out: [Int16] = []
        out.reserveCapacity(pcm.count - p * channels)
        for i in 0..<p {
            let w = Float(i) / Float(p)
            for c in 0..<channels {
                let a = Float(pcm[i * channels + c]), b = Float(pcm[(i + p) * channels + c])
                out.append(Int16(clamping: Int((a * (1 - w) + b * w).rounded())))
            }
        }
        out.append(contentsOf: pcm[(2 * p * channels)...])
        return out
    }

    /// Lengthens the frame by one pitch period: x[0..<P], crossfade x[P..<2P] into x[0..<P], x[P...].
    public static func expand(_ pcm: [Int16], channels: Int, sampleRate: Int) -> [Int16] {
        let n = pcm.count / max(1, channels)
        let r = range(sampleRate: sampleRate, frame: n)
        guard n >= 2 * r.lowerBound else { return pcm }
        let p = pitchPeriod(pcm, channels: channels, range: r)
        var out = Array(pcm[0..<(p * channels)])
        out.reserveCapacity(pcm.count + p * channels)
        for i in 0..<p {
            let w = Float(i) / Float(p)
            for c in 0..<channels {
                let a = Float(pcm[(i + p) * channels + c]), b = Float(pcm[i * channels + c])
                out.append(Int16(clamping: Int((a * (1 - w) + b * w).rounded())))
            }
        }
        out.append(contentsOf: pcm[(p * channels)...])
        return out
    }
}
