import Testing
@testable import STUN

@Suite struct STUNWireTests {
    static let allAttributes: [STUNAttribute] = [
        .mappedAddress(TransportAddress("192.0.2.1:1")!),
        .xorMappedAddress(TransportAddress("[2001:db8::1]:3478")!),
        .xorPeerAddress(TransportAddress("203.0.113.9:40000")!),
        .xorRelayedAddress(TransportAddress("[2001:db8::9]:50000")!),
        .alternateServer(TransportAddress("198.51.100.2:3478")!),
        .username("alice"),
        .userhash(Array(repeating: 7, count: 32)),
        .errorCode(STUNErrorCode(437)),
        .realm("example.org"),
        .nonce("obMatJos2AAAB"),
        .passwordAlgorithms([.md5, .sha256]),
        .passwordAlgorithm(.sha256),
        .unknownAttributes([0x0031, 0x0032, 0x0033]),
        .software("jingle-relay"),
        .lifetime(600),
        .requestedTransport(17),
        .data([1, 2, 3, 4, 5]),
        .channelNumber(0x4001),
        .evenPort(reserveNext: true),
        .reservationToken([1, 2, 3, 4, 5, 6, 7, 8]),
        .dontFragment,
        .requestedAddressFamily(.ipv6),
        .additionalAddressFamily(.ipv6),
        .addressErrorCode(family: .ipv6, error: STUNErrorCode(440)),
        .priority(12345),
        .useCandidate,
        .iceControlled(0x0102_0304_0506_0708),
        .iceControlling(0x0807_0605_0403_0201),
        .unknown(type: 0xC001, value: [9, 9, 9]),
    ]

    @Test(arguments: allAttributes)
    func attributeRoundTrip(_ attribute: STUNAttribute) throws {
        let message = STUNMessage(.allocate, .request, attributes: [attribute])
        let decoded = try STUNMessage.decode(message.encode())
        #expect(decoded.attributes == [attribute])
        #expect(decoded.transactionID == message.transactionID)
        #expect(decoded.type == message.type)
    }

    /// coturn's pre-RFC ADDITIONAL-ADDRESS-FAMILY codepoint (0x8032) reads as the RFC 8656 one.
    @Test func legacyAdditionalAddressFamilyCodepointIsRead() throws {
        var bytes = STUNMessage(.allocate, .request, attributes: [.additionalAddressFamily(.ipv6)]).encode()
        #expect(Array(bytes[20..<22]) == [0x80, 0x00])
        bytes[20] = 0x80
        bytes[21] = 0x32
        let decoded = try STUNMessage.decode(bytes)
        #expect(decoded.additionalAddressFamily == .ipv6)
    }

    @Test func messageTypeBits() {
        for method in [STUNMethod.binding, .allocate, .refresh, .send, .data, .createPermission, .channelBind] {
            for cls in [STUNClass.request, .indication, .successResponse, .errorResponse] {
                let t = STUNMessageType(method: method, messageClass: cls)
                #expect(STUNMessageType(rawValue: t.rawValue) == t)
            }
        }
        #expect(STUNMessageType(method: .binding, messageClass: .successResponse).rawValue == 0x0101)
        #expect(STUNMessageType(method: .allocate, messageClass: .errorResponse).rawValue == 0x0113)
        #expect(STUNMessageType(method: .data, messageClass: .indication).rawValue == 0x0017)
    }

    @Test func sha256IntegrityAndBoth() throws {
        let key = STUNKey.longTerm(username: "u", realm: "r", password: "p", algorithm: .sha256)
        #expect(key.count == 32)
        let m = STUNMessage(.refresh, .request, attributes: [.lifetime(0), .username("u")])
        for algorithms in [IntegrityAlgorithms.sha1, .sha256, .both] {
            let decoded = try STUNMessage.decode(m.encode(key: key, integrity: algorithms, fingerprint: true))
            #expect(decoded.verifyIntegrity(key: key) == .valid(algorithms == .sha1 ? .sha1 : .sha256))
            #expect(decoded.verifyIntegrity(key: Array(key.reversed())) == .invalid)
            #expect(decoded.fingerprintMatches == true)
        }
    }

    @Test func attributesAfterIntegrityIgnored() throws {
        let key: [UInt8] = Array("k".utf8)
        var bytes = STUNMessage(.binding, .request, attributes: [.username("a")]).encode(key: key)
        // Append a SOFTWARE attribute after MESSAGE-INTEGRITY and fix the length.
        bytes += [0x80, 0x22, 0x00, 0x04, 0x61, 0x62, 0x63, 0x64]
        bytes.setU16(UInt16(bytes.count - 20), at: 2)
        let decoded = try STUNMessage.decode(bytes)
        #expect(decoded.software == nil)
        #expect(decoded.verifyIntegrity(key: key) == .valid(.sha1))
    }

    @Test func truncationAtEveryOffsetThrows() throws {
        let full = STUNMessage(.allocate, .request, attributes: Self.allAttributes).encode(key: [1, 2, 3], fingerprint: true)
        #expect(throws: Never.self) { try STUNMessage.decode(full) }
        for cut in 0..<full.count {
            #expect(throws: STUNParseError.self) { try STUNMessage.decode(Array(full[0..<cut])) }
        }
    }

    @Test func mutatedBytesNeverCrash() {
        let full = STUNMessage(.allocate, .request, attributes: Self.allAttributes).encode(key: [1, 2, 3], fingerprint: true)
        var rng = SplitMix(seed: 42)
        for _ in 0..<3000 {
            var bytes = full
            for _ in 0..<1 + Int(rng.next() % 4) {
                let i = Int(rng.next() % UInt64(bytes.count))
                bytes[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            _ = try? STUNMessage.decode(bytes)
            var framer = STUNStreamFramer()
            framer.append(bytes)
            _ = try? framer.next()
            _ = bytes.withUnsafeBytes { try? ChannelData.parse($0) }
        }
    }

    @Test func typedErrors() {
        #expect(throws: STUNParseError.notSTUN) { try STUNMessage.decode([0x80] + Array(repeating: 0, count: 19)) }
        #expect(throws: STUNParseError.badMagicCookie(0)) { try STUNMessage.decode([0, 1, 0, 0] + Array(repeating: 0, count: 16)) }
        var bad = STUNMessage(.binding, .request).encode()
        bad[3] = 4
        #expect(throws: STUNParseError.badLength(declared: 4, actual: 0)) { try STUNMessage.decode(bad) }
        var overrun = STUNMessage(.binding, .request, attributes: [.lifetime(1)]).encode()
        overrun[23] = 40
        #expect(throws: STUNParseError.attributeOverrun(type: 0x000D, length: 40)) { try STUNMessage.decode(overrun) }
        let wrongSize = STUNMessage(.binding, .request, attributes: [.unknown(type: 0x000D, value: [1, 2])]).encode()
        #expect(throws: STUNParseError.self) { try STUNMessage.decode(wrongSize) }
        var afterFingerprint = STUNMessage(.binding, .request).encode(fingerprint: true)
        afterFingerprint += [0x80, 0x22, 0, 0]
        afterFingerprint.setU16(UInt16(afterFingerprint.count - 20), at: 2)
        #expect(throws: STUNParseError.attributeAfterFingerprint(type: 0x8022)) { try STUNMessage.decode(afterFingerprint) }
    }

    @Test func addressParsingAndPrinting() {
        #expect(IPAddress("::ffff:10.0.0.1") == .v6(0, 0x0000_FFFF_0A00_0001))
        #expect(IPAddress("2001:db8::1")?.description == "2001:db8::1")
        #expect(IPAddress("::")?.description == "::")
        #expect(IPAddress("1::")?.description == "1::")
        #expect(IPAddress("256.1.1.1") == nil)
        #expect(IPAddress("1:2:3:4:5:6:7:8:9") == nil)
        #expect(IPAddress("1::2::3") == nil)
        #expect(TransportAddress("[::1]:80")?.description == "[::1]:80")
        #expect(TransportAddress("127.0.0.1:3478")?.port == 3478)
        #expect(TransportAddress("::1:80") == nil)
    }
}

/// A small deterministic generator for mutation tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
