import Foundation
import Testing

/// `jingle-harness run --role both --media` through the shared Prosody: every call of the
/// built-in caller/callee and JMI caller/callee pairs runs ICE + DTLS-SRTP + Opus on loopback
/// through JingleKit and reaches first media; the JSON report carries the media steps.
@Suite(.serialized) struct HarnessMediaProsodyTests {
    struct Report: Decodable {
        struct Step: Decodable { var name: String; var count: Int }
        struct Failure: Decodable { var cause: String; var count: Int }
        var passed: Bool
        var succeeded: Int
        var failed: Int
        var steps: [Step]
        var failures: [Failure]
    }

    func run(_ scenario: String, accounts names: [String], calls: Int) async throws -> (status: Int32, output: String, report: Report) {
        let prosody = try await ProsodyFixture.shared()
        var rows = ["jid,password"]
        for name in names {
            let (jid, password) = try await prosody.account(name)
            rows.append("\(jid),\(password)")
        }
        let base = NSTemporaryDirectory() + "jingle-harness-media-\(UUID().uuidString)"
        try (rows.joined(separator: "\n") + "\n").write(toFile: base + "-accounts.csv", atomically: true, encoding: .utf8)
        let (status, output) = try await harnessRunProcess(HarnessProsodyCLITests.harness, [
            "run", scenario, "--role", "both", "--media", "--media-timeout", "8", "--accounts", base + "-accounts.csv",
            "--calls", String(calls), "--rate", "2", "--drain", "30", "--quiet", "--json", base + ".json",
            "--server", "127.0.0.1:\(prosody.port)", "--ca-file", prosody.caFile,
        ])
        let data = try Data(contentsOf: URL(fileURLWithPath: base + ".json"))
        return (status, output, try JSONDecoder().decode(Report.self, from: data))
    }

    /// Every leg (caller and callee) of every call measured each media step once.
    func expectMediaSteps(_ report: Report, legs: Int, _ output: String) {
        let counts = Dictionary(uniqueKeysWithValues: report.steps.map { ($0.name, $0.count) })
        for step in ["accept->ice", "ice->dtls", "dtls->first-media"] {
            #expect(counts[step] == legs, "\(step): \(counts[step] ?? 0) of \(legs)\n\(output)")
        }
    }

    @Test func builtInCallerAndCalleeReachFirstMediaOnEveryCall() async throws {
        let (status, output, report) = try await run("\(HarnessProsodyCLITests.samples)/caller.xml",
                                                     accounts: ["hmedia-a", "hmedia-b"], calls: 3)
        #expect(status == 0, "output:\n\(output)")
        #expect(report.passed && report.failed == 0 && report.succeeded == 6, "\(report.failures)\n\(output)")
        expectMediaSteps(report, legs: 6, output)
    }

    @Test func builtInJMICallerAndCalleeReachFirstMediaOnEveryCall() async throws {
        let (status, output, report) = try await run("\(HarnessProsodyCLITests.samples)/jmi-caller.xml",
                                                     accounts: ["hmedia-c", "hmedia-d"], calls: 2)
        #expect(status == 0, "output:\n\(output)")
        #expect(report.passed && report.failed == 0 && report.succeeded == 4, "\(report.failures)\n\(output)")
        expectMediaSteps(report, legs: 4, output)
    }
}
