import Foundation
import Testing

/// The built `jingle-harness` executable, copied alone into an empty temporary folder (no
/// Samples/, no source tree next to it): its built-in scenarios travel with it, and
/// `scenarios validate` reports a malformed file with line and column.
@Suite(.serialized) struct HarnessBinaryTests {
    static let repository: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The executable built next to the test bundle (whatever the scratch path), else .build/debug.
    static var built: String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("jingle-harness")
            .path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return "\(repository)/.build/debug/jingle-harness"
    }

    /// A fresh folder holding only a copy of the binary (and the files a test writes there).
    static func copiedBinary() throws -> (folder: String, binary: String) {
        #expect(FileManager.default.isExecutableFile(atPath: built), "build first: swift build --build-tests (\(built))")
        let folder = NSTemporaryDirectory() + "jingle-harness-copy-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: built, toPath: folder + "/jingle-harness")
        return (folder, folder + "/jingle-harness")
    }

    struct Result { var status: Int32; var output: String; var errors: String }

    /// Runs `binary` in `folder` (off the cooperative threads) with no scenario directory in its
    /// environment, and returns its status, standard output and standard error.
    static func run(_ binary: String, _ arguments: [String], in folder: String) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: binary)
                    process.arguments = arguments
                    process.currentDirectoryURL = URL(fileURLWithPath: folder)
                    var environment = ProcessInfo.processInfo.environment
                    environment["JINGLE_HARNESS_SCENARIOS"] = nil
                    process.environment = environment
                    // Output to files, read after the exit: nothing to drain concurrently.
                    let base = NSTemporaryDirectory() + "jingle-harness-output-\(UUID().uuidString)"
                    _ = FileManager.default.createFile(atPath: base + ".out", contents: nil)
                    _ = FileManager.default.createFile(atPath: base + ".err", contents: nil)
                    defer { for suffix in [".out", ".err"] { try? FileManager.default.removeItem(atPath: base + suffix) } }
                    let out = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
                    let err = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
                    process.standardOutput = out
                    process.standardError = err
                    process.standardInput = FileHandle.nullDevice
                    try process.run()
                    process.waitUntilExit()
                    try out.close()
                    try err.close()
                    continuation.resume(
                        returning: Result(
                            status: process.terminationStatus,
                            output: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
                            errors: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    @Test func aCopiedBinaryListsShowsAndValidatesItsBuiltIns() async throws {
        let (folder, binary) = try Self.copiedBinary()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let list = try await Self.run(binary, ["scenarios", "list"], in: folder)
        #expect(list.status == 0, "\(list.errors)")
        for name in ["caller", "callee", "jmi-caller", "glare-both", "multi-device-callee"] {
            #expect(list.output.split(separator: "\n").contains { $0.hasPrefix(name + " ") }, "\(name) not listed:\n\(list.output)")
        }
        let show = try await Self.run(binary, ["scenarios", "show", "caller"], in: folder)
        #expect(show.status == 0)
        #expect(show.output == (try String(contentsOfFile: "\(Self.repository)/Samples/harness/caller.xml", encoding: .utf8)))
        let unknown = try await Self.run(binary, ["scenarios", "show", "no-such-scenario"], in: folder)
        #expect(unknown.status == 64 && unknown.errors.contains("no built-in scenario 'no-such-scenario'"))
        let builtIn = try await Self.run(binary, ["scenarios", "validate", "jmi-caller"], in: folder)
        #expect(builtIn.status == 0 && builtIn.output.contains("jmi-caller: ok"), "\(builtIn.errors)")
    }

    /// `run NAME` from the copy: the built-in is found and compiled (the run then stops at the
    /// accounts file, which does not exist, exit 65, not at the scenario).
    @Test func aCopiedBinaryRunsABuiltInScenario() async throws {
        let (folder, binary) = try Self.copiedBinary()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try await Self.run(binary, ["run", "caller", "--accounts", "missing.csv", "--quiet"], in: folder)
        #expect(run.status == 65, "\(run.errors)")
        #expect(!run.errors.contains("no scenario"), "\(run.errors)")
        #expect(run.errors.contains("missing.csv"), "\(run.errors)")
    }

    @Test func validateExitsZeroOnAGoodFileAnd65NamingLineAndColumnOnABadOne() async throws {
        let (folder, binary) = try Self.copiedBinary()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let show = try await Self.run(binary, ["scenarios", "show", "callee"], in: folder)
        try show.output.write(toFile: folder + "/good.xml", atomically: true, encoding: .utf8)
        try "<scenario name='x' role='initiator'>\n<send>\n  <pause ms='1'\n</scenario>\n"
            .write(toFile: folder + "/scenario.xml", atomically: true, encoding: .utf8)
        try "<scenario name='y' role='initiator'>\n  <pause ms='1'/>\n  <sendd/>\n</scenario>\n"
            .write(toFile: folder + "/unknown-step.xml", atomically: true, encoding: .utf8)

        let good = try await Self.run(binary, ["scenarios", "validate", "good.xml"], in: folder)
        #expect(good.status == 0, "\(good.errors)")
        #expect(good.output.hasPrefix("good.xml: ok (callee, responder, "), "\(good.output)")

        let bad = try await Self.run(binary, ["scenarios", "validate", "scenario.xml"], in: folder)
        #expect(bad.status == 65)
        #expect(bad.errors.hasPrefix("jingle-harness: scenario.xml:4:1: XML error: "), "\(bad.errors)")
        #expect(!bad.errors.contains("NSXMLParserErrorDomain"))

        let step = try await Self.run(binary, ["scenarios", "validate", "good.xml", "unknown-step.xml"], in: folder)
        #expect(step.status == 65)
        #expect(step.errors.contains("unknown-step.xml:3: <sendd>: unknown step"), "\(step.errors)")

        let runBad = try await Self.run(binary, ["run", "scenario.xml", "--accounts", "missing.csv"], in: folder)
        #expect(runBad.status == 65 && runBad.errors.contains("scenario.xml:4:1: XML error: "), "\(runBad.errors)")
    }

    /// Every subcommand's --help lists its exit codes.
    @Test(arguments: [
        [], ["decode"], ["run"], ["conformance"], ["scenarios"], ["scenarios", "list"],
        ["scenarios", "show"], ["scenarios", "validate"],
    ])
    func everyHelpListsTheExitCodes(_ command: [String]) async throws {
        let help = try await Self.run(Self.built, command + ["--help"], in: NSTemporaryDirectory())
        #expect(help.status == 0)
        #expect(
            help.output.lowercased().contains("exit codes: 0 "), "jingle-harness \(command.joined(separator: " ")) --help:\n\(help.output)")
    }
}
