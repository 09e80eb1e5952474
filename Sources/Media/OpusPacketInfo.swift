/// What the table-of-contents byte of an Opus packet says (RFC 6716 §3.1, as RTP carries it
/// per RFC 7587 §4.2: one Opus packet per RTP payload, timestamps always at 48 kHz).
public struct OpusPacketInfo: Equatable, Sendable {
    public enum Mode: Equatable, Sendable { case silk, hybrid, celt }
    public enum Bandwidth: Equatable, Sendable { case narrowband, mediumband, wideband, superwideband, fullband }

    public let configuration: UInt8
    public let mode: Mode
    public let bandwidth: Bandwidth
    /// Duration of each frame in 48 kHz samples.
    public let samplesPerFrame: Int
    public let frameCount: Int
    public let isStereo: Bool

    /// RTP timestamp increment this packet represents (RFC 7587 §4.1: 48 kHz clock).
    public var totalSamples: Int { samplesPerFrame * frameCount }

    /// RTP clock rate for Opus, whatever the coded bandwidth (RFC 7587 §4.1).
    public static let rtpClockRate = 48_000

    public init(parsing payload: [UInt8]) throws(MediaWireError) {
        guard let toc = payload.first else { throw .truncated(what: "Opus TOC byte", needed: 1, available: 0) }
        let config = toc >> 3
        configuration = config
        isStereo = toc & 0x04 != 0
        switch config {
        case 0...11:
            mode = .silk
            bandwidth = config < 4 ? .narrowband : config < 8 ? .mediumband : .wideband
            samplesPerFrame = [480, 960, 1920, 2880][Int(config % 4)]
        case 12...15:
            mode = .hybrid
            bandwidth = config < 14 ? .superwideband : .fullband
            samplesPerFrame = config % 2 == 0 ? 480 : 960
        default:
            mode = .celt
            let band = (config - 16) / 4
            bandwidth = [.narrowband, .wideband, .superwideband, .fullband][Int(band)]
            samplesPerFrame = [120, 240, 480, 960][Int(config % 4)]
        }
        switch toc & 0x03 {
        case 0: frameCount = 1
        case 1, 2: frameCount = 2
        default:
            guard payload.count >= 2 else { throw .truncated(what: "Opus frame count byte", needed: 2, available: payload.count) }
            let m = Int(payload[1] & 0x3F)
            guard m > 0 else { throw .valueOutOfRange(what: "Opus frame count", value: m) }
            frameCount = m
        }
        // RFC 6716 §3.2.5: a packet may not exceed 120 ms.
        guard samplesPerFrame * frameCount <= 5760 else {
            throw .valueOutOfRange(what: "Opus packet duration (samples)", value: samplesPerFrame * frameCount)
        }
    }
}
