import Foundation
import XMPPCore
import NIOCore
import NIOPosix

/// A private Prosody on loopback, started once per test process through `Tools/prosody-test`
/// (which writes its config, a CA, certificates and accounts) and stopped when the process exits.
/// Tests that need it `try await ProsodyFixture.shared()`; if Prosody cannot start, the test fails
/// with the script's output: integration tests never skip silently.
struct ProsodyFixture: Sendable {
    let directory: String
    let port: Int
    let caFile: String
    let turnSecret: String
    let turnHost: String
    let turnPort: Int
    let domain = "localhost"

    func password(_ user: String) throws -> String {
        try String(contentsOfFile: "\(directory)/\(user).password", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func passwordFile(_ user: String) -> String { "\(directory)/\(user).password" }

    static func shared() async throws -> ProsodyFixture {
        try await ProsodyStarter.instance.fixture()
    }

    /// An account of this suite's own on `localhost` (registered on first use, password in
    /// `passwordFile(name)`), so suites running in parallel never receive each other's JMI
    /// proposals, which go to every resource of a bare JID.
    func account(_ name: String) async throws -> (jid: JID, password: String) {
        try await ProsodyStarter.instance.register(name, in: self)
        return (JID(localpart: name, domainpart: domain), try password(name))
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
}

/// Paths of the repository, found from this file's location.
enum Repository {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    static var runDirectory: String {
        ProcessInfo.processInfo.environment["JINGLEKIT_RUN_DIR"] ?? "\(root)/.run"
    }

    /// Runs a command to completion on a thread of its own and returns its exit status and
    /// combined output. Waiting must not hold one of the few cooperative threads (two on a
    /// two-core machine): in-process XMPP clients, call managers and harness runners of suites
    /// running in parallel need them, and a harness starved for a second judges timings wrongly.
    /// `folder`: its working directory (else ours); `environment`: its whole environment (else ours).
    static func run(
        _ executable: String, _ arguments: [String], in folder: String? = nil, environment: [String: String]? = nil
    ) async throws -> (status: Int32, output: String) {
        let result: Result<(status: Int32, output: String), Error> = await withCheckedContinuation { c in
            Thread {
                c.resume(returning: Result { try runBlocking(executable, arguments, in: folder, environment: environment) })
            }.start()
        }
        return try result.get()
    }

    /// `run` on the calling thread, for where no task is waiting (the exit handler).
    /// Output goes through a file, not a pipe: a daemon the command leaves running may inherit
    /// the pipe and would keep it open forever.
    static func runBlocking(
        _ executable: String, _ arguments: [String], in folder: String? = nil, environment: [String: String]? = nil
    ) throws -> (status: Int32, output: String) {
        let outputPath = NSTemporaryDirectory() + "jinglekit-run-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
        if let environment { process.environment = environment }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return (process.terminationStatus, output)
    }

    /// A port for the relay fixture (UDP and TCP), free on 127.0.0.1 a moment ago. It comes from
    /// 29000-29999, below the kernel's ephemeral range (32768 and up): a port the kernel handed
    /// out could be taken by some test's ephemeral UDP socket (ICE gathering, TURN clients) before
    /// the relay fixture starts, which can be long after Prosody.
    static func freeRelayPort() throws -> Int {
        func bindable(_ type: Int32, _ port: UInt16) -> Bool {
            let fd = socket(AF_INET, type, 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
        }
        for _ in 0..<200 {
            let candidate = UInt16.random(in: 29_000...29_999)
            if bindable(Int32(SOCK_DGRAM.rawValue), candidate) && bindable(Int32(SOCK_STREAM.rawValue), candidate) {
                return Int(candidate)
            }
        }
        throw FixtureError(description: "no free relay port in 29000-29999")
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and released).
    static func freeTCPPort() throws -> Int {
        let group = MultiThreadedEventLoopGroup.singleton
        let channel = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress?.port ?? 0
        try channel.close().wait()
        guard port > 0 else { throw FixtureError(description: "could not find a free port") }
        return port
    }
}

nonisolated(unsafe) private var prosodyDirectoryToStop: String?

private func stopProsodyAtExit() {
    guard let dir = prosodyDirectoryToStop else { return }
    _ = try? Repository.runBlocking("/bin/bash", ["\(Repository.root)/Tools/prosody-test", "stop", dir])
}

private actor ProsodyStarter {
    static let instance = ProsodyStarter()
    /// The one start, shared by every suite that asks while it runs (the actor is re-entered
    /// while the start script runs on its own thread).
    private var starting: Task<Result<ProsodyFixture, FixtureError>, Never>?

    /// Registrations done or under way, by account name (alice, bob and carol come with the start).
    private var registrations: [String: Task<Result<Void, FixtureError>, Never>] = [:]

    func register(_ name: String, in fixture: ProsodyFixture) async throws {
        if ["alice", "bob", "carol"].contains(name) { return }
        let registration =
            registrations[name]
            ?? Task {
                let password = "\(name)-pass"
                do {
                    let (status, output) = try await Repository.run(
                        "/usr/bin/prosodyctl",
                        [
                            "--config", "\(fixture.directory)/prosody.cfg.lua", "register", name, fixture.domain, password,
                        ])
                    guard status == 0 else { return .failure(FixtureError(description: "prosodyctl register \(name) failed: \(output)")) }
                    try password.write(toFile: fixture.passwordFile(name), atomically: true, encoding: .utf8)
                    return .success(())
                } catch {
                    return .failure(FixtureError(description: "prosodyctl register \(name): \(error)"))
                }
            }
        registrations[name] = registration
        try await registration.value.get()
    }

    func fixture() async throws -> ProsodyFixture {
        let start =
            starting
            ?? Task {
                do { return .success(try await Self.start()) } catch let e as FixtureError { return .failure(e) } catch {
                    return .failure(FixtureError(description: "\(error)"))
                }
            }
        starting = start
        return try await start.value.get()
    }

    private static func start() async throws -> ProsodyFixture {
        let port = try Repository.freeTCPPort()
        let turnPort = try Repository.freeRelayPort()
        let dir = "\(Repository.runDirectory)/prosody-\(ProcessInfo.processInfo.processIdentifier)"
        let secret = "integration-secret-\(port)"
        let (status, output) = try await Repository.run(
            "/bin/bash",
            [
                "\(Repository.root)/Tools/prosody-test", "start", dir,
                "--port", "\(port)", "--turn-host", "127.0.0.1", "--turn-port", "\(turnPort)", "--turn-secret", secret,
            ])
        guard status == 0 else {
            throw FixtureError(description: "Tools/prosody-test failed (status \(status)):\n\(output)")
        }
        prosodyDirectoryToStop = dir
        atexit { stopProsodyAtExit() }
        return ProsodyFixture(
            directory: dir, port: port, caFile: "\(dir)/ca.pem", turnSecret: secret,
            turnHost: "127.0.0.1", turnPort: turnPort)
    }
}
