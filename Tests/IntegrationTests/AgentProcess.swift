import Foundation
import Testing
#if canImport(Glibc)
    import Glibc
#endif

/// A `jingle-agent` process, the built executable, with its stdout and stderr in files so a test
/// can wait for a line (bounded) and read the report at the end.
final class AgentProcess: @unchecked Sendable {
    /// The built executable next to the test bundle (so any `--scratch-path` works).
    static var executable: String {
        let bundle = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
        let nextToTests = bundle.appendingPathComponent("jingle-agent").path
        if FileManager.default.isExecutableFile(atPath: nextToTests) { return nextToTests }
        return "\(Repository.root)/.build/debug/jingle-agent"
    }

    let name: String
    let arguments: [String]
    private let process = Process()
    private let stdoutPath: String
    private let stderrPath: String
    private let input: Pipe?

    /// Starts `jingle-agent arguments...` (or `executable`); `environment` entries are added to
    /// ours. With `interactive`, stdin is a pipe that `type(_:)` writes to.
    init(
        _ name: String, _ arguments: [String], environment: [String: String] = [:], executable: String? = nil,
        interactive: Bool = false
    ) throws {
        self.name = name
        self.arguments = arguments
        let base = NSTemporaryDirectory() + "jingle-agent-\(name)-\(UUID().uuidString)"
        stdoutPath = base + ".out"
        stderrPath = base + ".err"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable ?? Self.executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["JINGLE_AGENT_PASSWORD"] = nil
        env["JINGLE_PASSWORD"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        input = interactive ? Pipe() : nil
        process.standardInput = input ?? FileHandle.nullDevice
        try process.run()
    }

    /// Writes `text` to the process's stdin (interactive processes only).
    func type(_ text: String) throws {
        guard let input else { throw AgentTestError("\(name) was not started interactive") }
        try input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
    }

    deinit {
        try? input?.fileHandleForWriting.close()
        kill()
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Everything it printed, for failure messages.
    var transcript: String { "[\(name)] \(arguments.joined(separator: " "))\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }

    /// Waits (bounded) until stderr (or stdout) contains `text`; fails if the process exits first.
    func waitFor(_ text: String, onStdout: Bool = false, limit: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + limit
        var output: String { onStdout ? stdout : stderr }
        while ContinuousClock.now < deadline {
            if output.contains(text) { return }
            if !process.isRunning {
                if output.contains(text) { return }
                throw AgentTestError("\(name) exited (\(process.terminationStatus)) before printing '\(text)'\n\(transcript)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw AgentTestError("timed out waiting for '\(text)' from \(name)\n\(transcript)")
    }

    /// Waits (bounded) for the process to exit and returns its status; kills it when it does not.
    @discardableResult
    func exitStatus(limit: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + limit
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                kill()
                throw AgentTestError("\(name) did not exit within \(limit)\n\(transcript)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    func send(_ signal: Int32) { Glibc.kill(process.processIdentifier, signal) }

    /// Ends it if it still runs. SIGKILL: processes started from `swift test` may have SIGTERM blocked.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    /// The JSON reports it printed (one per line on stdout).
    func reports() throws -> [[String: Any]] {
        try stdout.split(separator: "\n").map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw AgentTestError("not a JSON object: \(line)")
            }
            return object
        }
    }

    /// The only report, or a failure naming what was printed.
    func report() throws -> [String: Any] {
        let all = try reports()
        guard all.count == 1 else { throw AgentTestError("expected one report from \(name), got \(all.count)\n\(transcript)") }
        return all[0]
    }
}

struct AgentTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Accounts and common arguments of agent tests against the shared Prosody.
struct AgentAccounts {
    let prosody: ProsodyFixture

    static func make() async throws -> AgentAccounts { AgentAccounts(prosody: try await ProsodyFixture.shared()) }

    /// `--jid name@localhost/resource --password-file ... --server ... --ca-file ...` for a fresh account of this suite.
    func arguments(_ name: String, resource: String = "agent") async throws -> [String] {
        let jid = try await prosody.account(name).jid
        return [
            "--jid", "\(jid)/\(resource)", "--password-file", prosody.passwordFile(name),
            "--server", "127.0.0.1:\(prosody.port)", "--ca-file", prosody.caFile,
        ]
    }

    func bare(_ name: String) -> String { "\(name)@\(prosody.domain)" }
}
