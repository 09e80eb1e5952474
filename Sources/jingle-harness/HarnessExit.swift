import ArgumentParser
import Foundation

/// The exit statuses of `jingle-harness` (documented in README.md), after sysexits(3) where
/// one fits, so scripts can tell a failing target from a broken invocation.
enum HarnessExit {
    /// Every call met its scenario / every conformance rule passed.
    static let passed: Int32 = 0
    /// At least one call failed its scenario, or a conformance rule failed.
    static let failed: Int32 = 1
    /// Conformance: no rule failed, but none passed either (every rule was inconclusive or
    /// skipped), so nothing about the target was verified.
    static let unverified: Int32 = 2
    /// Bad command-line arguments (ArgumentParser's validation exit, EX_USAGE).
    static let usage: Int32 = 64
    /// A scenario, accounts or input file is malformed (EX_DATAERR); the message names the file,
    /// the line and the problem.
    static let badInput: Int32 = 65
    /// The XMPP server could not be reached or refused the login (EX_UNAVAILABLE).
    static let unavailable: Int32 = 69
    /// A report file could not be written (EX_IOERR).
    static let cannotWrite: Int32 = 74

    /// Prints `jingle-harness: message` to standard error and returns `code`.
    static func fail(_ code: Int32, _ message: String) -> Int32 {
        FileHandle.standardError.write(Data("jingle-harness: \(message)\n".utf8))
        return code
    }

    /// Runs an async body to completion from a synchronous `run()` and exits with its status.
    static func runBlocking(_ body: @escaping @Sendable () async -> Int32) throws {
        let box = StatusBox()
        let semaphore = DispatchSemaphore(value: 0)
        Task {
            box.set(await body())
            semaphore.signal()
        }
        semaphore.wait()
        let code = box.get()
        if code != 0 { throw ExitCode(code) }
    }
}

private final class StatusBox: @unchecked Sendable {
    private let lock = NSLock()
    private var code: Int32 = 1
    func set(_ value: Int32) { lock.lock(); code = value; lock.unlock() }
    func get() -> Int32 { lock.lock(); defer { lock.unlock() }; return code }
}
