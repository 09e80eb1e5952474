import Foundation

/// Runs a command to completion (on a thread of its own, as `Repository.run` does) and returns
/// its status and output.
func harnessRunProcess(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
    try await Repository.run(executable, arguments)
}
