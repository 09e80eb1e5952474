/// 16-bit PCM WAVE files (RIFF/WAVE, Microsoft "Multimedia Programming Interface and Data
/// Specifications 1.0", fmt chunk with WAVE_FORMAT_PCM or WAVE_FORMAT_EXTENSIBLE/PCM).
/// Reads any sample rate; `requireSampleRate` turns a mismatch into a clear error
/// (this library does not resample).
public struct WAVFile: Equatable, Sendable {
    public var sampleRate: Int
    public var channels: Int
    /// Interleaved samples.
    public var samples: [Int16]

    public init(sampleRate: Int = 48_000, channels: Int = 1, samples: [Int16]) {
        self.sampleRate = sampleRate
        self.channels = channels
        self.samples = samples
    }

    public enum Error: Swift.Error, Equatable, Sendable {
        case notRIFFWAVE
        case truncated(chunk: String)
        case missingChunk(String)
        case unsupportedFormat(tag: UInt16)
        case unsupportedBitsPerSample(Int)
        case unsupportedChannelCount(Int)
        case unsupportedSampleRate(found: Int, required: Int)
        case invalidFormat(String)
    }

    public init(parsing bytes: [UInt8], requireSampleRate: Int? = nil) throws(WAVFile.Error) {
        func le16(_ o: Int) -> UInt16 { UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8 }
        func le32(_ o: Int) -> UInt32 { UInt32(le16(o)) | UInt32(le16(o + 2)) << 16 }
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else {
            throw .notRIFFWAVE
        }
        var offset = 12
        var format: (channels: Int, rate: Int, bits: Int)?
        var data: ArraySlice<UInt8>?
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<offset + 4], as: UTF8.self)
            let size = Int(le32(offset + 4))
            let body = offset + 8
            let available = bytes.count - body
            if id == "fmt " {
                guard size >= 16, available >= 16 else { throw .truncated(chunk: "fmt ") }
                var tag = le16(body)
                let channels = Int(le16(body + 2))
                let rate = Int(le32(body + 4))
                let blockAlign = Int(le16(body + 12))
                let bits = Int(le16(body + 14))
                if tag == 0xFFFE {
                    guard size >= 40, available >= 40 else { throw .truncated(chunk: "fmt  (extensible)") }
                    tag = le16(body + 24) // first two bytes of the SubFormat GUID
                }
                guard tag == 1 else { throw .unsupportedFormat(tag: tag) }
                guard bits == 16 else { throw .unsupportedBitsPerSample(bits) }
                guard channels == 1 || channels == 2 else { throw .unsupportedChannelCount(channels) }
                guard blockAlign == channels * 2 else { throw .invalidFormat("block align \(blockAlign) for \(channels) channels") }
                guard rate > 0 else { throw .invalidFormat("sample rate 0") }
                format = (channels, rate, bits)
            } else if id == "data" {
                // Streams written before their length was known may claim more than is present.
                data = bytes[body..<(body + min(size, available))]
            }
            guard size <= available else { break }
            offset = body + size + (size & 1)
        }
        guard let format else { throw .missingChunk("fmt ") }
        guard let data else { throw .missingChunk("data") }
        if let required = requireSampleRate, required != format.rate {
            throw .unsupportedSampleRate(found: format.rate, required: required)
        }
        sampleRate = format.rate
        channels = format.channels
        let usable = data.count - data.count % (2 * format.channels)
        var out = [Int16]()
        out.reserveCapacity(usable / 2)
        var i = data.startIndex
        while i < data.startIndex + usable {
            out.append(Int16(bitPattern: UInt16(data[i]) | UInt16(data[i + 1]) << 8))
            i += 2
        }
        samples = out
    }

    public func serialized() -> [UInt8] {
        func le16(_ v: UInt16, _ out: inout [UInt8]) { out.append(UInt8(v & 0xFF)); out.append(UInt8(v >> 8)) }
        func le32(_ v: UInt32, _ out: inout [UInt8]) { le16(UInt16(v & 0xFFFF), &out); le16(UInt16(v >> 16), &out) }
        let dataSize = UInt32(truncatingIfNeeded: samples.count * 2)
        var out: [UInt8] = Array("RIFF".utf8)
        out.reserveCapacity(44 + samples.count * 2)
        le32(36 &+ dataSize, &out)
        out += Array("WAVEfmt ".utf8)
        le32(16, &out)
        le16(1, &out)
        le16(UInt16(channels), &out)
        le32(UInt32(sampleRate), &out)
        le32(UInt32(sampleRate * channels * 2), &out)
        le16(UInt16(channels * 2), &out)
        le16(16, &out)
        out += Array("data".utf8)
        le32(dataSize, &out)
        for s in samples { le16(UInt16(bitPattern: s), &out) }
        return out
    }
}
