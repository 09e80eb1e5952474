import STUN
import Testing
import TURNServer

/// RFC 3489 Binding requests (no magic cookie), as libnice sends for server-reflexive discovery,
/// are answered with MAPPED-ADDRESS (RFC 8489 §12); other cookie-less bytes are still dropped.
@Suite struct ClassicBindingTests {
    let transaction: [UInt8] = [0xd8, 0xdf, 0xf8, 0x34, 0xcd, 0xba, 0xac, 0x55, 0xb0, 0x2f, 0x75, 0xb4, 0x9e, 0x20, 0x48, 0x80]

    @Test func aClassicBindingRequestGetsItsMappedAddress() {
        let harness = TURNHarness()
        let tuple = TURNHarness.tuple(7) // 203.0.113.7:40000
        let replies = harness.raw([0x00, 0x01, 0x00, 0x00] + transaction, from: tuple)
        #expect(
            replies == [
                [0x01, 0x01, 0x00, 0x0C] + transaction
                    + [0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x9C, 0x40, 203, 0, 113, 7]
            ])
        #expect(replies.first.map { $0.count <= 20 + 12 } == true, "no larger than the request plus the address")
    }

    @Test func cookieLessBytesThatAreNotABindingRequestAreDropped() {
        let harness = TURNHarness()
        let tuple = TURNHarness.tuple(8)
        #expect(harness.raw([0x00, 0x03, 0x00, 0x00] + transaction, from: tuple).isEmpty, "classic Allocate: not served")
        #expect(harness.raw([0x00, 0x01, 0x00, 0x08] + transaction, from: tuple).isEmpty, "length beyond the bytes")
        #expect(harness.raw([0x00, 0x01, 0x00, 0x00] + transaction.prefix(10), from: tuple).isEmpty, "truncated")
        var tcp = tuple
        tcp.transport = .tcp
        #expect(harness.raw([0x00, 0x01, 0x00, 0x00] + transaction, from: tcp).isEmpty, "RFC 3489 Binding was UDP only")
    }
}
