/// The Opus identification header (RFC 7845 §5.1), channel mapping family 0 (mono/stereo).
public struct OpusHead: Equatable, Sendable {
    public var channels: Int
    /// Samples at 48 kHz to discard from the decoder output at the start (the encoder lookahead).
    public var preSkip: Int
    public var inputSampleRate: Int
    /// Output gain in Q7.8 dB.
    public var outputGain: Int16

    public init(channels: Int, preSkip: Int, inputSampleRate: Int = 48_000, outputGain: Int16 = 0) {
        self.channels = channels
        self.preSkip = preSkip
        self.inputSampleRate = inputSampleRate
        self.outputGain = outputGain
    }

    func serialized() -> [UInt8] {
        var out: [UInt8] = Array("OpusHead".utf8) + [1, UInt8(clamping: channels)]
        out += [UInt8(preSkip & 0xFF), UInt8((preSkip >> 8) & 0xFF)]
        for i in 0..<4 { out.append(UInt8((inputSampleRate >> (8 * i)) & 0xFF)) }
        let g = UInt16(bitPattern: outputGain)
        out += [UInt8(g & 0xFF), UInt8(g >> 8), 0]
        return out
    }

    init(parsing p: [UInt8]) throws(OggError) {
        guard p.count >= 19, p[0..<8].elementsEqual("OpusHead".utf8) else { throw .missingOpusHead }
        guard p[8] & 0xF0 == 0 else { throw .invalidOpusHead("version \(p[8])") }
        guard p[9] >= 1 else { throw .invalidOpusHead("channel count 0") }
        guard p[18] == 0 else { throw .invalidOpusHead("channel mapping family \(p[18])") }
        channels = Int(p[9])
        preSkip = Int(p[10]) | Int(p[11]) << 8
        inputSampleRate = Int(p[12]) | Int(p[13]) << 8 | Int(p[14]) << 16 | Int(p[15]) << 24
        outputGain = Int16(bitPattern: UInt16(p[16]) | UInt16(p[17]) << 8)
    }
}

/// Writes an Ogg Opus stream (RFC 7845): OpusHead alone on the first page (BOS), OpusTags on the
/// second, then audio pages whose granule position counts 48 kHz samples through the last packet
/// completed on the page; the last page carries EOS.
public struct OggOpusWriter: Sendable {
    public let head: OpusHead
    public let serial: UInt32
    public let vendor: String
    public var packetsPerPage: Int
    private var sequence: UInt32 = 0
    private var granule: Int64 = 0
    private var pending: [[UInt8]] = []

    public init(head: OpusHead, serial: UInt32, vendor: String = "JingleKit", packetsPerPage: Int = 50) {
        self.head = head
        self.serial = serial
        self.vendor = vendor
        self.packetsPerPage = max(1, packetsPerPage)
    }

    /// The two header pages.
    public mutating func headerPages() -> [UInt8] {
        var tags: [UInt8] = Array("OpusTags".utf8)
        let v = Array(vendor.utf8)
        for i in 0..<4 { tags.append(UInt8((v.count >> (8 * i)) & 0xFF)) }
        tags += v
        tags += [0, 0, 0, 0] // no user comments
        return page(packets: [head.serialized()], bos: true, eos: false, granule: 0)
            + page(packets: [tags], bos: false, eos: false, granule: 0)
    }

    /// Adds one Opus packet of `samples` (48 kHz) and returns any page that became complete.
    public mutating func append(packet: [UInt8], samples: Int) -> [UInt8] {
        pending.append(packet)
        granule += Int64(samples)
        let lacing = pending.reduce(0) { $0 + $1.count / 255 + 1 }
        guard pending.count >= packetsPerPage || lacing > 200 else { return [] }
        defer { pending = [] }
        return page(packets: pending, bos: false, eos: false, granule: granule)
    }

    /// Flushes the last packets on a page marked end-of-stream.
    public mutating func finish() -> [UInt8] {
        defer { pending = [] }
        return page(packets: pending, bos: false, eos: true, granule: granule)
    }

    private mutating func page(packets: [[UInt8]], bos: Bool, eos: Bool, granule: Int64) -> [UInt8] {
        var segments: [UInt8] = []
        var body: [UInt8] = []
        for p in packets {
            segments += [UInt8](repeating: 255, count: p.count / 255)
            segments.append(UInt8(p.count % 255))
            body += p
        }
        // Packets longer than one page's 255 segments are not produced by 20 ms Opus frames.
        let page = OggPage(
            continued: false, beginningOfStream: bos, endOfStream: eos, granulePosition: granule,
            serial: serial, sequence: sequence, segments: Array(segments.prefix(255)), body: body)
        sequence += 1
        return page.serialized()
    }
}

/// A parsed Ogg Opus stream (RFC 7845): the identification header, vendor string, the audio
/// packets in order and the final granule position (so duration = granule - preSkip samples).
public struct OggOpusFile: Equatable, Sendable {
    public var head: OpusHead
    public var vendor: String
    public var packets: [[UInt8]]
    public var finalGranulePosition: Int64

    public init(parsing bytes: [UInt8]) throws(OggError) {
        var offset = 0
        var raw: [[UInt8]] = []
        var partial: [UInt8] = []
        var serial: UInt32?
        var granule: Int64 = 0
        while offset < bytes.count {
            let (page, next) = try OggPage.parse(bytes, at: offset)
            offset = next
            if let s = serial, s != page.serial { throw .unexpectedStream(serial: page.serial) }
            serial = page.serial
            if !page.continued { partial = [] }
            var cursor = 0
            for lace in page.segments {
                partial += page.body[cursor..<(cursor + Int(lace))]
                cursor += Int(lace)
                if lace < 255 {
                    raw.append(partial)
                    partial = []
                }
            }
            if page.granulePosition >= 0 { granule = page.granulePosition }
        }
        guard let first = raw.first else { throw .missingOpusHead }
        head = try OpusHead(parsing: first)
        guard raw.count >= 2, raw[1].count >= 16, raw[1][0..<8].elementsEqual("OpusTags".utf8) else { throw .missingOpusTags }
        let tags = raw[1]
        let length = Int(tags[8]) | Int(tags[9]) << 8 | Int(tags[10]) << 16 | Int(tags[11]) << 24
        guard length <= tags.count - 12 else { throw .missingOpusTags }
        vendor = String(decoding: tags[12..<(12 + length)], as: UTF8.self)
        packets = Array(raw.dropFirst(2))
        finalGranulePosition = granule
    }
}
