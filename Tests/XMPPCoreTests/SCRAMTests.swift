import CryptoPrimitives
import Testing
@testable import XMPPCore

@Suite struct SCRAMTests {
    @Test func vectorsLoad() {
        #expect(SCRAMVector.all.count == 2)
    }

    @Test(arguments: SCRAMVector.all)
    func rfcExampleExchange(_ v: SCRAMVector) throws {
        let mechanism = try #require(SASLMechanismName(rawValue: v.mechanism))
        var client = SASLClient(mechanism: mechanism, authcid: v.username, password: v.password, clientNonce: v.clientNonce)
        #expect(String(decoding: client.initialResponse(), as: UTF8.self) == v.clientFirst)
        let final = try client.respond(to: Array(v.serverFirst.utf8))
        #expect(String(decoding: final, as: UTF8.self) == v.clientFinal)
        try client.succeed(with: Array(v.serverFinal.utf8))
    }

    @Test(arguments: SCRAMVector.all)
    func wrongServerSignatureFails(_ v: SCRAMVector) throws {
        let mechanism = try #require(SASLMechanismName(rawValue: v.mechanism))
        var client = SASLClient(mechanism: mechanism, authcid: v.username, password: v.password, clientNonce: v.clientNonce)
        _ = client.initialResponse()
        _ = try client.respond(to: Array(v.serverFirst.utf8))
        // A signature of the right length computed with another key.
        let forged = "v=" + Base64.encode([UInt8](repeating: 0x41, count: mechanism == .scramSHA1 ? 20 : 32))
        #expect(throws: XMPPError.self) { try client.succeed(with: Array(forged.utf8)) }
        do {
            try client.succeed(with: Array(forged.utf8))
        } catch {
            #expect(error.description.contains("server signature does not verify"))
        }
    }

    @Test func successWithoutServerSignatureFails() throws {
        let v = try #require(SCRAMVector.all.first)
        var client = SASLClient(mechanism: .scramSHA1, authcid: v.username, password: v.password, clientNonce: v.clientNonce)
        _ = client.initialResponse()
        _ = try client.respond(to: Array(v.serverFirst.utf8))
        #expect(throws: XMPPError.self) { try client.succeed(with: []) }
    }

    @Test func serverFinalAsChallengeThenEmptySuccess() throws {
        let v = try #require(SCRAMVector.all.first)
        var client = SASLClient(mechanism: .scramSHA1, authcid: v.username, password: v.password, clientNonce: v.clientNonce)
        _ = client.initialResponse()
        _ = try client.respond(to: Array(v.serverFirst.utf8))
        #expect(try client.respond(to: Array(v.serverFinal.utf8)) == [])
        try client.succeed(with: [])
    }

    @Test func serverNonceMustExtendClientNonce() {
        var scram = SCRAMClient(algorithm: .sha1, username: "user", password: "pencil", clientNonce: "abc")
        #expect(throws: XMPPError.self) { _ = try scram.clientFinalMessage(serverFirst: "r=xyz123,s=QSXCR+Q6sek8bf92,i=4096") }
        #expect(throws: XMPPError.self) { _ = try scram.clientFinalMessage(serverFirst: "r=abc,s=QSXCR+Q6sek8bf92,i=4096") }
    }

    @Test(arguments: [
        "r=abcdef,s=QSXCR+Q6sek8bf92", // no iteration count
        "r=abcdef,i=4096", // no salt
        "r=abcdef,s=!!!,i=4096", // salt not base64
        "r=abcdef,s=QSXCR+Q6sek8bf92,i=0", // zero iterations
        "r=abcdef,s=QSXCR+Q6sek8bf92,i=99999999", // above the cap
        "m=ext,r=abcdef,s=QSXCR+Q6sek8bf92,i=4096", // mandatory extension
        "e=other-error",
        "garbage",
    ])
    func malformedServerFirstIsRejected(_ serverFirst: String) {
        var scram = SCRAMClient(algorithm: .sha256, username: "user", password: "pencil", clientNonce: "abc")
        #expect(throws: XMPPError.self) { _ = try scram.clientFinalMessage(serverFirst: serverFirst) }
    }

    @Test func serverErrorInFinalMessage() throws {
        let v = try #require(SCRAMVector.all.first)
        var scram = SCRAMClient(algorithm: .sha1, username: v.username, password: v.password, clientNonce: v.clientNonce)
        _ = try scram.clientFinalMessage(serverFirst: v.serverFirst)
        #expect(throws: XMPPError.authentication(reason: "SCRAM server error: invalid-proof")) {
            try scram.verifyServerFinal("e=invalid-proof")
        }
    }

    @Test func usernameIsEscaped() {
        #expect(SCRAMClient.saslName("a=b,c") == "a=3Db=2Cc")
        #expect(SCRAMClient.saslName("=,") == "=3D=2C")
        let scram = SCRAMClient(algorithm: .sha1, username: "we,ird=name", password: "x", clientNonce: "N")
        #expect(scram.clientFirstMessage == "n,,n=we=2Cird=3Dname,r=N")
    }

    @Test func plainMessage() {
        var client = SASLClient(mechanism: .plain, authcid: "juliet", password: "r0m30")
        #expect(client.initialResponse() == [0] + Array("juliet".utf8) + [0] + Array("r0m30".utf8))
    }

    @Test func randomNoncesDiffer() {
        let a = SCRAMClient(algorithm: .sha256, username: "u", password: "p").clientFirstMessage
        let b = SCRAMClient(algorithm: .sha256, username: "u", password: "p").clientFirstMessage
        #expect(a != b)
        #expect(a.hasPrefix("n,,n=u,r="))
    }
}

@Suite struct SASLSelectionTests {
    @Test func prefersSCRAMSHA256() throws {
        #expect(try SASLClient.select(offered: ["PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"], tlsEstablished: true) == .scramSHA256)
        #expect(try SASLClient.select(offered: ["PLAIN", "SCRAM-SHA-1"], tlsEstablished: true) == .scramSHA1)
        #expect(try SASLClient.select(offered: ["PLAIN"], tlsEstablished: true) == .plain)
    }

    @Test func plainRefusedWithoutTLS() {
        #expect(throws: XMPPError.noUsableMechanism(offered: ["PLAIN"], reason: "PLAIN is refused without TLS")) {
            _ = try SASLClient.select(offered: ["PLAIN"], tlsEstablished: false)
        }
    }

    @Test func unknownMechanismsOnly() {
        #expect(throws: XMPPError.self) { _ = try SASLClient.select(offered: ["DIGEST-MD5", "X-OAUTH2"], tlsEstablished: true) }
    }
}

@Suite struct SASLprepTests {
    /// RFC 4013 §3 examples.
    @Test func rfcExamples() throws {
        #expect(try SASLprep.prepare("I\u{00AD}X") == "IX")
        #expect(try SASLprep.prepare("user") == "user")
        #expect(try SASLprep.prepare("USER") == "USER")
        #expect(try SASLprep.prepare("\u{00AA}") == "a")
        #expect(try SASLprep.prepare("\u{2168}") == "IX")
        #expect(throws: XMPPError.self) { _ = try SASLprep.prepare("\u{0007}") }
    }

    @Test func spacesAndPrivateUse() throws {
        #expect(try SASLprep.prepare("a\u{00A0}b") == "a b")
        #expect(throws: XMPPError.self) { _ = try SASLprep.prepare("a\u{E000}") }
    }
}
