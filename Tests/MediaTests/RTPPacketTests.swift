import Testing
@testable import Media

@Suite struct RTPPacketTests {
    @Test func roundTripWithCSRCExtensionAndPadding() throws {
        let p = RTPPacket(
            marker: true, payloadType: 111, sequenceNumber: 0xFFFE, timestamp: 0xDEAD_BEEF,
            ssrc: 0x1234_5678, csrcs: [1, 2, 3],
            headerExtension: RTPHeaderExtension(profile: 0xBEDE, data: [0x10, 0xAA, 0, 0]),
            payload: [9, 8, 7, 6, 5], paddingLength: 3)
        let bytes = p.serialized()
        #expect(bytes.count == 12 + 12 + 8 + 5 + 3)
        #expect(bytes[0] == 0x80 | 0x20 | 0x10 | 3)
        #expect(bytes[1] == 0x80 | 111)
        let q = try RTPPacket(parsing: bytes)
        #expect(q == p)
    }

    @Test func plainPacketKnownBytes() throws {
        let bytes: [UInt8] = [0x80, 0x60, 0x00, 0x01, 0x00, 0x00, 0x03, 0xC0, 0xAA, 0xBB, 0xCC, 0xDD, 0x42]
        let p = try RTPPacket(parsing: bytes)
        #expect(p.payloadType == 96 && !p.marker && p.sequenceNumber == 1 && p.timestamp == 960)
        #expect(p.ssrc == 0xAABB_CCDD && p.payload == [0x42] && p.csrcs.isEmpty && p.headerExtension == nil)
        #expect(p.serialized() == bytes)
    }

    @Test func malformedInputsGiveTypedErrors() {
        #expect(throws: MediaWireError.truncated(what: "RTP fixed header", needed: 1, available: 0)) { try RTPPacket(parsing: []) }
        #expect(throws: MediaWireError.truncated(what: "RTP fixed header", needed: 11, available: 4)) {
            try RTPPacket(parsing: [0x80, 0, 0, 1, 0])
        }
        #expect(throws: MediaWireError.unsupportedVersion(1)) { try RTPPacket(parsing: [0x40] + [UInt8](repeating: 0, count: 11)) }
        // CC = 15 but no CSRCs present.
        #expect(throws: MediaWireError.self) { try RTPPacket(parsing: [0x8F] + [UInt8](repeating: 0, count: 11)) }
        // Extension header claims 100 words.
        #expect(throws: MediaWireError.self) { try RTPPacket(parsing: [0x90] + [UInt8](repeating: 0, count: 11) + [0xBE, 0xDE, 0, 100]) }
        // Padding count 0 and padding larger than the packet.
        #expect(throws: MediaWireError.invalidPadding(count: 0, available: 1)) {
            try RTPPacket(parsing: [0xA0] + [UInt8](repeating: 0, count: 12))
        }
        #expect(throws: MediaWireError.invalidPadding(count: 200, available: 1)) {
            try RTPPacket(parsing: [0xA0] + [UInt8](repeating: 0, count: 11) + [200])
        }
    }

    @Test func everyPrefixOfAValidPacketFailsCleanlyOrParses() {
        let bytes = RTPPacket(
            payloadType: 0, sequenceNumber: 1, timestamp: 2, ssrc: 3, csrcs: [4],
            headerExtension: .init(profile: 1, data: [1, 2, 3, 4]), payload: [1, 2]
        ).serialized()
        for n in 0..<bytes.count {
            let prefix = Array(bytes[0..<n])
            if n < 24 {
                #expect(throws: MediaWireError.self) { try RTPPacket(parsing: prefix) }
            } else {
                _ = try? RTPPacket(parsing: prefix)
            }
        }
    }

    @Test func randomGarbageNeverCrashes() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<64, using: &rng)
            let bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? RTPPacket(parsing: bytes)
            _ = try? RTCPCompound.parse(bytes)
            _ = try? RTCPCompound.parse(bytes, requireReportFirst: false)
            _ = try? OpusPacketInfo(parsing: bytes)
            _ = try? TelephoneEvent(parsing: bytes)
        }
    }
}
