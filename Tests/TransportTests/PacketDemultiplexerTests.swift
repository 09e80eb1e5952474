import Testing
@testable import Transport

@Suite struct PacketDemultiplexerTests {
    @Test(arguments: [
        (UInt8(0), DatagramKind.stun), (1, .stun), (3, .stun), (4, .unknown), (15, .unknown), (16, .zrtp), (19, .zrtp),
        (20, .dtls), (22, .dtls), (63, .dtls), (64, .turnChannel), (79, .turnChannel), (80, .unknown), (127, .unknown),
        (128, .rtp), (191, .rtp), (192, .unknown), (255, .unknown),
    ])
    func firstByteRanges(first: UInt8, kind: DatagramKind) {
        #expect(DatagramKind(classifying: [first, 0, 0, 0]) == kind)
    }

    @Test func rtcpIsToldFromRTPByPayloadType() {
        #expect(DatagramKind(classifying: [0x80, 200]) == .rtcp) // SR
        #expect(DatagramKind(classifying: [0x81, 201]) == .rtcp) // RR
        #expect(DatagramKind(classifying: [0x80, 111]) == .rtp) // Opus
        #expect(DatagramKind(classifying: [0x80, 0x80 | 111]) == .rtp) // marker set
        #expect(DatagramKind(classifying: [0x80]) == .rtp)
        #expect(DatagramKind(classifying: [UInt8]()) == .unknown)
    }
}
