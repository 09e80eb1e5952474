import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A Prosody of the test's own (the shared one must stay up for everybody else), stopped and
/// started again by the test through `Tools/prosody-test`.
final class RestartableProsody: @unchecked Sendable {
    let directory: String
    let port: Int

    init(_ name: String) throws {
        port = try Repository.freeTCPPort()
        directory = "\(Repository.runDirectory)/prosody-\(name)-\(ProcessInfo.processInfo.processIdentifier)-\(port)"
        try start()
    }

    deinit { stop() }

    func start() throws {
        let (status, output) = try Repository.run("/bin/bash", ["\(Repository.root)/Tools/prosody-test", "start", directory,
                                                                 "--port", "\(port)"])
        guard status == 0 else { throw FixtureError(description: "Tools/prosody-test start failed:\n\(output)") }
    }

    func stop() {
        _ = try? Repository.run("/bin/bash", ["\(Repository.root)/Tools/prosody-test", "stop", directory])
    }

    /// `--jid user@localhost/resource ...` against this server (or through `port`).
    func arguments(_ user: String, resource: String = "agent", port: Int? = nil) -> [String] {
        ["--jid", "\(user)@localhost/\(resource)", "--password-file", "\(directory)/\(user).password",
         "--server", "127.0.0.1:\(port ?? self.port)", "--ca-file", "\(directory)/ca.pem"]
    }
}

/// A TCP proxy that can go silent: after `freeze()` it stops forwarding on the connections it has
/// (keeping them open: no FIN, no RST, like a dead NAT binding), while new connections are
/// forwarded normally.
final class FreezingProxy: @unchecked Sendable {
    static let script = #"""
    import os, socket, sys, threading, time
    listen_port, upstream_port, ready_file, freeze_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    generation = [0]
    hold = threading.Event()
    def watch():
        while True:
            if os.path.exists(freeze_file):
                generation[0] += 1
                os.remove(freeze_file)
            time.sleep(0.02)
    threading.Thread(target=watch, daemon=True).start()
    def pump(src, dst, gen):
        try:
            while True:
                data = src.recv(65536)
                if not data or generation[0] != gen:
                    break
                dst.sendall(data)
        except OSError:
            return
        if generation[0] != gen:
            hold.wait()  # silent for ever, sockets left open
        for s in (src, dst):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", listen_port))
    server.listen(16)
    open(ready_file, "w").write("ready")
    while True:
        try:
            client, _ = server.accept()
        except InterruptedError:
            continue
        upstream = socket.create_connection(("127.0.0.1", upstream_port))
        gen = generation[0]
        threading.Thread(target=pump, args=(client, upstream, gen), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, gen), daemon=True).start()
    """#

    let port: Int
    private let process = Process()
    private let freezeFile: String

    init(upstream: Int) async throws {
        port = try Repository.freeTCPPort()
        let base = NSTemporaryDirectory() + "freezing-proxy-\(UUID().uuidString)"
        freezeFile = base + ".freeze"
        try Self.script.write(toFile: base + ".py", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", base + ".py", "\(port)", "\(upstream)", base + ".ready", freezeFile]
        process.standardInput = FileHandle.nullDevice
        // Never the test runner's own pipes: a proxy left running would keep `swift test`
        // waiting for their end after the tests finished.
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: base + ".ready") {
            guard ContinuousClock.now < deadline, process.isRunning else { throw AgentTestError("the proxy did not start") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Stops forwarding on every connection open now, without closing any.
    func freeze() { _ = FileManager.default.createFile(atPath: freezeFile, contents: Data()) }

    /// Ends the proxy. SIGKILL: processes started from `swift test` may have SIGTERM blocked.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    deinit { stop() }
}

/// The agent when the server goes away (docs/jingle-agent.md, "When the server goes away"): it notices (a
/// closed stream, or silence found by pings), reconnects with back-off, and takes calls again;
/// `--no-reconnect` exits 6 at once instead.
@Suite(.serialized) struct AgentReconnectTests {
    static let signalling = ["--signalling-only", "--reconnect-max-delay", "1"]

    @Test func idleAnsweringAgentSurvivesAProsodyRestart() async throws {
        let prosody = try RestartableProsody("restart")
        let bob = try AgentProcess("callee", ["answer"] + prosody.arguments("bob")
                                   + ["--auto", "--max-calls", "1", "--report", "json"] + Self.signalling)
        try await bob.waitFor("waiting for calls")
        #expect(bob.stderr.contains("stream management on"), "\(bob.transcript)")
        prosody.stop()
        try await bob.waitFor("offline: connection lost", limit: .seconds(10))
        try await bob.waitFor("reconnecting in", limit: .seconds(10))
        try prosody.start()
        try await bob.waitFor("online again (new session)", limit: .seconds(20))
        // Presence went out again: a JMI call to the bare JID reaches the agent and is answered.
        let alice = try AgentProcess("caller", ["call", "bob@localhost"] + prosody.arguments("alice")
                                     + ["--report", "json", "--hangup-after", "0.3"] + Self.signalling)
        #expect(try await alice.exitStatus() == 0, "\(alice.transcript)\n\(bob.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
        #expect(try bob.report()["outcome"] as? String == "completed")
    }

    @Test func prosodyStoppedUnderACall() async throws {
        let prosody = try RestartableProsody("incall")
        let bob = try AgentProcess("callee", ["answer"] + prosody.arguments("bob")
                                   + ["--auto", "--no-reconnect", "--report", "json"] + Self.signalling)
        try await bob.waitFor("waiting for calls")
        let alice = try AgentProcess("caller", ["call", "bob@localhost"] + prosody.arguments("alice")
                                     + ["--report", "json", "--hangup-after", "60"] + Self.signalling)
        try await alice.waitFor("is active")
        try await bob.waitFor("is active")
        let stopped = ContinuousClock.now
        prosody.stop()
        // --no-reconnect: exit 6 at once, saying why.
        #expect(try await bob.exitStatus(limit: .seconds(10)) == 6, "\(bob.transcript)")
        #expect(ContinuousClock.now - stopped < .seconds(8))
        #expect(bob.stderr.contains("offline: connection lost"), "\(bob.transcript)")
        // Without it: the caller goes offline, keeps trying, and is back once Prosody is.
        try await alice.waitFor("reconnecting in", limit: .seconds(10))
        try prosody.start()
        try await alice.waitFor("online again", limit: .seconds(20))
        alice.send(SIGINT)
        _ = try await alice.exitStatus()
    }

    @Test func silentConnectionIsFoundByPingsAndReplaced() async throws {
        let prosody = try RestartableProsody("silent")
        let proxy = try await FreezingProxy(upstream: prosody.port)
        defer { proxy.stop() }
        let bob = try AgentProcess("callee", ["answer"] + prosody.arguments("bob", port: proxy.port)
                                   + ["--auto", "--max-calls", "1", "--report", "json",
                                      "--ping-interval", "1", "--ping-timeout", "1.5"] + Self.signalling)
        try await bob.waitFor("waiting for calls")
        // Pings after each second of silence are answered: the agent stays online.
        try await Task.sleep(for: .milliseconds(2500))
        #expect(!bob.stderr.contains("offline"), "\(bob.transcript)")
        proxy.freeze()
        try await bob.waitFor("offline: connection lost (no answer from the server", limit: .seconds(10))
        try await bob.waitFor("online again", limit: .seconds(20))
        // The server still had the old session (no FIN reached it): XEP-0198 resumes it.
        #expect(bob.stderr.contains("online again (stream resumed)"), "\(bob.transcript)")
        let alice = try AgentProcess("caller", ["call", "bob@localhost"] + prosody.arguments("alice")
                                     + ["--report", "json", "--hangup-after", "0.3"] + Self.signalling)
        #expect(try await alice.exitStatus() == 0, "\(alice.transcript)\n\(bob.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
        withExtendedLifetime(proxy) {}
    }
}
