import Foundation
import Testing
@testable import Transport

struct SRTPVector: Decodable, Sendable, CustomTestStringConvertible {
    let name, profile, kind, key, salt, plaintext, `protected`: String
    var testDescription: String { name }

    var srtpProfile: SRTPProfile { profile == "aeadAES128GCM" ? .aeadAES128GCM : .aes128CMHMACSHA1_80 }

    static func load() -> [SRTPVector] {
        guard let url = Bundle.module.url(forResource: "srtp-known-answers", withExtension: "json", subdirectory: "Vectors"),
            let data = try? Data(contentsOf: url),
            let vectors = try? JSONDecoder().decode([SRTPVector].self, from: data)
        else { return [] }
        return vectors
    }
}

func hex(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex, let j = s.index(i, offsetBy: 2, limitedBy: s.endIndex) {
        if let b = UInt8(s[i..<j], radix: 16) { out.append(b) }
        i = j
    }
    return out
}

func makeRTP(seq: UInt16, payload: [UInt8] = [UInt8](repeating: 0x42, count: 60)) -> [UInt8] {
    [0x80, 111, UInt8(seq >> 8), UInt8(seq & 0xFF), 0, 0, 0x03, 0xC0, 0x11, 0x22, 0x33, 0x44] + payload
}

@Suite struct SRTPSessionTests {
    @Test func vectorsAreLoaded() { #expect(SRTPVector.load().count == 4) }

    @Test(arguments: SRTPVector.load()) func knownAnswer(vector: SRTPVector) throws {
        let key = hex(vector.key), salt = hex(vector.salt)
        let session = try SRTPSession(profile: vector.srtpProfile, localKey: key, localSalt: salt, remoteKey: key, remoteSalt: salt)
        let plain = hex(vector.plaintext), expected = hex(vector.protected)
        if vector.kind == "rtp" {
            #expect(try session.protect(plain) == expected)
            #expect(try session.unprotect(expected) == plain)
        } else {
            #expect(try session.protectRTCP(plain) == expected)
            #expect(try session.unprotectRTCP(expected) == plain)
        }
    }

    static func pair(_ profile: SRTPProfile) throws -> (SRTPSession, SRTPSession) {
        let k1 = [UInt8](repeating: 1, count: 16), k2 = [UInt8](repeating: 2, count: 16)
        let s1 = [UInt8](repeating: 3, count: profile.saltLength), s2 = [UInt8](repeating: 4, count: profile.saltLength)
        return (
            try SRTPSession(profile: profile, localKey: k1, localSalt: s1, remoteKey: k2, remoteSalt: s2),
            try SRTPSession(profile: profile, localKey: k2, localSalt: s2, remoteKey: k1, remoteSalt: s1)
        )
    }

    @Test(arguments: SRTPProfile.allCases) func roundTripBothWays(profile: SRTPProfile) throws {
        let (alice, bob) = try Self.pair(profile)
        for seq in UInt16(1)...50 {
            let rtp = makeRTP(seq: seq)
            let wire = try alice.protect(rtp)
            #expect(wire.count == rtp.count + (profile == .aeadAES128GCM ? 16 : 10))
            #expect(wire[12...] != rtp[12...])
            #expect(try bob.unprotect(wire) == rtp)
            #expect(try alice.unprotect(try bob.protect(rtp)) == rtp)
        }
        let rtcp: [UInt8] = [0x80, 201, 0, 1, 0x11, 0x22, 0x33, 0x44]
        #expect(try bob.unprotectRTCP(try alice.protectRTCP(rtcp)) == rtcp)
    }

    @Test(arguments: SRTPProfile.allCases) func replayIsRejected(profile: SRTPProfile) throws {
        let (alice, bob) = try Self.pair(profile)
        let wire = try alice.protect(makeRTP(seq: 7))
        _ = try bob.unprotect(wire)
        #expect(throws: SRTPError.replayed) { try bob.unprotect(wire) }
        let rtcp = try alice.protectRTCP([0x80, 201, 0, 1, 0x11, 0x22, 0x33, 0x44])
        _ = try bob.unprotectRTCP(rtcp)
        #expect(throws: SRTPError.replayed) { try bob.unprotectRTCP(rtcp) }
        // Far behind the window.
        var old: [[UInt8]] = []
        for seq in UInt16(100)...1300 { old.append(try alice.protect(makeRTP(seq: seq))) }
        _ = try bob.unprotect(old.last ?? [])
        #expect(throws: SRTPError.replayTooOld) { try bob.unprotect(old[0]) }
    }

    @Test(arguments: SRTPProfile.allCases) func tamperingIsRejected(profile: SRTPProfile) throws {
        let (alice, bob) = try Self.pair(profile)
        let wire = try alice.protect(makeRTP(seq: 9))
        for index in [3, 12, 30, wire.count - 1] {
            var bad = wire
            bad[index] ^= 0x01
            #expect(throws: SRTPError.authenticationFailed) { try bob.unprotect(bad) }
        }
        // The genuine packet still passes afterwards.
        #expect(try bob.unprotect(wire) == makeRTP(seq: 9))
        // Wrong key.
        let (_, eve) = try Self.pair(profile)
        #expect(throws: SRTPError.authenticationFailed) { try eve.unprotect(try eve.protect(makeRTP(seq: 1))) }
    }

    @Test func badKeysAndShortPacketsAreTypedErrors() throws {
        #expect(throws: SRTPError.invalidKeyLength(expected: 16, actual: 15)) {
            try SRTPSession(
                profile: .aeadAES128GCM, localKey: [UInt8](repeating: 0, count: 15), localSalt: [UInt8](repeating: 0, count: 12),
                remoteKey: [UInt8](repeating: 0, count: 16), remoteSalt: [UInt8](repeating: 0, count: 12))
        }
        #expect(throws: SRTPError.invalidSaltLength(expected: 14, actual: 12)) {
            try SRTPSession(
                profile: .aes128CMHMACSHA1_80, localKey: [UInt8](repeating: 0, count: 16), localSalt: [UInt8](repeating: 0, count: 12),
                remoteKey: [UInt8](repeating: 0, count: 16), remoteSalt: [UInt8](repeating: 0, count: 12))
        }
        let (alice, _) = try Self.pair(.aeadAES128GCM)
        #expect(throws: SRTPError.packetTooShort(length: 3)) { try alice.protect([0x80, 0, 0]) }
        #expect(throws: SRTPError.packetTooShort(length: 0)) { try alice.unprotectRTCP([]) }
    }

    @Test(arguments: SRTPProfile.allCases) func garbageNeverCrashes(profile: SRTPProfile) throws {
        let (_, bob) = try Self.pair(profile)
        var rng = SystemRandomNumberGenerator()
        var accepted = 0
        for i in 0..<3000 {
            let n = Int.random(in: 0..<200, using: &rng)
            var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if i % 2 == 0, !bytes.isEmpty { bytes[0] = 0x80 | (bytes[0] & 0x1F) } // look like RTP v2
            if (try? bob.unprotect(bytes)) != nil { accepted += 1 }
            if (try? bob.unprotectRTCP(bytes)) != nil { accepted += 1 }
        }
        #expect(accepted == 0)
    }

    @Test func protectAndUnprotectRunConcurrentlyOnOneSession() async throws {
        let (alice, bob) = try Self.pair(.aeadAES128GCM)
        let fromBob = try (UInt16(0)..<500).map { try bob.protect(makeRTP(seq: $0)) }
        // One thread protects with alice while another unprotects bob's packets with alice.
        let sending = Task.detached { try (UInt16(0)..<500).map { try alice.protect(makeRTP(seq: $0)) } }
        let receiving = Task.detached { try fromBob.map { try alice.unprotect($0) } }
        let sent = try await sending.value
        let received = try await receiving.value
        #expect(received == (UInt16(0)..<500).map { makeRTP(seq: $0) })
        #expect(try sent.map { try bob.unprotect($0) } == (UInt16(0)..<500).map { makeRTP(seq: $0) })
    }

    @Test func profileIdentifiers() {
        #expect(SRTPProfile(dtlsProtectionProfileID: 0x0007) == .aeadAES128GCM)
        #expect(SRTPProfile(dtlsProtectionProfileID: 0x0001) == .aes128CMHMACSHA1_80)
        #expect(SRTPProfile(dtlsProtectionProfileID: 0x0002) == nil)
    }
}
