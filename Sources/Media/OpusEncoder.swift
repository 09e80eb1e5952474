internal import COpus

/// An Opus encoder (RFC 6716, libopus) owning its C state: bitrate, complexity, in-band FEC with
/// the expected packet-loss percentage, DTX. Not thread-safe: confine each instance to one owner.
public final class OpusEncoder {
    /// libopus application modes.
    public enum Application: Sendable { case voip, audio, restrictedLowDelay }

    public let sampleRate: Int
    public let channels: Int
    private let handle: OpaquePointer

    public init(sampleRate: Int = 48_000, channels: Int = 1, application: Application = .voip) throws(OpusError) {
        try OpusError.validate(sampleRate: sampleRate, channels: channels)
        let app: Int32 =
            switch application {
            case .voip: OPUS_APPLICATION_VOIP
            case .audio: OPUS_APPLICATION_AUDIO
            case .restrictedLowDelay: OPUS_APPLICATION_RESTRICTED_LOWDELAY
            }
        var err: Int32 = 0
        guard let h = opus_encoder_create(Int32(sampleRate), Int32(channels), app, &err), err == OPUS_OK else {
            throw OpusError(code: err == OPUS_OK ? OPUS_ALLOC_FAIL : err)
        }
        handle = h
        self.sampleRate = sampleRate
        self.channels = channels
    }

    deinit { opus_encoder_destroy(handle) }

    /// Target bitrate in bits per second (500...512000).
    public func setBitrate(_ bps: Int) throws(OpusError) {
        try OpusError.check(jk_opus_set_bitrate(handle, Int32(clamping: bps)))
    }

    public var bitrate: Int {
        var v: Int32 = 0
        _ = jk_opus_get_bitrate(handle, &v)
        return Int(v)
    }

    /// Complexity 0...10.
    public func setComplexity(_ value: Int) throws(OpusError) {
        try OpusError.check(jk_opus_set_complexity(handle, Int32(clamping: value)))
    }

    /// In-band FEC (libopus 1.3: effective only with a loss percentage above 0, in SILK/hybrid).
    public func setInbandFEC(_ on: Bool, expectedPacketLossPercent: Int) throws(OpusError) {
        try OpusError.check(jk_opus_set_inband_fec(handle, on ? 1 : 0))
        try OpusError.check(jk_opus_set_packet_loss_perc(handle, Int32(min(max(expectedPacketLossPercent, 0), 100))))
    }

    /// Expected packet loss (0...100), e.g. from RTCP receiver reports' fraction lost.
    public func setExpectedPacketLoss(percent: Int) throws(OpusError) {
        try OpusError.check(jk_opus_set_packet_loss_perc(handle, Int32(min(max(percent, 0), 100))))
    }

    /// Discontinuous transmission: near-silent frames become 1-2 byte packets.
    public func setDTX(_ on: Bool) throws(OpusError) {
        try OpusError.check(jk_opus_set_dtx(handle, on ? 1 : 0))
    }

    /// Hints that the signal is speech.
    public func setVoiceSignal() throws(OpusError) {
        try OpusError.check(jk_opus_set_signal_voice(handle))
    }

    /// Encoder delay in samples (pre-skip for Ogg Opus, RFC 7845 §4.2).
    public var lookahead: Int {
        var v: Int32 = 0
        _ = jk_opus_get_lookahead(handle, &v)
        return Int(v)
    }

    /// Encodes one frame of interleaved 16-bit PCM (`frameSize * channels` samples).
    public func encode(_ pcm: [Int16], maxPacketBytes: Int = 1500) throws(OpusError) -> [UInt8] {
        guard pcm.count % channels == 0 else { throw .pcmLengthMismatch(expected: pcm.count - pcm.count % channels, actual: pcm.count) }
        let frameSize = pcm.count / channels
        try OpusError.validate(frameSize: frameSize, sampleRate: sampleRate)
        var out = [UInt8](repeating: 0, count: max(1, maxPacketBytes))
        let n = pcm.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                guard let pi = p.baseAddress, let po = o.baseAddress else { return OPUS_BAD_ARG }
                return opus_encode(handle, pi, Int32(frameSize), po, Int32(o.count))
            }
        }
        try OpusError.check(n)
        out.removeSubrange(Int(n)...)
        return out
    }

    /// Same as `encode`, writing into caller storage; returns the packet length. For hot loops.
    public func encode(_ pcm: UnsafeBufferPointer<Int16>, into out: UnsafeMutableBufferPointer<UInt8>) throws(OpusError) -> Int {
        let frameSize = pcm.count / channels
        try OpusError.validate(frameSize: frameSize, sampleRate: sampleRate)
        guard let pi = pcm.baseAddress, let po = out.baseAddress else { throw .bufferTooSmall }
        let n = opus_encode(handle, pi, Int32(frameSize), po, Int32(out.count))
        try OpusError.check(n)
        return Int(n)
    }
}
