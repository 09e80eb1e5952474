internal import COpus

/// An Opus decoder (RFC 6716, libopus) owning its C state: normal decode, decode of the in-band
/// FEC copy carried by the following packet, and packet-loss concealment. Not thread-safe.
public final class OpusDecoder {
    public let sampleRate: Int
    public let channels: Int
    private let handle: OpaquePointer

    public init(sampleRate: Int = 48_000, channels: Int = 1) throws(OpusError) {
        try OpusError.validate(sampleRate: sampleRate, channels: channels)
        var err: Int32 = 0
        guard let h = opus_decoder_create(Int32(sampleRate), Int32(channels), &err), err == OPUS_OK else {
            throw OpusError(code: err == OPUS_OK ? OPUS_ALLOC_FAIL : err)
        }
        handle = h
        self.sampleRate = sampleRate
        self.channels = channels
    }

    deinit { opus_decoder_destroy(handle) }

    /// Decodes one packet to interleaved PCM. Up to `maxFrameSize` samples per channel (120 ms).
    public func decode(_ packet: [UInt8], maxFrameSize: Int? = nil) throws(OpusError) -> [Int16] {
        guard !packet.isEmpty else { throw .invalidPacket }
        return try run(packet: packet, frameSize: maxFrameSize ?? sampleRate * 12 / 100, fec: false)
    }

    /// Recovers the frame *before* `nextPacket` from the FEC data in `nextPacket`; `frameSize` is
    /// the lost frame's duration. If the packet carries no FEC, libopus conceals instead.
    public func decodeFEC(from nextPacket: [UInt8], frameSize: Int) throws(OpusError) -> [Int16] {
        guard !nextPacket.isEmpty else { throw .invalidPacket }
        try OpusError.validate(frameSize: frameSize, sampleRate: sampleRate)
        return try run(packet: nextPacket, frameSize: frameSize, fec: true)
    }

    /// Packet-loss concealment for a missing frame of `frameSize` samples per channel.
    public func conceal(frameSize: Int) throws(OpusError) -> [Int16] {
        try OpusError.validate(frameSize: frameSize, sampleRate: sampleRate)
        return try run(packet: nil, frameSize: frameSize, fec: false)
    }

    /// Duration of the last decoded packet in samples per channel.
    public var lastPacketDuration: Int {
        var v: Int32 = 0
        _ = jk_opus_decoder_get_last_packet_duration(handle, &v)
        return Int(v)
    }

    private func run(packet: [UInt8]?, frameSize: Int, fec: Bool) throws(OpusError) -> [Int16] {
        guard frameSize > 0 else { throw .invalidFrameSize(frameSize) }
        var pcm = [Int16](repeating: 0, count: frameSize * channels)
        let n: Int32 = pcm.withUnsafeMutableBufferPointer { out in
            guard let o = out.baseAddress else { return OPUS_BAD_ARG }
            if let packet {
                return packet.withUnsafeBufferPointer { p in
                    opus_decode(handle, p.baseAddress, Int32(p.count), o, Int32(frameSize), fec ? 1 : 0)
                }
            }
            return opus_decode(handle, nil, 0, o, Int32(frameSize), 0)
        }
        try OpusError.check(n)
        pcm.removeSubrange((Int(n) * channels)...)
        return pcm
    }

    /// Same as `decode`, writing into caller storage; returns samples per channel. For hot loops.
    public func decode(_ packet: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<Int16>) throws(OpusError) -> Int {
        guard let o = out.baseAddress, out.count >= channels else { throw .bufferTooSmall }
        let n = opus_decode(handle, packet.baseAddress, Int32(packet.count), o, Int32(out.count / channels), 0)
        try OpusError.check(n)
        return Int(n)
    }
}
