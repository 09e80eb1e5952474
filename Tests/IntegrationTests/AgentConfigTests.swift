import Foundation
import Testing

/// `jingle-agent` configuration: the config file, flags over it, ICE server URLs, and the exit
/// code of every usage error. These runs never connect (`--dry-run`, or they fail first).
@Suite struct AgentConfigTests {
    final class TempDir: @unchecked Sendable {
        let path = NSTemporaryDirectory() + "jingle-agent-config-\(UUID().uuidString)"
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func write(_ name: String, _ text: String) throws -> String {
            let file = "\(path)/\(name)"
            try text.write(toFile: file, atomically: true, encoding: .utf8)
            return file
        }
    }

    func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> (Int32, AgentProcess) {
        let p = try AgentProcess("agent", arguments, environment: environment)
        return (try await p.exitStatus(limit: .seconds(20)), p)
    }

    func settings(_ p: AgentProcess) throws -> [String: Any] {
        guard let line = p.stdout.split(separator: "\n").first,
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        else {
            throw AgentTestError("no settings printed\n\(p.transcript)")
        }
        return object
    }

    @Test func configFileGivesAccountAndMediaSettings() async throws {
        let dir = try TempDir()
        _ = try dir.write("alice.password", "secret\n")
        _ = try dir.write("turn.password", "turn-secret\n")
        _ = try dir.write("ca.pem", "") // must exist: --dry-run checks the files it names
        let config = try dir.write(
            "agent.conf",
            """
            # the agent's account
            [account]
            jid = alice@example.com/bot
            password-file = alice.password   ; relative to this file
            server = 127.0.0.1:15222
            ca-file = ca.pem

            [media]
            ice-server = turn:192.0.2.1:3478?transport=udp
            ice-server = stun:[2001:db8::1]
            ice-server = turns:192.0.2.2
            ice-username = alice
            ice-password-file = turn.password
            local-address = 127.0.0.1
            bitrate = 32000
            fec = no
            """)
        let (status, p) = try await run(["call", "bob@example.com", "--config", config, "--dry-run", "--dtx"])
        #expect(status == 0, "\(p.transcript)")
        let s = try settings(p)
        #expect(s["jid"] as? String == "alice@example.com/bot")
        #expect(s["server"] as? String == "127.0.0.1:15222")
        #expect(s["caFile"] as? String == "\(dir.path)/ca.pem")
        #expect(
            s["iceServers"] as? [String] == [
                "turn:192.0.2.1:3478?transport=udp", "stun:[2001:db8::1]:3478",
                "turns:192.0.2.2:5349?transport=tcp",
            ])
        #expect(s["discoverServers"] as? Bool == false)
        #expect(s["localAddresses"] as? [String] == ["127.0.0.1"])
        #expect(s["bitrate"] as? Int == 32000)
        #expect(s["fec"] as? Bool == false)
        #expect(s["dtx"] as? Bool == true)
        #expect(!p.stdout.contains("secret"))
    }

    @Test func flagsOverrideTheConfigFile() async throws {
        let dir = try TempDir()
        let config = try dir.write("agent.conf", "[account]\njid = alice@example.com\nserver = 127.0.0.1:1\n")
        let (status, p) = try await run(
            [
                "answer", "--config", config, "--jid", "carol@example.com/x", "--server", "127.0.0.1:2",
                "--dry-run", "--ice-server", "stun:198.51.100.1:19302",
            ],
            environment: ["JINGLE_AGENT_PASSWORD": "from-env"])
        #expect(status == 0, "\(p.transcript)")
        let s = try settings(p)
        #expect(s["jid"] as? String == "carol@example.com/x")
        #expect(s["server"] as? String == "127.0.0.1:2")
        #expect(s["iceServers"] as? [String] == ["stun:198.51.100.1:19302"])
    }

    @Test func sampleConfigurationParses() async throws {
        let dir = try TempDir()
        let password = try dir.write("pw", "x\n")
        // The sample beside the CA file it names (--dry-run checks that it exists).
        let sample = try dir.write("agent.conf", try String(contentsOfFile: "\(Repository.root)/Samples/agent/agent.conf", encoding: .utf8))
        _ = try dir.write("ca.pem", "")
        let (status, p) = try await run(["answer", "--config", sample, "--password-file", password, "--dry-run"])
        #expect(status == 0, "\(p.transcript)")
        let s = try settings(p)
        #expect(s["jid"] as? String == "alice@example.com/agent")
        #expect(s["caFile"] as? String == "\(dir.path)/ca.pem")
        #expect(s["bitrate"] as? Int == 32000)
    }

    static let badFiles: [(String, String, String)] = [
        ("[account]\njid = a@example.com\njdi = b@example.com\n", ":3: 'jdi'", "unknown key"),
        ("[account]\n\nserver = nowhere:port\njid = a@example.com\n", ":3: 'server'", "not HOST:PORT"),
        ("[acount]\njid = a@example.com\n", ":1:", "unknown section"),
        ("jid = a@example.com\n", ":1: 'jid'", "outside a section"),
        ("[account]\njid a@example.com\n", ":2:", "key = value"),
        ("[account]\njid = a@example.com\njid = b@example.com\n", ":3: 'jid'", "already set on line 2"),
        ("[account]\njid = not a jid\n", ":2: 'jid'", "not user@domain"),
        ("[account]\njid = a@example.com\npassword-file = missing.password\n", ":3: 'password-file'", "cannot read"),
        (
            "[account]\njid = a@example.com\npassword = x\n[media]\nice-server = turn:exa_mple.com\n", ":5: 'ice-server'",
            "neither an IPv4 address nor a host name"
        ),
        ("[account]\njid = a@example.com\npassword = x\n[media]\nrelay-only = maybe\n", ":5: 'relay-only'", "not true or false"),
        ("[account]\njid = a@example.com\npassword = x\n[media]\nice-server = turn:192.0.2.1\n", ":5", "needs --ice-username"),
    ]

    @Test(arguments: badFiles)
    func badConfigFileNamesTheLineAndKeyAndExits64(_ bad: (String, String, String)) async throws {
        let dir = try TempDir()
        let config = try dir.write("bad.conf", bad.0)
        let (status, p) = try await run(
            ["call", "bob@example.com", "--config", config, "--dry-run"],
            environment: ["JINGLE_AGENT_PASSWORD": "x"])
        #expect(status == 64, "\(p.transcript)")
        #expect(p.stderr.contains("bad.conf" + bad.1), "\(p.transcript)")
        #expect(p.stderr.contains(bad.2), "\(p.transcript)")
        #expect(p.stderr.split(separator: "\n").count == 1, "\(p.transcript)")
    }

    static let badCommandLines: [([String], String)] = [
        (["call", "bob@example.com", "--ice-server", "turn://192.0.2.1"], "no '//'"),
        (["call", "bob@example.com", "--ice-server", "turn:192.0.2.1:99999"], "not a port"),
        (["call", "bob@example.com", "--ice-server", "turn:192.0.2.1?transport=sctp"], "udp or tcp"),
        (["call", "bob@example.com", "--ice-server", "turns:192.0.2.1?transport=udp"], "TLS"),
        (["call", "bob@example.com", "--ice-server", "stun:2001:db8::1"], "brackets"),
        (["call", "bob@example.com", "--ice-server", "http:192.0.2.1"], "unknown scheme"),
        (["call", "bob@example.com", "--no-jmi"], "full JID"),
        (["call", "bob@example.com", "--tone", "440", "--play", "x.wav"], "cannot be used together"),
        (["call", "bob@example.com", "--dtmf", "12x"], "digits"),
        (["call", "bob@example.com", "--report", "xml"], "report"),
        (["answer", "--auto", "--busy"], "one of --auto"),
        (["answer", "--max-calls", "0"], "--max-calls"),
        (["call", "bob@example.com"], "no account"),
        (["call", "bob@example.com", "--jid", "alice@example.com"], "no password"),
    ]

    @Test(arguments: badCommandLines)
    func usageErrorsExit64(_ bad: ([String], String)) async throws {
        let (status, p) = try await run(bad.0 + ["--dry-run"])
        #expect(status == 64, "\(p.transcript)")
        #expect(p.stderr.contains(bad.1), "\(p.transcript)")
    }

    @Test func helpListsTheExitCodes() async throws {
        let (status, p) = try await run(["call", "--help"])
        #expect(status == 0)
        for line in [
            "0  the call happened", "2  the callee declined", "3  the callee was busy", "4  no answer",
            "5  withdrawn", "6  signalling failed", "7  connection failed", "8  media failed", "64  bad command line",
        ] {
            #expect(p.stdout.contains(line), "\(line)\n\(p.transcript)")
        }
    }

    /// Files are checked before the call, and under `--dry-run` too: a missing `--play` file,
    /// a `--record` folder that does not exist or cannot be written, an existing `--record`
    /// file (never overwritten), a missing `--ca-file`.
    @Test func filesAreCheckedBeforeTheCallEvenInADryRun() async throws {
        let dir = try TempDir()
        _ = try dir.write("alice.password", "secret\n")
        let existing = try dir.write("exists.wav", "x")
        let notAudio = try dir.write("notes.mp3", "text, not audio")
        let readOnly = "\(dir.path)/read-only"
        try FileManager.default.createDirectory(
            atPath: readOnly, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o500])
        let base = ["call", "bob@example.com", "--jid", "alice@example.com", "--password-file", "\(dir.path)/alice.password", "--dry-run"]
        let cases: [([String], String)] =
            [
                (["--record", "/nonexistent/x.wav"], "'/nonexistent' does not exist"),
                (["--record", existing], "the file exists"),
                (["--play", "\(dir.path)/missing.wav"], "missing.wav"),
                (["--play", notAudio], "unknown audio format"),
                (["--ca-file", "\(dir.path)/missing.pem"], "missing.pem"),
            ] + (getuid() == 0 ? [] : [(["--record", "\(readOnly)/x.wav"], "is not writable")])
        for (extra, message) in cases {
            let (status, p) = try await run(base + extra)
            #expect(status == 64, "\(extra): \(p.transcript)")
            #expect(p.stderr.contains(message), "\(extra): \(p.transcript)")
        }
        let (ok, p) = try await run(base + ["--record", "\(dir.path)/{sid}.wav"])
        #expect(ok == 0, "\(p.transcript)")
    }

    /// `answer` without `--max-concurrent` takes at most 16 calls per core, not any number.
    @Test func answerHasABoundedDefaultForConcurrentCalls() async throws {
        let dir = try TempDir()
        _ = try dir.write("alice.password", "secret\n")
        let (status, p) = try await run([
            "answer", "--auto", "--jid", "alice@example.com",
            "--password-file", "\(dir.path)/alice.password", "--dry-run",
        ])
        #expect(status == 0, "\(p.transcript)")
        let limit = try settings(p)["maxConcurrent"] as? Int
        #expect(limit == 16 * ProcessInfo.processInfo.activeProcessorCount, "\(p.stdout)")
        let (_, q) = try await run([
            "answer", "--auto", "--max-concurrent", "3", "--jid", "alice@example.com",
            "--password-file", "\(dir.path)/alice.password", "--dry-run",
        ])
        #expect(try settings(q)["maxConcurrent"] as? Int == 3)
    }
}
