import Foundation

/// Silence: frames of zero samples (a test and placeholder source).
public struct SilenceSource: Sendable {
    public let channels: Int
    public init(channels: Int = 1) { self.channels = max(1, channels) }
    public mutating func nextFrame(samplesPerChannel: Int) -> [Int16] {
        [Int16](repeating: 0, count: max(0, samplesPerChannel) * channels)
    }
}

/// A sine tone with continuous phase across frames; the same sample is written to every channel.
public struct ToneGenerator: Sendable {
    public let frequency: Double
    public let amplitude: Double
    public let sampleRate: Int
    public let channels: Int
    private var phase: Double = 0

    /// `amplitude` is a fraction of full scale (0...1).
    public init(frequency: Double, amplitude: Double = 0.5, sampleRate: Int = 48_000, channels: Int = 1) {
        self.frequency = frequency
        self.amplitude = min(max(amplitude, 0), 1)
        self.sampleRate = max(1, sampleRate)
        self.channels = max(1, channels)
    }

    public mutating func nextFrame(samplesPerChannel: Int) -> [Int16] {
        var out: [Int16] = []
        out.reserveCapacity(max(0, samplesPerChannel) * channels)
        let step = 2 * Double.pi * frequency / Double(sampleRate)
        for _ in 0..<max(0, samplesPerChannel) {
            let v = Int16((sin(phase) * amplitude * 32767).rounded())
            for _ in 0..<channels { out.append(v) }
            phase += step
            if phase > 2 * Double.pi { phase -= 2 * Double.pi }
        }
        return out
    }
}
