internal import CSoxr

/// Why the sample-rate converter could not be made or failed (libsoxr's message).
public struct SampleRateConverterError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { "resampling failed: \(reason)" }
}

/// Band-limited sample-rate conversion of mono float audio with libsoxr (its very high quality
/// recipe, linear phase, with the pass band widened to 98% of the lower Nyquist frequency: a
/// 3.9 kHz tone of an 8 kHz prompt keeps its level), so nothing above the source's Nyquist
/// frequency appears in the output (no aliasing images, as linear interpolation leaves: a
/// 3.9 kHz tone at 8 kHz came back with an image at 4.1 kHz 8 dB down). One converter per
/// stream; owns its libsoxr handle.
public final class SampleRateConverter {
    /// Where the pass band ends, as a share of the lower Nyquist frequency (stop band from 1.0).
    public static let passbandEnd = 0.98
    public let inputRate: Int
    public let outputRate: Int
    private let handle: OpaquePointer

    public init(inputRate: Int, outputRate: Int) throws(SampleRateConverterError) {
        guard inputRate > 0, outputRate > 0 else {
            throw SampleRateConverterError(reason: "rates must be positive (\(inputRate) -> \(outputRate))")
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        var error: soxr_error_t?
        var io = jk_soxr_float32_mono_io()
        var quality = jk_soxr_very_high_quality()
        quality.passband_end = Self.passbandEnd
        guard let h = soxr_create(Double(inputRate), Double(outputRate), 1, &error, &io, &quality, nil), error == nil else {
            throw SampleRateConverterError(reason: error.map { String(cString: $0) } ?? "soxr_create failed")
        }
        handle = h
    }

    deinit { soxr_delete(handle) }

    /// Converts the next part of the stream; `finish` is true for the last part (the filter's
    /// tail is flushed). Output is aligned with the input (libsoxr removes the filter delay).
    public func process(_ input: [Float], finish: Bool = false) throws(SampleRateConverterError) -> [Float] {
        var out: [Float] = []
        let ratio = Double(outputRate) / Double(inputRate)
        var room = [Float](repeating: 0, count: Int((Double(input.count) * ratio).rounded(.up)) + 1024)
        var consumed = 0
        while consumed < input.count {
            var idone = 0, odone = 0
            let e = input.withUnsafeBufferPointer { inp in
                room.withUnsafeMutableBufferPointer { o in
                    soxr_process(
                        handle, inp.baseAddress! + consumed, input.count - consumed, &idone,
                        o.baseAddress, o.count, &odone)
                }
            }
            if let e { throw SampleRateConverterError(reason: String(cString: e)) }
            out += room[0..<odone]
            consumed += idone
            if idone == 0 && odone == 0 { break }
        }
        if finish {
            while true {
                var odone = 0
                let e = room.withUnsafeMutableBufferPointer { o in
                    soxr_process(handle, nil, 0, nil, o.baseAddress, o.count, &odone)
                }
                if let e { throw SampleRateConverterError(reason: String(cString: e)) }
                if odone == 0 { break }
                out += room[0..<odone]
            }
        }
        return out
    }

    /// A whole signal at `inputRate` converted to `outputRate`: the same rate passes unchanged.
    public static func convert(_ input: [Float], from inputRate: Int, to outputRate: Int) throws(SampleRateConverterError) -> [Float] {
        guard inputRate != outputRate, !input.isEmpty else { return input }
        return try SampleRateConverter(inputRate: inputRate, outputRate: outputRate).process(input, finish: true)
    }
}
