import Foundation
import Testing

/// The built `jingle-harness` copied alone into an empty folder, run from there (no Samples/, no
/// source tree in reach, no $JINGLE_HARNESS_SCENARIOS): its built-in scenarios are compiled in,
/// so `run caller` places a real call through the shared Prosody, and the JSON report says the
/// call limit stopped the run.
@Suite struct HarnessCopiedBinaryTests {
    /// Runs `binary` in `folder` without $JINGLE_HARNESS_SCENARIOS (`Repository.run`: on a
    /// thread of its own, not a cooperative one).
    static func run(_ binary: String, _ arguments: [String], in folder: String) async throws -> (status: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["JINGLE_HARNESS_SCENARIOS"] = nil
        return try await Repository.run(binary, arguments, in: folder, environment: environment)
    }

    @Test func aCopiedBinaryRunsABuiltInScenarioThroughProsody() async throws {
        let folder = NSTemporaryDirectory() + "jingle-harness-copied-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.copyItem(atPath: HarnessProsodyCLITests.harness, toPath: folder + "/jingle-harness")
        let cli = HarnessProsodyCLITests()
        let csv = try await cli.accounts(["hcopy-a", "hcopy-b"])
        let (status, output) = try await Self.run(
            folder + "/jingle-harness",
            [
                "run", "caller", "--accounts", csv, "--calls", "2", "--rate", "20", "--quiet", "--json", "summary.json",
            ] + (try await cli.server()), in: folder)
        #expect(status == 0, "output:\n\(output)")
        #expect(output.contains("caller: 4 call legs started, 4 finished, 4 passed, 0 failed"), "output:\n\(output)")
        #expect(output.contains("stopped: --calls 2 reached"), "output:\n\(output)")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/summary.json")))
                as? [String: Any])
        #expect(json["stopped_by"] as? String == "calls")
        #expect(json["stopped"] as? String == "--calls 2 reached")
    }
}
