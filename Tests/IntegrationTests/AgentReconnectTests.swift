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

    init(_ name: String) async throws {
        port = try Repository.freeTCPPort()
        directory = "\(Repository.runDirectory)/prosody-\(name)-\(ProcessInfo.processInfo.processIdentifier)-\(port)"
        try await start()
    }

    deinit { _ = try? Repository.runBlocking("/bin/bash", ["\(Repository.root)/Tools/prosody-test", "stop", directory]) }

    func start() async throws {
        let (status, output) = try await Repository.run(
            "/bin/bash",
            [
                "\(Repository.root)/Tools/prosody-test", "start", directory,
                "--port", "\(port)",
            ])
        guard status == 0 else { throw FixtureError(description: "Tools/prosody-test start failed:\n\(output)") }
    }

    func stop() async {
        _ = try? await Repository.run("/bin/bash", ["\(Repository.root)/Tools/prosody-test", "stop", directory])
    }

    /// `--jid user@localhost/resource ...` against this server (or through `port`).
    func arguments(_ user: String, resource: String = "agent", port: Int? = nil) -> [String] {
        [
            "--jid", "\(user)@localhost/\(resource)", "--password-file", "\(directory)/\(user).password",
            "--server", "127.0.0.1:\(port ?? self.port)", "--ca-file", "\(directory)/ca.pem",
        ]
    }
}

/// A TCP proxy that can go silent: after `freeze()` it stops forwarding on the connections it has
/// (keeping them open: no FIN, no RST, like a dead NAT binding), while new connections are
/// forwarded normally. `cut()` closes the connections it has instead (both ways, as a reset
/// router or a dropped Wi-Fi would), and for a while closes new ones at once too.
final class FreezingProxy: @unchecked Sendable {
    static let script = #"""
        import os, socket, sys, threading, time
        listen_port, upstream_port, ready_file, freeze_file, cut_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
        generation = [0]
        hold = threading.Event()
        lock = threading.Lock()
        connections = []
        refuse_until = [0.0]
        def watch():
            while True:
                if os.path.exists(freeze_file):
                    generation[0] += 1
                    os.remove(freeze_file)
                if os.path.exists(cut_file):
                    refuse_until[0] = time.time() + float(open(cut_file).read() or "0")
                    with lock:
                        cut = list(connections)
                        connections.clear()
                    for s in cut:
                        try: s.shutdown(socket.SHUT_RDWR)
                        except OSError: pass
                    os.remove(cut_file)
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
            if time.time() < refuse_until[0]:
                client.close()  # the way back is not there yet
                continue
            upstream = socket.create_connection(("127.0.0.1", upstream_port))
            with lock:
                connections.extend([client, upstream])
            gen = generation[0]
            threading.Thread(target=pump, args=(client, upstream, gen), daemon=True).start()
            threading.Thread(target=pump, args=(upstream, client, gen), daemon=True).start()
        """#

    let port: Int
    private let process = Process()
    private let freezeFile: String
    private let cutFile: String

    init(upstream: Int) async throws {
        port = try Repository.freeTCPPort()
        let base = NSTemporaryDirectory() + "freezing-proxy-\(UUID().uuidString)"
        freezeFile = base + ".freeze"
        cutFile = base + ".cut"
        try Self.script.write(toFile: base + ".py", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", base + ".py", "\(port)", "\(upstream)", base + ".ready", freezeFile, cutFile]
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

    /// Closes every connection open now (FIN both ways: the client sees its stream end, the
    /// server a connection gone without a closing `</stream>`); new ones are closed at once for
    /// `seconds`, forwarded after. Returns once the proxy has done it (bounded).
    func cut(refusingFor seconds: Double = 0) async throws {
        _ = FileManager.default.createFile(atPath: cutFile, contents: Data("\(seconds)".utf8))
        let deadline = ContinuousClock.now + .seconds(5)
        while FileManager.default.fileExists(atPath: cutFile) {
            guard ContinuousClock.now < deadline, process.isRunning else { throw AgentTestError("the proxy did not cut") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

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

    /// alice calls bob's bare JID (JMI, signalling only, hanging up after 0.3 s): the call reaches
    /// bob's agent and both agents exit 0.
    static func aliceCallsBob(_ prosody: RestartableProsody, _ bob: AgentProcess) async throws {
        let alice = try AgentProcess(
            "caller",
            ["call", "bob@localhost"] + prosody.arguments("alice")
                + ["--report", "json", "--hangup-after", "0.3"] + signalling)
        #expect(try await alice.exitStatus() == 0, "\(alice.transcript)\n\(bob.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
    }

    @Test func idleAnsweringAgentSurvivesAProsodyRestart() async throws {
        let prosody = try await RestartableProsody("restart")
        let bob = try AgentProcess(
            "callee",
            ["answer"] + prosody.arguments("bob")
                + ["--auto", "--max-calls", "1", "--report", "json"] + Self.signalling)
        try await bob.waitFor("waiting for calls")
        #expect(bob.stderr.contains("stream management on"), "\(bob.transcript)")
        await prosody.stop()
        try await bob.waitFor("offline: connection lost", limit: .seconds(10))
        try await bob.waitFor("reconnecting in", limit: .seconds(10))
        try await prosody.start()
        try await bob.waitFor("online again (new session)", limit: .seconds(20))
        // Presence went out again: a JMI call to the bare JID reaches the agent and is answered.
        try await Self.aliceCallsBob(prosody, bob)
        #expect(try bob.report()["outcome"] as? String == "completed")
    }

    @Test func prosodyStoppedUnderACall() async throws {
        let prosody = try await RestartableProsody("incall")
        let bob = try AgentProcess(
            "callee",
            ["answer"] + prosody.arguments("bob")
                + ["--auto", "--no-reconnect", "--report", "json"] + Self.signalling)
        try await bob.waitFor("waiting for calls")
        let alice = try AgentProcess(
            "caller",
            ["call", "bob@localhost"] + prosody.arguments("alice")
                + ["--report", "json", "--hangup-after", "60"] + Self.signalling)
        try await alice.waitFor("is active")
        try await bob.waitFor("is active")
        let stopped = ContinuousClock.now
        await prosody.stop()
        // --no-reconnect: exit 6 at once, saying why.
        #expect(try await bob.exitStatus(limit: .seconds(10)) == 6, "\(bob.transcript)")
        #expect(ContinuousClock.now - stopped < .seconds(8))
        #expect(bob.stderr.contains("offline: connection lost"), "\(bob.transcript)")
        // ...after writing the report of the call it had to abandon: failed, saying why.
        let report = try bob.report()
        #expect(report["outcome"] as? String == "failed", "\(bob.transcript)")
        #expect(report["reason"] as? String == "general-error")
        #expect((report["reasonText"] as? String ?? "").contains("offline: connection lost"), "\(bob.transcript)")
        #expect(report["exitCode"] as? Int == 6)
        // Without it: the caller goes offline, keeps trying, and is back once Prosody is.
        try await alice.waitFor("reconnecting in", limit: .seconds(10))
        try await prosody.start()
        try await alice.waitFor("online again", limit: .seconds(20))
        alice.send(SIGINT)
        _ = try await alice.exitStatus()
    }

    @Test func silentConnectionIsFoundByPingsAndReplaced() async throws {
        let prosody = try await RestartableProsody("silent")
        let proxy = try await FreezingProxy(upstream: prosody.port)
        defer { proxy.stop() }
        let bob = try AgentProcess(
            "callee",
            ["answer"] + prosody.arguments("bob", port: proxy.port)
                + [
                    "--auto", "--max-calls", "1", "--report", "json",
                    "--ping-interval", "1", "--ping-timeout", "1.5",
                ] + Self.signalling)
        try await bob.waitFor("waiting for calls")
        // Pings after each second of silence are answered: the agent stays online.
        try await Task.sleep(for: .milliseconds(2500))
        #expect(!bob.stderr.contains("offline"), "\(bob.transcript)")
        proxy.freeze()
        try await bob.waitFor("offline: connection lost (no answer from the server", limit: .seconds(10))
        try await bob.waitFor("online again", limit: .seconds(20))
        // The server still had the old session (no FIN reached it): XEP-0198 resumes it.
        #expect(bob.stderr.contains("online again (stream resumed)"), "\(bob.transcript)")
        try await Self.aliceCallsBob(prosody, bob)
        withExtendedLifetime(proxy) {}
    }

    /// A call with media whose callee loses its TCP connection to the server for 3 s (the proxy
    /// closes it, and the attempts to reconnect during those seconds; Prosody keeps running and
    /// keeps the session for XEP-0198): the callee reconnects and resumes the stream, the media
    /// never stops (both sides hang up after 1 s without audio, so a longer gap would fail the
    /// call), and signalling works again: the caller hangs up after the resumption and both sides
    /// see the call complete.
    @Test func callSurvivesAConnectionCutByResumingTheStream() async throws {
        let prosody = try await RestartableProsody("cut")
        let proxy = try await FreezingProxy(upstream: prosody.port)
        defer { proxy.stop() }
        let media = ["--local-address", "127.0.0.1", "--no-discover-servers", "--tone", "440", "--media-timeout", "1"]
        let bob = try AgentProcess(
            "callee",
            ["answer"] + prosody.arguments("bob", port: proxy.port)
                + ["--auto", "--max-calls", "1", "--report", "json", "--reconnect-max-delay", "1"] + media)
        defer { bob.kill() }
        try await bob.waitFor("waiting for calls")
        #expect(bob.stderr.contains("stream management on"), "\(bob.transcript)")
        let alice = try AgentProcess(
            "caller",
            ["call", "bob@localhost"] + prosody.arguments("alice")
                + ["--report", "json"] + media)
        defer { alice.kill() }
        try await alice.waitFor("first audio received")
        try await bob.waitFor("first audio received")

        let cut = ContinuousClock.now
        try await proxy.cut(refusingFor: 3)
        try await bob.waitFor("offline: connection lost", limit: .seconds(10))
        try await bob.waitFor("online again", limit: .seconds(20))
        #expect(ContinuousClock.now - cut >= .seconds(3))
        #expect(bob.stderr.contains("online again (stream resumed)"), "\(bob.transcript)")
        #expect(!alice.stderr.contains("offline"), "only the callee's connection was cut: \(alice.transcript)")

        // Signalling after the outage: the caller hangs up, the callee hears of it over the resumed stream.
        alice.send(SIGINT)
        #expect(try await alice.exitStatus() == 0, "\(alice.transcript)\n\(bob.transcript)")
        #expect(try await bob.exitStatus() == 0, "\(bob.transcript)")
        for (agent, byPeer) in [(alice, false), (bob, true)] {
            let report = try agent.report()
            #expect(report["outcome"] as? String == "completed", "\(agent.transcript)")
            #expect(report["endedByPeer"] as? Bool == byPeer, "\(agent.transcript)")
            // Audio all the way through: packets for most of the talk time (one per 20 ms).
            let talk = report["talkMs"] as? Double ?? 0
            #expect(talk > 3000, "the call went on through the outage: \(agent.stdout)")
            let received = (report["media"] as? [String: Any])?["packetsReceived"] as? Int ?? 0
            #expect(talk > 0 && Double(received) > talk / 20 * 0.8, "\(received) packets in \(talk) ms: \(agent.stdout)")
        }
    }
}
