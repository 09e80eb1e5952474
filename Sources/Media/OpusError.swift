internal import COpus

/// A libopus failure (RFC 6716 reference implementation error codes), or a caller error the
/// adapter caught before calling into C.
public enum OpusError: Error, Equatable, Sendable {
    case badArgument
    case bufferTooSmall
    case internalError
    case invalidPacket
    case unimplemented
    case invalidState
    case allocationFailed
    case unknown(Int32)
    /// The sample rate is not one Opus supports (8, 12, 16, 24 or 48 kHz).
    case unsupportedSampleRate(Int)
    /// Only mono and stereo are supported.
    case unsupportedChannelCount(Int)
    /// A frame must be 2.5, 5, 10, 20, 40 or 60 ms of samples per channel.
    case invalidFrameSize(Int)
    /// The PCM count is not a whole number of frames for the channel count.
    case pcmLengthMismatch(expected: Int, actual: Int)

    init(code: Int32) {
        switch code {
        case OPUS_BAD_ARG: self = .badArgument
        case OPUS_BUFFER_TOO_SMALL: self = .bufferTooSmall
        case OPUS_INTERNAL_ERROR: self = .internalError
        case OPUS_INVALID_PACKET: self = .invalidPacket
        case OPUS_UNIMPLEMENTED: self = .unimplemented
        case OPUS_INVALID_STATE: self = .invalidState
        case OPUS_ALLOC_FAIL: self = .allocationFailed
        default: self = .unknown(code)
        }
    }

    static func check(_ code: Int32) throws(OpusError) {
        if code < 0 { throw OpusError(code: code) }
    }

    static func validate(sampleRate: Int, channels: Int) throws(OpusError) {
        guard [8000, 12000, 16000, 24000, 48000].contains(sampleRate) else { throw .unsupportedSampleRate(sampleRate) }
        guard channels == 1 || channels == 2 else { throw .unsupportedChannelCount(channels) }
    }

    static func validate(frameSize: Int, sampleRate: Int) throws(OpusError) {
        // 2.5 ms steps: 400 per second divided by the allowed multiples.
        let allowed = [
            sampleRate / 400, sampleRate / 200, sampleRate / 100, sampleRate / 50,
            sampleRate / 25, sampleRate * 3 / 50,
        ]
        guard allowed.contains(frameSize) else { throw .invalidFrameSize(frameSize) }
    }
}
