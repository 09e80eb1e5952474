import Foundation
import RelayServer
import STUN
import TURNServer
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// `jingle-agent check --turn` and the call report's ICE server list: an Allocate on each TURN
/// server with the credentials the XMPP server handed out (XEP-0215), and what came of it.
@Suite(.serialized) struct AgentTURNCheckTests {
    static var agent: String { AgentProcess.executable }

    func checkArguments(_ prosody: ProsodyFixture, _ user: String) throws -> [String] {
        [
            "check", "--turn", "--turn-timeout", "2", "--jid", "\(user)@localhost", "--password-file", prosody.passwordFile(user),
            "--server", "127.0.0.1:\(prosody.port)", "--ca-file", prosody.caFile,
        ]
    }

    /// The relay has Prosody's secret: every TURN service allocates.
    @Test func rightSecretAllocates() async throws {
        let prosody = try await ProsodyFixture.shared()
        _ = try await RelayFixture.shared(for: prosody)
        _ = try await prosody.account("turn-check")
        let (status, output) = try await Repository.run(Self.agent, try checkArguments(prosody, "turn-check"))
        #expect(status == 0, "output:\n\(output)")
        #expect(output.contains("TURN allocations:"), "output:\n\(output)")
        #expect(output.contains("turn:127.0.0.1:\(prosody.turnPort)?transport=udp: allocated, relayed 127.0.0.1:"), "output:\n\(output)")
    }

    /// A Prosody whose TURN port has nothing listening says "no answer"; with a relay there that
    /// has another shared secret, 401 and the hint. Both exit 7.
    @Test func unreachableRelayIsNoAnswerAndOtherSecretIs401() async throws {
        let prosody = try await PrivateProsody(secret: "prosody-side-secret")
        defer { prosody.stop() }
        let (silent, silentOutput) = try await Repository.run(Self.agent, try checkArguments(prosody.fixture, "alice"))
        #expect(silent == 7, "output:\n\(silentOutput)")
        #expect(silentOutput.contains("transport=udp: no answer"), "output:\n\(silentOutput)")
        #expect(silentOutput.contains("no TURN server allocated"), "output:\n\(silentOutput)")

        let relay = try await startRelay(port: prosody.fixture.turnPort, secret: "relay-side-secret")
        let (refused, refusedOutput) = try await Repository.run(Self.agent, try checkArguments(prosody.fixture, "alice"))
        try await relay.stop()
        #expect(refused == 7, "output:\n\(refusedOutput)")
        #expect(refusedOutput.contains("transport=udp: error 401"), "output:\n\(refusedOutput)")
        #expect(refusedOutput.contains("shared secrets differ"), "output:\n\(refusedOutput)")
    }

    /// `--ice-server turn:localhost:PORT`: the name resolves (IPv4 and IPv6) and the relay on
    /// 127.0.0.1 allocates with TURN REST credentials made from its secret.
    @Test func hostNameTURNServerIsResolvedAndAllocates() async throws {
        let prosody = try await ProsodyFixture.shared()
        _ = try await RelayFixture.shared(for: prosody)
        _ = try await prosody.account("turn-check-name")
        let (username, passwordFile) = try restCredentials(secret: prosody.turnSecret)
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }
        let (status, output) = try await Repository.run(
            Self.agent,
            try checkArguments(prosody, "turn-check-name") + [
                "--ice-server", "turn:localhost:\(prosody.turnPort)", "--ice-username", username, "--ice-password-file", passwordFile,
            ])
        #expect(status == 0, "output:\n\(output)")
        #expect(
            output.contains(
                "turn:localhost:\(prosody.turnPort)?transport=udp (turn:127.0.0.1:\(prosody.turnPort)?transport=udp): allocated"),
            "output:\n\(output)")
    }

    /// A relay-only call whose only TURN server does not answer: exit 7, and the report says which
    /// server gave nothing and why.
    @Test func relayOnlyCallToUnreachableTURNServerNamesItInTheReport() async throws {
        let a = try await AgentAccounts.make()
        let deadPort = try Repository.freeRelayPort()
        let (username, passwordFile) = try restCredentials(secret: "unused")
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }
        let callee = try AgentProcess(
            "echo",
            ["echo", "--report", "json", "--max-calls", "1"]
                + (try await a.arguments("turn-report-b")) + ["--local-address", "127.0.0.1", "--no-discover-servers"])
        try await callee.waitFor("waiting for calls")
        let caller = try AgentProcess(
            "caller",
            [
                "call", a.bare("turn-report-b"), "--relay-only", "--report", "json",
                "--local-address", "127.0.0.1",
                "--ice-server", "turn:127.0.0.1:\(deadPort)", "--ice-username", username,
                "--ice-password-file", passwordFile,
            ]
                + (try await a.arguments("turn-report-a")))
        #expect(try await caller.exitStatus(limit: .seconds(60)) == 7, "\(caller.transcript)")
        let media = try caller.report()["media"] as? [String: Any] ?? [:]
        let servers = media["iceServers"] as? [[String: Any]] ?? []
        #expect(servers.count == 1, "\(caller.stdout)")
        #expect(servers.first?["server"] as? String == "turn:127.0.0.1:\(deadPort)?transport=udp", "\(caller.stdout)")
        #expect(servers.first?["outcome"] as? String == "noAnswer", "\(caller.stdout)")
        callee.send(SIGTERM)
        _ = try await callee.exitStatus()
    }

    /// A relay-only call through the relay Prosody announces: the report lists each XEP-0215
    /// TURN service as allocated, with the relayed address libnice got from it.
    @Test func relayOnlyCallReportListsTheAllocatedServers() async throws {
        let a = try await AgentAccounts.make()
        _ = try await RelayFixture.shared(for: a.prosody)
        let callee = try AgentProcess(
            "echo",
            ["echo", "--report", "json", "--max-calls", "1"]
                + (try await a.arguments("turn-ok-b")) + ["--local-address", "127.0.0.1", "--no-discover-servers"])
        try await callee.waitFor("waiting for calls")
        let caller = try AgentProcess(
            "caller",
            [
                "call", a.bare("turn-ok-b"), "--relay-only", "--tone", "440", "--hangup-after", "1",
                "--report", "json", "--local-address", "127.0.0.1",
            ]
                + (try await a.arguments("turn-ok-a")))
        #expect(try await caller.exitStatus() == 0, "\(caller.transcript)")
        #expect(try await callee.exitStatus() == 0, "\(callee.transcript)")
        let media = try caller.report()["media"] as? [String: Any] ?? [:]
        let servers = media["iceServers"] as? [[String: Any]] ?? []
        let udp = servers.first { $0["server"] as? String == "turn:127.0.0.1:\(a.prosody.turnPort)?transport=udp" }
        #expect(udp?["outcome"] as? String == "allocated", "\(caller.stdout)")
        #expect((udp?["addresses"] as? [String] ?? []).first?.hasPrefix("127.0.0.1:") == true, "\(caller.stdout)")
        #expect(servers.allSatisfy { $0["outcome"] as? String == "allocated" }, "\(caller.stdout)")
    }

    /// TURN REST credentials (draft-uberti-behave-turn-rest): `expiry:user` and base64 HMAC-SHA1.
    func restCredentials(secret: String) throws -> (username: String, passwordFile: String) {
        let username = "\(Int(Date().timeIntervalSince1970) + 3600):turn-check"
        let key = CredentialStore.restPassword(username: username, secret: secret)
        let file = NSTemporaryDirectory() + "jinglekit-turn-\(UUID().uuidString)"
        try key.write(toFile: file, atomically: true, encoding: .utf8)
        return (username, file)
    }

    func startRelay(port: Int, secret: String) async throws -> RelayServer {
        var configuration = RelayConfiguration()
        guard let listen = TransportAddress("127.0.0.1:\(port)") else { throw FixtureError(description: "bad port \(port)") }
        configuration.listen = [listen]
        configuration.relayIPv4 = IPAddress("127.0.0.1")
        configuration.realm = "localhost"
        configuration.secrets = [secret]
        configuration.allowLoopbackPeers = true
        let base = UInt16(24_000 + Int(getpid() % 40) * 20)
        configuration.portRange = base...(base + 19)
        configuration.socketBufferBytes = 0
        let server = try RelayServer(configuration: configuration)
        try await server.start()
        return server
    }
}

/// A Prosody of one test's own (through `Tools/prosody-test`), advertising a TURN port and secret
/// of the test's choosing; `stop()` ends it.
struct PrivateProsody {
    let fixture: ProsodyFixture

    init(secret: String) async throws {
        let port = try Repository.freeTCPPort()
        let turnPort = try Repository.freeRelayPort()
        let dir = "\(Repository.runDirectory)/prosody-turn-\(getpid())-\(port)"
        let (status, output) = try await Repository.run(
            "/bin/bash",
            [
                "\(Repository.root)/Tools/prosody-test", "start", dir,
                "--port", "\(port)", "--turn-host", "127.0.0.1", "--turn-port", "\(turnPort)", "--turn-secret", secret,
            ])
        guard status == 0 else { throw FixtureError(description: "Tools/prosody-test failed (status \(status)):\n\(output)") }
        fixture = ProsodyFixture(
            directory: dir, port: port, caFile: "\(dir)/ca.pem", turnSecret: secret,
            turnHost: "127.0.0.1", turnPort: turnPort)
    }

    /// Blocking: it runs from a `defer`, at the end of the test.
    func stop() {
        _ = try? Repository.runBlocking("/bin/bash", ["\(Repository.root)/Tools/prosody-test", "stop", fixture.directory])
        try? FileManager.default.removeItem(atPath: fixture.directory)
    }
}
