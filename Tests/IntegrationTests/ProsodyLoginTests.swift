import CryptoPrimitives
import Foundation
import Testing
import XMLStream
import XMPPClient
import XMPPCore

/// The XMPP client core against a real Prosody (started by `Tools/prosody-test` on loopback):
/// STARTTLS with certificate verification, SCRAM, binding, messages, IQs, XEP-0215 credentials,
/// and the errors a user sees when something is wrong.
@Suite(.serialized) struct ProsodyLoginTests {
    func client(
        _ user: String, domain: String = "localhost", password: String? = nil, caFile: String? = nil,
        useCA: Bool = true, resource: String? = nil
    ) async throws -> XMPPClient {
        let prosody = try await ProsodyFixture.shared()
        // Accounts of this suite's own on localhost (see ProsodyFixture.account).
        let localpart = domain == prosody.domain ? "login-\(user)" : user
        if domain == prosody.domain { _ = try await prosody.account(localpart) }
        let jid = JID(localpart: localpart, domainpart: domain, resourcepart: resource)
        let configuration = XMPPClientConfiguration(
            jid: jid, password: try password ?? prosody.password(localpart),
            server: .init(host: "127.0.0.1", port: prosody.port),
            trustedCAFile: useCA ? (caFile ?? prosody.caFile) : nil,
            connectTimeout: .seconds(5), negotiationStepTimeout: .seconds(10), requestTimeout: .seconds(10))
        return XMPPClient(configuration: configuration)
    }

    @Test func bothAccountsLogInOverSTARTTLSWithSCRAMAndExchangeAMessageAndAnIQ() async throws {
        let alice = try await client("alice", resource: "desk")
        let dave = try await client("dave", domain: "sha1.localhost", resource: "phone")
        let aliceInfo = try await alice.connect()
        let daveInfo = try await dave.connect()
        defer {
            Task {
                await alice.disconnect(); await dave.disconnect()
            }
        }

        #expect(aliceInfo.tlsVersion?.hasPrefix("TLSv1.") == true)
        #expect(aliceInfo.saslMechanism == .scramSHA256, "Prosody stores SHA-256 hashes for localhost")
        #expect(daveInfo.saslMechanism == .scramSHA1, "Prosody stores SHA-1 hashes for sha1.localhost")
        #expect(aliceInfo.boundJID.bare == JID("login-alice@localhost"))
        #expect(aliceInfo.boundJID.resourcepart == "desk")
        #expect(daveInfo.boundJID.bare == JID("dave@sha1.localhost"))

        try await alice.sendPresence()
        try await dave.sendPresence()

        // A message from alice reaches dave's full JID.
        let body = "hello from alice \(UUID().uuidString)"
        let received = Task { () -> Message? in
            for await stanza in dave.stanzas {
                if case .message(let m) = stanza, m.body == body { return m }
            }
            return nil
        }
        try await alice.send(Message(type: .chat, id: await alice.makeID(), to: daveInfo.boundJID, body: body))
        let message = try await withTimeout(.seconds(10)) { await received.value }
        #expect(message?.from == aliceInfo.boundJID)

        // An IQ from dave to alice, answered by a handler alice registered.
        let namespace = "urn:jinglekit:test:echo"
        await alice.setIQHandler(namespace: namespace) { request in
            request.result(payload: XMLElement("echo", namespace: namespace, text: request.payload?.text ?? ""))
        }
        let request = IQ(
            type: .get, id: await dave.makeID(), to: aliceInfo.boundJID,
            payload: XMLElement("echo", namespace: namespace, text: "ping-pong"))
        let response = try await dave.sendIQ(request, timeout: .seconds(10))
        #expect(response.type == .result)
        #expect(response.payload?.text == "ping-pong")

        // An IQ nobody handles is answered with service-unavailable (RFC 6120 §8.4).
        let unknown = IQ(
            type: .get, id: await dave.makeID(), to: aliceInfo.boundJID,
            payload: XMLElement("query", namespace: "urn:jinglekit:test:nobody-home"))
        await #expect(throws: XMPPError.self) { _ = try await dave.sendIQ(unknown, timeout: .seconds(10)) }

        // XEP-0199: the server answers a ping.
        _ = try await alice.ping(nil, timeout: .seconds(10))
    }

    @Test func turnCredentialsFromXEP0215AreTheRESTSchemeOfTheSharedSecret() async throws {
        let prosody = try await ProsodyFixture.shared()
        let alice = try await client("alice", resource: "turn")
        _ = try await alice.connect()
        defer { Task { await alice.disconnect() } }
        let services = try await alice.fetchExternalServices()
        let turn = try #require(services.first { $0.type == "turn" && $0.transport == "udp" })
        #expect(turn.host == prosody.turnHost)
        #expect(turn.port.map(Int.init) == prosody.turnPort)
        let username = try #require(turn.username)
        let password = try #require(turn.password)
        // TURN REST API: username = expiry[:name], password = base64(HMAC-SHA1(secret, username)).
        let expiry = try #require(Int(username.split(separator: ":").first ?? ""))
        #expect(expiry > Int(Date().timeIntervalSince1970))
        let expected = Base64.encode(Digest.hmac(.sha1, key: Array(prosody.turnSecret.utf8), data: Array(username.utf8)))
        #expect(password == expected)
        #expect(services.contains { $0.type == "stun" })
    }

    @Test func wrongPasswordIsAnAuthenticationFailure() async throws {
        let alice = try await client("alice", password: "not-the-password")
        do {
            _ = try await alice.connect()
            Issue.record("login with a wrong password succeeded")
        } catch {
            guard case .sasl(let failure) = error else {
                Issue.record("expected a SASL failure, got \(error)"); return
            }
            #expect(failure.conditionName == "not-authorized")
            #expect("\(error)".contains("not-authorized"))
        }
    }

    @Test func untrustedCertificateIsRefusedWithItsReason() async throws {
        let alice = try await client("alice", useCA: false)
        do {
            _ = try await alice.connect()
            Issue.record("connected to a server whose certificate is not trusted")
        } catch {
            guard case .tls(let reason) = error else { Issue.record("expected a TLS failure, got \(error)"); return }
            #expect(reason.contains("certificate verify failed"), "reason: \(reason)")
        }
    }

    @Test func hostnameMismatchIsRefused() async throws {
        // Prosody's certificate names localhost and sha1.localhost; connecting for another
        // domain must fail verification even though the CA is trusted.
        let prosody = try await ProsodyFixture.shared()
        let configuration = XMPPClientConfiguration(
            jid: JID("alice@127.0.0.1")!, password: "x", server: .init(host: "127.0.0.1", port: prosody.port),
            trustedCAFile: prosody.caFile, connectTimeout: .seconds(5), negotiationStepTimeout: .seconds(10))
        let client = XMPPClient(configuration: configuration)
        await #expect(throws: XMPPError.self) { _ = try await client.connect() }
    }

    @Test func unreachableServerGivesAOneLineReason() async throws {
        let port = try Repository.freeTCPPort()
        let configuration = XMPPClientConfiguration(
            jid: JID("alice@localhost")!, password: "x", server: .init(host: "127.0.0.1", port: port),
            connectTimeout: .seconds(3))
        let client = XMPPClient(configuration: configuration)
        do {
            _ = try await client.connect()
            Issue.record("connected to a closed port")
        } catch {
            guard case .unreachable = error else { Issue.record("expected unreachable, got \(error)"); return }
            #expect(!"\(error)".contains("\n"))
        }
    }
}

/// Runs `body`, failing if it takes longer than `limit` (a bounded wait, not a sleep).
func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            try await Task.sleep(for: limit); return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw FixtureError(description: "timed out after \(limit)")
        }
        return value
    }
}
