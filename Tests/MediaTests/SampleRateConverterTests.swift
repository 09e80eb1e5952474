import Foundation
import Media
import Testing

/// libsoxr instead of linear interpolation: a tone near the source's Nyquist frequency keeps its
/// frequency and level, and nothing appears above that Nyquist frequency (linear interpolation
/// leaves images there: a 3.9 kHz tone at 8 kHz comes back with one at 4.1 kHz only 8 dB down).
@Suite struct SampleRateConverterTests {
    /// Power of one frequency in a Hann-windowed signal, relative to a full-scale sine (dB).
    static func level(_ x: [Float], at frequency: Double, rate: Int) -> Double {
        let n = x.count
        let w = 2 * cos(2 * Double.pi * frequency / Double(rate))
        var s1 = 0.0, s2 = 0.0
        for i in 0..<n {
            let hann = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n - 1))
            let s0 = Double(x[i]) * hann + w * s1 - s2
            s2 = s1
            s1 = s0
        }
        let power = s1 * s1 + s2 * s2 - w * s1 * s2
        // A full-scale sine gives (n/4)^2 through the Hann window (coherent gain 0.5, amplitude/2).
        let reference = pow(Double(n) / 4, 2)
        return 10 * log10(max(power / reference, 1e-30))
    }

    static func tone(_ frequency: Double, rate: Int, seconds: Double, amplitude: Float) -> [Float] {
        (0..<Int(Double(rate) * seconds)).map { amplitude * Float(sin(2 * Double.pi * frequency * Double($0) / Double(rate))) }
    }

    @Test(arguments: [(8000, 3900.0), (8000, 1000.0), (44_100, 21_000.0), (16_000, 7800.0)])
    func aToneKeepsItsFrequencyAndLeavesNoImages(rate: Int, frequency: Double) throws {
        let input = Self.tone(frequency, rate: rate, seconds: 1, amplitude: 0.5)
        let output = try SampleRateConverter.convert(input, from: rate, to: 48_000)
        #expect(abs(output.count - 48_000) <= 1, "\(output.count) samples")
        let body = Array(output[4800..<43_200]) // away from the edges
        let toneLevel = Self.level(body, at: frequency, rate: 48_000)
        #expect(toneLevel > -6.02 - 1.5 && toneLevel < -6.02 + 0.5, "the \(frequency) Hz tone at \(toneLevel) dB (written at -6.02)")
        // Nothing from the source's Nyquist frequency up to 24 kHz: scan every 25 Hz.
        let nyquist = Double(rate) / 2
        var worst = (frequency: 0.0, level: -300.0)
        var f = nyquist + 50
        while f < 24_000 {
            let l = Self.level(body, at: f, rate: 48_000)
            if l > worst.level { worst = (f, l) }
            f += 25
        }
        #expect(worst.level < toneLevel - 60, "strongest component above \(nyquist) Hz: \(worst.level) dB at \(worst.frequency) Hz")
    }

    @Test func linearInterpolationWouldFailTheSameCheck() {
        // The old resampler, kept here as the reference the new one is measured against.
        let input = Self.tone(3900, rate: 8000, seconds: 1, amplitude: 0.5)
        var linear = [Float](repeating: 0, count: 48_000)
        for i in linear.indices {
            let x = Double(i) / 6, j = Int(x), t = Float(x - Double(j))
            linear[i] = input[min(j, input.count - 1)] * (1 - t) + input[min(j + 1, input.count - 1)] * t
        }
        let image = Self.level(Array(linear[4800..<43_200]), at: 4100, rate: 48_000)
        #expect(image > -20, "linear interpolation's image at 4.1 kHz: \(image) dB")
    }

    @Test func streamingInPartsMatchesOneShot() throws {
        let input = Self.tone(440, rate: 8000, seconds: 0.5, amplitude: 0.3)
        let whole = try SampleRateConverter.convert(input, from: 8000, to: 48_000)
        let converter = try SampleRateConverter(inputRate: 8000, outputRate: 48_000)
        var parts = try converter.process(Array(input[0..<1000]))
        parts += try converter.process(Array(input[1000...]), finish: true)
        #expect(parts.count == whole.count)
        #expect(zip(parts, whole).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(try SampleRateConverter.convert(input, from: 48_000, to: 48_000) == input, "48 kHz passes unchanged")
    }
}
