import Foundation

/// Runs a command to completion on a thread of its own and returns its status and output.
/// Waiting for a process must not hold one of the few cooperative threads (two on a two-core
/// machine) that in-process XMPP clients, call managers and harness runners of parallel suites need.
func harnessRunProcess(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    let result: Result<(status: Int32, output: String), Error> = await withCheckedContinuation { c in
        Thread { c.resume(returning: Result { try Repository.run(executable, arguments) }) }.start()
    }
    return try result.get()
}
