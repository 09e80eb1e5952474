import COpus
import Media

/// Micro-benchmarks comparing the Swift adapters with direct libopus calls over the same input,
/// for the benchmark tool to call. Timings are wall-clock per operation on the calling thread.
public enum MediaBenchmarks {
    /// One comparison: the adapter against the raw C call doing the same work.
    public struct Result: Sendable, CustomStringConvertible {
        public var name: String
        public var iterations: Int
        public var wrapper: Duration
        public var raw: Duration
        public var wrapperPerOperation: Duration { wrapper / max(1, iterations) }
        public var rawPerOperation: Duration { raw / max(1, iterations) }
        public init(name: String, iterations: Int, wrapper: Duration, raw: Duration) {
            self.name = name
            self.iterations = iterations
            self.wrapper = wrapper
            self.raw = raw
        }
        public var description: String {
            "\(name): wrapper \(Self.micro(wrapperPerOperation)) us/op, raw C \(Self.micro(rawPerOperation)) us/op (\(iterations) ops)"
        }
        static func micro(_ d: Duration) -> String {
            let (s, atto) = d.components
            let ns = Double(s) * 1e9 + Double(atto) / 1e9
            let hundredths = Int((ns / 10).rounded())
            let fraction = hundredths % 100
            return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
        }
    }

    /// Wall-clock time of `body` (typed-throws, unlike `Clock.measure`).
    public static func time<E: Error>(_ body: () throws(E) -> Void) throws(E) -> Duration {
        let start = ContinuousClock.now
        try body()
        return ContinuousClock.now - start
    }

    static func toneFrames(count: Int) -> [[Int16]] {
        var tone = ToneGenerator(frequency: 440, amplitude: 0.4)
        return (0..<count).map { _ in tone.nextFrame(samplesPerChannel: 960) }
    }

    /// Opus encode of 20 ms mono 48 kHz frames at 32 kbit/s, complexity `complexity`.
    public static func opusEncode(iterations: Int = 500, complexity: Int = 5) throws(OpusError) -> Result {
        let frames = toneFrames(count: 50)
        let encoder = try OpusEncoder()
        try encoder.setBitrate(32_000)
        try encoder.setComplexity(complexity)
        var sink = 0
        for frame in frames { sink &+= try encoder.encode(frame).count } // warm-up
        let wrapper = try time { () throws(OpusError) in
            for i in 0..<iterations { sink &+= try encoder.encode(frames[i % frames.count]).count }
        }
        var err: Int32 = 0
        guard let raw = opus_encoder_create(48_000, 1, OPUS_APPLICATION_VOIP, &err) else { throw OpusError.unknown(err) }
        defer { opus_encoder_destroy(raw) }
        _ = jk_opus_set_bitrate(raw, 32_000)
        _ = jk_opus_set_complexity(raw, Int32(complexity))
        var out = [UInt8](repeating: 0, count: 1500)
        for frame in frames { sink &+= Int(opus_encode(raw, frame, 960, &out, 1500)) } // warm-up
        let rawTime = time {
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<iterations {
                    frames[i % frames.count].withUnsafeBufferPointer { p in
                        sink &+= Int(opus_encode(raw, p.baseAddress!, 960, o.baseAddress!, 1500))
                    }
                }
            }
        }
        precondition(sink != 0)
        return Result(name: "opus encode 20 ms", iterations: iterations, wrapper: wrapper, raw: rawTime)
    }

    /// Opus decode of the packets the encoder made from the same tone.
    public static func opusDecode(iterations: Int = 2000) throws(OpusError) -> Result {
        let encoder = try OpusEncoder()
        try encoder.setBitrate(32_000)
        var packets: [[UInt8]] = []
        for frame in toneFrames(count: 50) { packets.append(try encoder.encode(frame)) }
        let decoder = try OpusDecoder()
        var sink = 0
        let wrapper = try time { () throws(OpusError) in
            for i in 0..<iterations { sink &+= try decoder.decode(packets[i % packets.count], maxFrameSize: 960).count }
        }
        var err: Int32 = 0
        guard let raw = opus_decoder_create(48_000, 1, &err) else { throw OpusError.unknown(err) }
        defer { opus_decoder_destroy(raw) }
        var pcm = [Int16](repeating: 0, count: 960)
        let rawTime = time {
            pcm.withUnsafeMutableBufferPointer { o in
                for i in 0..<iterations {
                    packets[i % packets.count].withUnsafeBufferPointer { p in
                        sink &+= Int(opus_decode(raw, p.baseAddress, Int32(p.count), o.baseAddress!, 960, 0))
                    }
                }
            }
        }
        precondition(sink != 0)
        return Result(name: "opus decode 20 ms", iterations: iterations, wrapper: wrapper, raw: rawTime)
    }
}
