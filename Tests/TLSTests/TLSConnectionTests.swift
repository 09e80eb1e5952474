import Foundation
import Testing
@testable import TLS

@Suite struct TLSConnectionTests {
    @Test func handshakeDataBothWaysAndClose() throws {
        let files = try CertificateFiles()
        defer { files.remove() }
        let client = try TLSConnection.client(TLSClientConfiguration(serverName: "localhost", trustedCAFile: files.certificateFile))
        let server = try TLSConnection.server(files.serverConfiguration)
        var pair = TLSPair(client: client, server: server)
        try pair.handshake()

        #expect(client.state == .established)
        #expect(server.state == .established)
        #expect(pair.clientHandshake?.protocolVersion == "TLSv1.3")
        #expect(pair.clientHandshake?.cipherSuite.hasPrefix("TLS_") == true)
        #expect(pair.clientHandshake?.peerCertificateSubject == "CN=localhost")
        #expect(pair.serverHandshake != nil)
        #expect(pair.serverHandshake?.peerCertificateSubject == nil)

        let hello = Array("<stream:stream to='example.org'>".utf8)
        try pair.run(toServer: try client.write(plaintext: hello), toClient: [])
        let serverReceived = pair.serverReceived
        #expect(serverReceived == hello)

        let big = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try pair.run(toServer: [], toClient: try server.write(plaintext: big))
        let clientReceived = pair.clientReceived
        #expect(clientReceived == big)

        let closeNotify = client.close()
        #expect(!closeNotify.isEmpty)
        #expect(client.state == .closed)
        try pair.run(toServer: closeNotify, toClient: [])
        #expect(pair.serverSawClose)
        #expect(server.state == .closed)
        // The server answers with its own close_notify; the client, already closed, sees it.
        let answer = server.close()
        #expect(!answer.isEmpty)
        try pair.run(toServer: [], toClient: answer)
        let clientSawClose = pair.clientSawClose
        #expect(clientSawClose)
        #expect(throws: TLSError.closed) { _ = try client.receive(ciphertext: [23, 3, 3, 0, 1, 0]) }
        #expect(throws: TLSError.closed) { _ = try client.write(plaintext: hello) }
    }

    @Test func bothSidesExportTheSameChannelBinding() throws {
        let files = try CertificateFiles()
        defer { files.remove() }
        var pair = TLSPair(
            client: try TLSConnection.client(TLSClientConfiguration(serverName: "localhost", trustedCAFile: files.certificateFile)),
            server: try TLSConnection.server(files.serverConfiguration))
        #expect(throws: TLSError.self) { _ = try pair.client.exportKeyingMaterial(label: "EXPORTER-Channel-Binding", length: 32) }
        try pair.handshake()
        let client = try pair.client.exportKeyingMaterial(label: "EXPORTER-Channel-Binding", length: 32)
        let server = try pair.server.exportKeyingMaterial(label: "EXPORTER-Channel-Binding", length: 32)
        #expect(client.count == 32)
        #expect(client == server)
        #expect(try pair.client.exportKeyingMaterial(label: "EXPORTER-other", length: 32) != client)
    }

    @Test func partialWildcardIsNotAccepted() throws {
        let files = try CertificateFiles(commonName: "wild", subjectAlternativeNames: ["x*.example.org", "*.example.net"])
        defer { files.remove() }
        var partial = TLSPair(
            client: try TLSConnection.client(TLSClientConfiguration(serverName: "xmpp.example.org", trustedCAFile: files.certificateFile)),
            server: try TLSConnection.server(files.serverConfiguration))
        #expect(
            throws: TLSError.certificateVerificationFailed(
                reason: "certificate verify failed: hostname mismatch (hostname xmpp.example.org)")
        ) {
            try partial.handshake()
        }
        var whole = TLSPair(
            client: try TLSConnection.client(TLSClientConfiguration(serverName: "chat.example.net", trustedCAFile: files.certificateFile)),
            server: try TLSConnection.server(files.serverConfiguration))
        try whole.handshake()
        #expect(whole.client.state == .established)
    }

    @Test func writeBeforeHandshakeIsRefused() throws {
        let client = try TLSConnection.client(TLSClientConfiguration(serverName: "localhost"))
        #expect(throws: TLSError.self) { _ = try client.write(plaintext: [1, 2, 3]) }
    }

    @Test func untrustedSelfSignedCertificateFailsNamingTheCause() throws {
        let files = try CertificateFiles()
        defer { files.remove() }
        // The system store does not know our generated certificate.
        let client = try TLSConnection.client(TLSClientConfiguration(serverName: "localhost"))
        let server = try TLSConnection.server(files.serverConfiguration)
        var pair = TLSPair(client: client, server: server)
        let error = #expect(throws: TLSError.self) { try pair.handshake() }
        guard case .certificateVerificationFailed(let reason) = error else {
            Issue.record("expected certificateVerificationFailed, got \(String(describing: error))")
            return
        }
        #expect(reason == "certificate verify failed: self-signed certificate (hostname localhost)")
        #expect(client.state == .failed)
        // The client's alert reaches the server, which fails with the alert's meaning.
        let alert = client.takePendingCiphertext()
        #expect(!alert.isEmpty)
        let serverError = #expect(throws: TLSError.self) { _ = try server.receive(ciphertext: alert) }
        guard case .handshakeFailed(let serverReason) = serverError else {
            Issue.record("expected handshakeFailed on the server, got \(String(describing: serverError))")
            return
        }
        #expect(serverReason.contains("alert"))
    }

    @Test func hostnameMismatchFails() throws {
        let files = try CertificateFiles(commonName: "xmpp.example.org", subjectAlternativeNames: ["xmpp.example.org"])
        defer { files.remove() }
        let client = try TLSConnection.client(TLSClientConfiguration(serverName: "other.example.net", trustedCAFile: files.certificateFile))
        var pair = TLSPair(client: client, server: try TLSConnection.server(files.serverConfiguration))
        let error = #expect(throws: TLSError.self) { try pair.handshake() }
        #expect(
            error == .certificateVerificationFailed(reason: "certificate verify failed: hostname mismatch (hostname other.example.net)"))
    }

    @Test func ipAddressIsVerifiedAgainstTheIPSubjectAltName() throws {
        let files = try CertificateFiles(commonName: "relay", subjectAlternativeNames: ["127.0.0.1"])
        defer { files.remove() }
        var good = TLSPair(
            client: try TLSConnection.client(TLSClientConfiguration(serverName: "127.0.0.1", trustedCAFile: files.certificateFile)),
            server: try TLSConnection.server(files.serverConfiguration))
        try good.handshake()
        #expect(good.client.state == .established)

        var bad = TLSPair(
            client: try TLSConnection.client(TLSClientConfiguration(serverName: "127.0.0.2", trustedCAFile: files.certificateFile)),
            server: try TLSConnection.server(files.serverConfiguration))
        let error = #expect(throws: TLSError.self) { try bad.handshake() }
        #expect(error == .certificateVerificationFailed(reason: "certificate verify failed: IP address mismatch (hostname 127.0.0.2)"))
    }

    @Test func trustingAnotherCertificateStillFails() throws {
        let files = try CertificateFiles()
        let other = try CertificateFiles()
        defer { files.remove(); other.remove() }
        let client = try TLSConnection.client(TLSClientConfiguration(serverName: "localhost", trustedCAFile: other.certificateFile))
        var pair = TLSPair(client: client, server: try TLSConnection.server(files.serverConfiguration))
        let error = #expect(throws: TLSError.self) { try pair.handshake() }
        guard case .certificateVerificationFailed = error else {
            Issue.record("expected certificateVerificationFailed, got \(String(describing: error))")
            return
        }
    }

    @Test func missingCAFileIsAConfigurationErrorNamingTheFile() {
        let path = "/nonexistent/jinglekit/ca.pem"
        let error = #expect(throws: TLSError.self) {
            _ = try TLSConnection.client(TLSClientConfiguration(serverName: "localhost", trustedCAFile: path))
        }
        guard case .configuration(let reason) = error else {
            Issue.record("expected configuration error, got \(String(describing: error))")
            return
        }
        #expect(reason.contains(path))
    }

    @Test func missingServerKeyIsAConfigurationErrorNamingTheFile() throws {
        let files = try CertificateFiles()
        defer { files.remove() }
        let path = files.directory + "/missing-key.pem"
        let error = #expect(throws: TLSError.self) {
            _ = try TLSConnection.server(TLSServerConfiguration(certificateChainFile: files.certificateFile, privateKeyFile: path))
        }
        guard case .configuration(let reason) = error else {
            Issue.record("expected configuration error, got \(String(describing: error))")
            return
        }
        #expect(reason.contains(path))
    }

    @Test func garbageFromTheNetworkFailsTheHandshakeWithoutCrashing() throws {
        let files = try CertificateFiles()
        defer { files.remove() }
        let server = try TLSConnection.server(files.serverConfiguration)
        let error = #expect(throws: TLSError.self) {
            _ = try server.receive(ciphertext: Array("<?xml version='1.0'?><stream:stream>".utf8))
        }
        guard case .handshakeFailed = error else {
            Issue.record("expected handshakeFailed, got \(String(describing: error))")
            return
        }
        #expect(server.state == .failed)
        #expect(throws: TLSError.closed) { _ = try server.receive(ciphertext: [0x16]) }
    }

    @Test func corruptedRecordAfterHandshakeIsAProtocolError() throws {
        let files = try CertificateFiles()
        defer { files.remove() }
        var pair = TLSPair(
            client: try TLSConnection.client(TLSClientConfiguration(serverName: "localhost", trustedCAFile: files.certificateFile)),
            server: try TLSConnection.server(files.serverConfiguration))
        try pair.handshake()
        var record = try pair.client.write(plaintext: Array("hello".utf8))
        record[record.count - 1] ^= 0xFF
        let error = #expect(throws: TLSError.self) { _ = try pair.server.receive(ciphertext: record) }
        guard case .protocolError = error else {
            Issue.record("expected protocolError, got \(String(describing: error))")
            return
        }
    }

    @Test func selfSignedCertificateFingerprintHasRFC8122Form() throws {
        let certificate = try SelfSignedCertificate.generate(commonName: "call", subjectAlternativeNames: ["::1"])
        let fingerprint = certificate.sha256Fingerprint
        #expect(fingerprint.count == 32 * 3 - 1)
        #expect(fingerprint.split(separator: ":").allSatisfy { $0.count == 2 && $0.allSatisfy { "0123456789ABCDEF".contains($0) } })
        #expect(certificate.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(certificate.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        let other = try SelfSignedCertificate.generate(commonName: "call")
        #expect(other.sha256Fingerprint != fingerprint)
        #expect(throws: TLSError.self) { _ = try SelfSignedCertificate.generate(commonName: "") }
        #expect(throws: TLSError.self) { _ = try SelfSignedCertificate.generate(commonName: "x", subjectAlternativeNames: ["a,DNS:b"]) }
    }
}
