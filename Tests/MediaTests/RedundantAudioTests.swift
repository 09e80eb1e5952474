import Testing
@testable import Media

/// RFC 2198 payloads as libwebrtc writes them for Opus (RED payload type 63 carrying Opus 111 =
/// 0x6F): a 4-octet header per redundant block (0xEF = F bit + 111, then 14 bits of timestamp
/// offset and 10 bits of length), a 1-octet primary header (0x6F), the blocks oldest first, the
/// primary last. Opus frames start with TOC 0xF8 (CELT fullband 20 ms, one frame = 960 samples).
@Suite struct RedundantAudioPayloadTests {
    static let older: [UInt8] = [0xF8, 0xA1, 0xA2]
    static let newer: [UInt8] = [0xF8, 0xB1, 0xB2, 0xB3]
    static let primary: [UInt8] = [0xF8, 0xC1, 0xC2, 0xC3, 0xC4]

    /// One redundant block 960 samples back (offset 960 << 10 | length 4 = 0x0F0004) + primary.
    static let oneRedundant: [UInt8] = [0xEF, 0x0F, 0x00, 0x04, 0x6F] + newer + primary
    /// Two redundant blocks, 1920 (0x1E0003) and 960 (0x0F0004) back, oldest first.
    static let twoRedundant: [UInt8] = [0xEF, 0x1E, 0x00, 0x03, 0xEF, 0x0F, 0x00, 0x04, 0x6F] + older + newer + primary
    /// The first packet of a stream: nothing to repeat yet, the primary alone in RED form.
    static let primaryOnly: [UInt8] = [0x6F] + primary

    @Test func parsesOneRedundantBlock() throws {
        let red = try RedundantAudioPayload(parsing: Self.oneRedundant)
        #expect(red.primaryPayloadType == 111 && red.primary == Self.primary)
        #expect(red.redundant == [try .init(payloadType: 111, timestampOffset: 960, data: Self.newer)])
        #expect(red.serialized() == Self.oneRedundant)
        #expect(red.serializedCount == Self.oneRedundant.count)
    }

    @Test func parsesTwoRedundantBlocksOldestFirst() throws {
        let red = try RedundantAudioPayload(parsing: Self.twoRedundant)
        #expect(red.redundant.map(\.timestampOffset) == [1920, 960])
        #expect(red.redundant.map(\.data) == [Self.older, Self.newer])
        #expect(red.primary == Self.primary)
        #expect(red.serialized() == Self.twoRedundant)
        let frames = red.frames(timestamp: 100_000)
        #expect(frames.map(\.timestamp) == [98_080, 99_040, 100_000])
        #expect(frames.map(\.isRedundant) == [true, true, false])
        #expect(frames.map(\.payload) == [Self.older, Self.newer, Self.primary])
    }

    @Test func parsesPrimaryOnly() throws {
        let red = try RedundantAudioPayload(parsing: Self.primaryOnly)
        #expect(red.redundant.isEmpty && red.primaryPayloadType == 111 && red.primary == Self.primary)
        #expect(try RedundantAudioPayload(primaryPayloadType: 111, primary: Self.primary).serialized() == Self.primaryOnly)
    }

    /// The largest offset and length the fields hold, and a length over 255 (split across octets).
    @Test func fieldLimitsAndLengthAcrossOctets() throws {
        let big = [UInt8](repeating: 7, count: 1023)
        let max: [UInt8] = [0xEF, 0xFF, 0xFF, 0xFF, 0x6F] + big
        let red = try RedundantAudioPayload(parsing: max)
        #expect(red.redundant.first?.timestampOffset == 16383 && red.redundant.first?.data.count == 1023 && red.primary.isEmpty)
        #expect(red.serialized() == max)
        let mid = try RedundantAudioPayload(
            primaryPayloadType: 111, primary: [1],
            redundant: [try .init(payloadType: 111, timestampOffset: 960, data: .init(repeating: 9, count: 300))])
        #expect(Array(mid.serialized().prefix(5)) == [0xEF, 0x0F, 0x01, 0x2C, 0x6F])
    }

    @Test func zeroLengthBlocksAreAllowed() throws {
        let bytes: [UInt8] = [0xEF, 0x0F, 0x00, 0x00, 0x6F]
        let red = try RedundantAudioPayload(parsing: bytes)
        #expect(red.redundant.count == 1 && red.redundant[0].data.isEmpty && red.primary.isEmpty)
        let eight: [UInt8] = (0..<8).flatMap { _ -> [UInt8] in [0xEF, 0x0F, 0x00, 0x00] } + [0x6F]
        #expect(try RedundantAudioPayload(parsing: eight).redundant.count == 8)
    }

    @Test func malformedPayloadsAreRefused() {
        #expect(throws: MediaWireError.truncated(what: "RED block header", needed: 1, available: 0)) {
            try RedundantAudioPayload(parsing: [])
        }
        // A redundant header cut after its first two octets.
        #expect(throws: MediaWireError.truncated(what: "RED block header", needed: 3, available: 1)) {
            try RedundantAudioPayload(parsing: [0xEF, 0x0F])
        }
        // A redundant header and no primary header after it.
        #expect(throws: MediaWireError.truncated(what: "RED block header", needed: 1, available: 0)) {
            try RedundantAudioPayload(parsing: [0xEF, 0x0F, 0x00, 0x00])
        }
        // A block length (5) past the end of the payload (2 octets after the headers).
        #expect(throws: MediaWireError.truncated(what: "RED redundant block", needed: 5, available: 2)) {
            try RedundantAudioPayload(parsing: [0xEF, 0x0F, 0x00, 0x05, 0x6F, 0xF8, 0x01])
        }
        // Two blocks whose lengths together exceed the payload.
        #expect(throws: MediaWireError.truncated(what: "RED redundant block", needed: 3, available: 1)) {
            try RedundantAudioPayload(parsing: [0xEF, 0x1E, 0x00, 0x02, 0xEF, 0x0F, 0x00, 0x03, 0x6F, 1, 2, 3])
        }
        // Nine redundant headers: more than the bound.
        let nine: [UInt8] = (0..<9).flatMap { _ -> [UInt8] in [0xEF, 0x0F, 0x00, 0x00] } + [0x6F]
        #expect(throws: MediaWireError.valueOutOfRange(what: "RED redundant block count", value: 9)) {
            try RedundantAudioPayload(parsing: nine)
        }
    }

    @Test func valuesTheFieldsCannotHoldAreRefused() {
        #expect(throws: MediaWireError.valueOutOfRange(what: "RED timestamp offset", value: 16384)) {
            try RedundantAudioPayload.Block(payloadType: 111, timestampOffset: 16384, data: [])
        }
        #expect(throws: MediaWireError.valueOutOfRange(what: "RED block length", value: 1024)) {
            try RedundantAudioPayload.Block(payloadType: 111, timestampOffset: 960, data: .init(repeating: 0, count: 1024))
        }
        #expect(throws: MediaWireError.valueOutOfRange(what: "RED block payload type", value: 128)) {
            try RedundantAudioPayload.Block(payloadType: 128, timestampOffset: 0, data: [])
        }
        #expect(throws: MediaWireError.valueOutOfRange(what: "RED primary payload type", value: 200)) {
            try RedundantAudioPayload(primaryPayloadType: 200, primary: [])
        }
    }

    /// An offset larger than the packet's timestamp is a frame from before the timestamp wrapped
    /// (RFC 3550 timestamps are modulo 2^32), not an error.
    @Test func offsetLargerThanTimestampWraps() throws {
        let red = try RedundantAudioPayload(parsing: Self.oneRedundant)
        #expect(red.frames(timestamp: 500).first?.timestamp == UInt32.max - 459)
    }

    // MARK: Encoder

    static func frame(_ i: Int, size: Int = 3) -> [UInt8] { [0xF8] + [UInt8](repeating: UInt8(i), count: size - 1) }

    /// Distance 2, 20 ms frames: the first packet is the primary alone, the second repeats one
    /// frame, then every packet repeats the two before it, oldest first.
    @Test func encoderRepeatsTheFramesBefore() throws {
        var encoder = RedundantAudioEncoder(distance: 2)
        let f = (0..<4).map { Self.frame($0) }
        let base: UInt32 = 0xFFFF_FC40 // wraps between the second and third frames
        let p = (0..<4).map { encoder.encode(payloadType: 111, timestamp: base &+ UInt32($0) * 960, payload: f[$0]).serialized() }
        #expect(p[0] == [0x6F] + f[0])
        #expect(p[1] == [0xEF, 0x0F, 0x00, 0x03, 0x6F] + f[0] + f[1])
        #expect(p[2] == [0xEF, 0x1E, 0x00, 0x03, 0xEF, 0x0F, 0x00, 0x03, 0x6F] + f[0] + f[1] + f[2])
        #expect(p[3] == [0xEF, 0x1E, 0x00, 0x03, 0xEF, 0x0F, 0x00, 0x03, 0x6F] + f[1] + f[2] + f[3])
        for bytes in p { #expect(try RedundantAudioPayload(parsing: bytes).serialized() == bytes) }
    }

    @Test func encoderDistanceOneAndZero() {
        var one = RedundantAudioEncoder(distance: 1)
        _ = one.encode(payloadType: 111, timestamp: 0, payload: Self.frame(0))
        _ = one.encode(payloadType: 111, timestamp: 960, payload: Self.frame(1))
        let third = one.encode(payloadType: 111, timestamp: 1920, payload: Self.frame(2))
        #expect(third.redundant.map(\.timestampOffset) == [960] && third.redundant[0].data == Self.frame(1))
        var zero = RedundantAudioEncoder(distance: 0)
        _ = zero.encode(payloadType: 111, timestamp: 0, payload: Self.frame(0))
        #expect(zero.encode(payloadType: 111, timestamp: 960, payload: Self.frame(1)).serialized() == [0x6F] + Self.frame(1))
        var clamped = RedundantAudioEncoder(distance: 5)
        #expect(clamped.distance == RedundantAudioEncoder.maximumDistance && clamped.distance == 3)
        clamped.distance = -1
        #expect(clamped.distance == 0)
    }

    /// Over the byte budget the oldest redundancy goes first; the primary is always sent.
    @Test func encoderDropsTheOldestRedundancyOverBudget() {
        // 1 + 100 primary, + 4 + 100 newest = 205, + 4 + 100 oldest = 309.
        var encoder = RedundantAudioEncoder(distance: 2, maximumPayloadBytes: 308)
        for i in 0..<2 { _ = encoder.encode(payloadType: 111, timestamp: UInt32(i) * 960, payload: Self.frame(i, size: 100)) }
        let p = encoder.encode(payloadType: 111, timestamp: 1920, payload: Self.frame(2, size: 100))
        #expect(p.redundant.map(\.timestampOffset) == [960] && p.serializedCount == 205)
        encoder.maximumPayloadBytes = 309
        let q = encoder.encode(payloadType: 111, timestamp: 2880, payload: Self.frame(3, size: 100))
        #expect(q.redundant.map(\.timestampOffset) == [1920, 960] && q.serializedCount == 309)
        encoder.maximumPayloadBytes = 50
        let r = encoder.encode(payloadType: 111, timestamp: 3840, payload: Self.frame(4, size: 100))
        #expect(r.redundant.isEmpty && r.primary.count == 100)
    }

    /// After a DTX pause of 2^14 samples or more the frames before it cannot be written.
    @Test func encoderSkipsFramesTooFarBack() {
        var encoder = RedundantAudioEncoder(distance: 2)
        _ = encoder.encode(payloadType: 111, timestamp: 0, payload: Self.frame(0))
        _ = encoder.encode(payloadType: 111, timestamp: 960, payload: Self.frame(1))
        let far = encoder.encode(payloadType: 111, timestamp: 960 + 16384, payload: Self.frame(2))
        #expect(far.redundant.isEmpty)
        // 16383 back is still within the field; the one before it is not, so it goes too.
        var edge = RedundantAudioEncoder(distance: 2)
        _ = edge.encode(payloadType: 111, timestamp: 0, payload: Self.frame(0))
        _ = edge.encode(payloadType: 111, timestamp: 960, payload: Self.frame(1))
        let p = edge.encode(payloadType: 111, timestamp: 960 + 16383, payload: Self.frame(2))
        #expect(p.redundant.map(\.timestampOffset) == [16383])
    }

    /// A frame too long for the 10-bit length is sent but never repeated; older frames still are.
    @Test func encoderNeverRepeatsFramesOverTheLengthField() {
        var encoder = RedundantAudioEncoder(distance: 2, maximumPayloadBytes: 5000)
        _ = encoder.encode(payloadType: 111, timestamp: 0, payload: Self.frame(0))
        _ = encoder.encode(payloadType: 111, timestamp: 960, payload: Self.frame(1, size: 1024))
        let p = encoder.encode(payloadType: 111, timestamp: 1920, payload: Self.frame(2))
        #expect(p.redundant.map(\.timestampOffset) == [1920])
        encoder.reset()
        #expect(encoder.encode(payloadType: 111, timestamp: 2880, payload: Self.frame(3)).redundant.isEmpty)
    }
}
