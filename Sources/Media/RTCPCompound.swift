/// Parsing and serialising compound RTCP packets (RFC 3550 §6.1): a sequence of RTCP packets in
/// one datagram, the first being SR or RR, padding allowed only on the last.
public enum RTCPCompound {
    /// Parses every packet in `bytes`. With `requireReportFirst` the RFC 3550 §6.1 rule that a
    /// compound packet starts with SR or RR is enforced (RFC 5761/5506 reduced-size RTCP relaxes it).
    public static func parse(_ bytes: [UInt8], requireReportFirst: Bool = true) throws(MediaWireError) -> [RTCPPacket] {
        var packets: [RTCPPacket] = []
        var offset = 0
        guard !bytes.isEmpty else { throw .truncated(what: "RTCP common header", needed: 4, available: 0) }
        while offset < bytes.count {
            var r = ByteReader(bytes, offset: offset)
            let b0 = try r.u8("RTCP common header")
            try r.need(3, "RTCP common header")
            let version = b0 >> 6
            guard version == 2 else { throw .unsupportedVersion(version) }
            let padded = b0 & 0x20 != 0
            let count = b0 & 0x1F
            let type = try r.u8("RTCP common header")
            let words = Int(try r.u16("RTCP common header"))
            let total = (words + 1) * 4
            guard offset + total <= bytes.count else {
                throw .truncated(what: "RTCP packet type \(type)", needed: total, available: bytes.count - offset)
            }
            var end = offset + total
            if padded {
                guard end == bytes.count else { throw .invalidCompound("padding on a packet that is not the last") }
                let pad = Int(bytes[end - 1])
                guard pad > 0, pad <= total - 4 else { throw .invalidPadding(count: pad, available: total - 4) }
                end -= pad
            }
            if packets.isEmpty, requireReportFirst,
                type != RTCPPacket.senderReportType, type != RTCPPacket.receiverReportType
            {
                throw .invalidCompound("first packet has type \(type), not SR or RR")
            }
            var body = ByteReader(bytes, offset: offset + 4, end: end)
            packets.append(try parseOne(type: type, count: count, body: &body))
            offset += total
        }
        return packets
    }

    private static func parseOne(type: UInt8, count: UInt8, body r: inout ByteReader) throws(MediaWireError) -> RTCPPacket {
        switch type {
        case RTCPPacket.senderReportType:
            let ssrc = try r.u32("sender report")
            let hi = try r.u32("sender report")
            let lo = try r.u32("sender report")
            let rtp = try r.u32("sender report")
            let pc = try r.u32("sender report")
            let oc = try r.u32("sender report")
            let blocks = try reportBlocks(count: Int(count), from: &r)
            let ext = try r.take(r.remaining, "profile extension")
            return .senderReport(
                RTCPSenderReport(
                    ssrc: ssrc, ntpTimestamp: NTPTimestamp(seconds: hi, fraction: lo),
                    rtpTimestamp: rtp, packetCount: pc, octetCount: oc,
                    reportBlocks: blocks, profileExtension: ext))
        case RTCPPacket.receiverReportType:
            let ssrc = try r.u32("receiver report")
            let blocks = try reportBlocks(count: Int(count), from: &r)
            let ext = try r.take(r.remaining, "profile extension")
            return .receiverReport(RTCPReceiverReport(ssrc: ssrc, reportBlocks: blocks, profileExtension: ext))
        case RTCPPacket.sourceDescriptionType:
            var chunks: [RTCPSourceDescription.Chunk] = []
            for _ in 0..<count {
                let source = try r.u32("SDES chunk")
                var items: [RTCPSourceDescription.Item] = []
                let chunkStart = r.offset - 4
                while true {
                    let itemType = try r.u8("SDES item")
                    if itemType == 0 { break }
                    let length = Int(try r.u8("SDES item length"))
                    items.append(.init(type: itemType, value: try r.take(length, "SDES item value")))
                }
                // The null terminator is followed by zeros up to the next 32-bit boundary.
                let used = r.offset - chunkStart
                let pad = (4 - used % 4) % 4
                _ = try r.take(pad, "SDES chunk padding")
                chunks.append(.init(source: source, items: items))
            }
            return .sourceDescription(RTCPSourceDescription(chunks: chunks))
        case RTCPPacket.byeType:
            var sources: [UInt32] = []
            try r.need(Int(count) * 4, "BYE sources")
            for _ in 0..<count { sources.append(try r.u32("BYE sources")) }
            var reason: String?
            if r.remaining > 0 {
                let length = Int(try r.u8("BYE reason length"))
                reason = String(decoding: try r.take(length, "BYE reason"), as: UTF8.self)
            }
            return .bye(RTCPBye(sources: sources, reason: reason))
        default:
            return .other(packetType: type, count: count, body: try r.take(r.remaining, "RTCP body"))
        }
    }

    private static func reportBlocks(count: Int, from r: inout ByteReader) throws(MediaWireError) -> [RTCPReportBlock] {
        try r.need(count * RTCPReportBlock.size, "report blocks")
        var blocks: [RTCPReportBlock] = []
        for _ in 0..<count { blocks.append(try RTCPReportBlock(reading: &r)) }
        return blocks
    }

    /// Serialises `packets` back to back. Lists longer than 31 entries (the 5-bit count) are cut.
    public static func serialize(_ packets: [RTCPPacket]) -> [UInt8] {
        var out: [UInt8] = []
        for p in packets { serializeOne(p, into: &out) }
        return out
    }

    private static func serializeOne(_ packet: RTCPPacket, into out: inout [UInt8]) {
        var body: [UInt8] = []
        var count: UInt8 = 0
        let type: UInt8
        switch packet {
        case .senderReport(let sr):
            type = RTCPPacket.senderReportType
            let blocks = sr.reportBlocks.prefix(31)
            count = UInt8(blocks.count)
            body.appendBigEndian(sr.ssrc)
            body.appendBigEndian(sr.ntpTimestamp.seconds)
            body.appendBigEndian(sr.ntpTimestamp.fraction)
            body.appendBigEndian(sr.rtpTimestamp)
            body.appendBigEndian(sr.packetCount)
            body.appendBigEndian(sr.octetCount)
            for b in blocks { b.write(to: &body) }
            body.append(contentsOf: sr.profileExtension)
        case .receiverReport(let rr):
            type = RTCPPacket.receiverReportType
            let blocks = rr.reportBlocks.prefix(31)
            count = UInt8(blocks.count)
            body.appendBigEndian(rr.ssrc)
            for b in blocks { b.write(to: &body) }
            body.append(contentsOf: rr.profileExtension)
        case .sourceDescription(let sdes):
            type = RTCPPacket.sourceDescriptionType
            let chunks = sdes.chunks.prefix(31)
            count = UInt8(chunks.count)
            for chunk in chunks {
                let start = body.count
                body.appendBigEndian(chunk.source)
                for item in chunk.items where item.type != 0 {
                    let value = item.value.prefix(255)
                    body.append(item.type)
                    body.append(UInt8(value.count))
                    body.append(contentsOf: value)
                }
                body.append(0)
                while (body.count - start) % 4 != 0 { body.append(0) }
            }
        case .bye(let bye):
            type = RTCPPacket.byeType
            let sources = bye.sources.prefix(31)
            count = UInt8(sources.count)
            for s in sources { body.appendBigEndian(s) }
            if let reason = bye.reason {
                let bytes = Array(reason.utf8.prefix(255))
                body.append(UInt8(bytes.count))
                body.append(contentsOf: bytes)
            }
        case .other(let t, let c, let b):
            type = t
            count = c & 0x1F
            body = b
        }
        while body.count % 4 != 0 { body.append(0) }
        out.append(0x80 | count)
        out.append(type)
        out.appendBigEndian(UInt16(truncatingIfNeeded: body.count / 4))
        out.append(contentsOf: body)
    }
}
