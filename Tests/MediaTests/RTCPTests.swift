import Testing
@testable import Media

@Suite struct RTCPTests {
    let block = RTCPReportBlock(
        ssrc: 0x0102_0304, fractionLost: 56, cumulativeLost: -3, extendedHighestSequence: 0x1_0002,
        jitter: 27, lastSenderReport: 0x03E8_8000, delaySinceLastSenderReport: 98_304)

    @Test func compoundSenderReportSDESByeRoundTrip() throws {
        let packets: [RTCPPacket] = [
            .senderReport(
                RTCPSenderReport(
                    ssrc: 7, ntpTimestamp: NTPTimestamp(seconds: 1000, fraction: 0x8000_0000),
                    rtpTimestamp: 48_000, packetCount: 50, octetCount: 4000, reportBlocks: [block])),
            .sourceDescription(
                RTCPSourceDescription(chunks: [
                    .init(source: 7, items: [.cname("alice@example.org")]),
                    .init(source: 8, items: []),
                ])),
            .bye(RTCPBye(sources: [7], reason: "hang up")),
            .other(packetType: 204, count: 1, body: [1, 2, 3, 4, 5, 6, 7, 8]),
        ]
        let bytes = RTCPCompound.serialize(packets)
        #expect(bytes.count % 4 == 0)
        #expect(try RTCPCompound.parse(bytes) == packets)
    }

    @Test func receiverReportKnownBytes() throws {
        let bytes = RTCPCompound.serialize([.receiverReport(RTCPReceiverReport(ssrc: 0xAABB_CCDD, reportBlocks: [block]))])
        #expect(bytes[0] == 0x81 && bytes[1] == 201 && bytes[2] == 0 && bytes[3] == 7)
        // Cumulative lost -3 as a signed 24-bit field.
        #expect(Array(bytes[12..<16]) == [56, 0xFF, 0xFF, 0xFD])
        guard case .receiverReport(let rr) = try RTCPCompound.parse(bytes).first else { Issue.record("not RR"); return }
        #expect(rr.reportBlocks == [block])
    }

    @Test func paddingOnLastPacketIsStripped() throws {
        var bytes = RTCPCompound.serialize([.receiverReport(RTCPReceiverReport(ssrc: 1)), .bye(RTCPBye(sources: [1]))])
        bytes[8] |= 0x20
        bytes[11] += 1 // BYE length grows by one word of padding
        bytes += [0, 0, 0, 4]
        let parsed = try RTCPCompound.parse(bytes)
        #expect(parsed.last == .bye(RTCPBye(sources: [1])))
    }

    @Test func malformedCompoundsGiveTypedErrors() throws {
        let rr = RTCPCompound.serialize([.receiverReport(RTCPReceiverReport(ssrc: 1, reportBlocks: [block]))])
        #expect(throws: MediaWireError.self) { try RTCPCompound.parse([]) }
        #expect(throws: MediaWireError.self) { try RTCPCompound.parse(Array(rr.dropLast(4))) }
        var badVersion = rr; badVersion[0] = 0x41
        #expect(throws: MediaWireError.unsupportedVersion(1)) { try RTCPCompound.parse(badVersion) }
        // Count says 2 report blocks, length has room for one.
        var badCount = rr; badCount[0] = 0x82
        #expect(throws: MediaWireError.self) { try RTCPCompound.parse(badCount) }
        let bye = RTCPCompound.serialize([.bye(RTCPBye(sources: [1]))])
        #expect(throws: MediaWireError.invalidCompound("first packet has type 203, not SR or RR")) { try RTCPCompound.parse(bye) }
        #expect(try RTCPCompound.parse(bye, requireReportFirst: false) == [.bye(RTCPBye(sources: [1]))])
        // SDES item longer than the packet.
        let sdes: [UInt8] = [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 200, 0x61, 0]
        #expect(throws: MediaWireError.self) { try RTCPCompound.parse(sdes, requireReportFirst: false) }
    }

    @Test func roundTripTimeFromLSRAndDLSR() {
        let sent = NTPTimestamp(seconds: 1000, fraction: 0x8000_0000)
        let b = RTCPReportBlock(
            ssrc: 1, fractionLost: 0, cumulativeLost: 0, extendedHighestSequence: 0, jitter: 0,
            lastSenderReport: sent.compact, delaySinceLastSenderReport: 98_304) // 1.5 s
        let arrival = NTPTimestamp(seconds: 1002, fraction: 0x4000_0000) // 1.75 s later
        #expect(rtcpRoundTripTime(block: b, arrival: arrival) == .milliseconds(250))
        var none = b; none.lastSenderReport = 0
        #expect(rtcpRoundTripTime(block: none, arrival: arrival) == nil)
    }

    @Test func ntpFromUnixTime() {
        let t = NTPTimestamp(sinceUnixEpoch: .seconds(1) + .milliseconds(500))
        #expect(t.seconds == 2_208_988_801 && t.fraction == 0x8000_0000)
    }
}
