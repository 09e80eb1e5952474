import Foundation
import Testing
import Harness

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
        let (status, output) = try await harnessRunProcess(
            HarnessProsodyCLITests.harness,
            [
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

    /// The sample `scenario` with media between `accounts` for `calls` calls: the run exits 0,
    /// both legs of every call pass, and each reaches first media.
    func expectEveryCallReachesFirstMedia(_ scenario: String, accounts: [String], calls: Int) async throws {
        let (status, output, report) = try await run(
            "\(HarnessProsodyCLITests.samples)/\(scenario).xml", accounts: accounts, calls: calls)
        #expect(status == 0, "output:\n\(output)")
        #expect(report.passed && report.failed == 0 && report.succeeded == 2 * calls, "\(report.failures)\n\(output)")
        expectMediaSteps(report, legs: 2 * calls, output)
    }

    @Test func builtInCallerAndCalleeReachFirstMediaOnEveryCall() async throws {
        try await expectEveryCallReachesFirstMedia("caller", accounts: ["hmedia-a", "hmedia-b"], calls: 3)
    }

    @Test func builtInJMICallerAndCalleeReachFirstMediaOnEveryCall() async throws {
        try await expectEveryCallReachesFirstMedia("jmi-caller", accounts: ["hmedia-c", "hmedia-d"], calls: 2)
    }
}

/// In-process media runs whose peer breaks the media plane fail with the media cause.
@Suite(.serialized) struct HarnessMediaFailureProsodyTests {
    /// A caller that needs no fingerprint capture, so the signalling passes without one.
    static let plainCaller = """
        <scenario name="plain-caller" role="initiator">
          <send><iq type="set" to="[peer]" id="[id]">
            <jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" sid="[sid]" initiator="[local_jid]">
              <content creator="initiator" name="audio" senders="both">
                <description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"><payload-type id="111" name="opus" clockrate="48000" channels="2"/></description>
                <transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="[ufrag]" pwd="[pwd]">
                  <fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="actpass">[fingerprint]</fingerprint>
                </transport>
              </content>
            </jingle></iq></send>
          <unordered>
            <expect type="result"/>
            <expect type="set" action="session-accept"/>
          </unordered>
          <answer-iq/>
        </scenario>
        """

    @Test func anAnswerWithoutFingerprintFailsTheCallerWithDTLSFailed() async throws {
        let report = try await ProsodyFixture.shared().runHarness(
            ["hmedia-e", "hmedia-f"], initiator: try ScenarioParser.parse(Self.plainCaller),
            responder: try ScenarioParser.parse(ProsodyFixture.acceptWithoutFingerprint),
            options: LoadOptions(rate: 5, maxConcurrent: 5, totalCalls: 1, drainSeconds: 15),
            media: .ice(localAddresses: ["127.0.0.1"], timeout: .seconds(2))
        ).report
        let causes = report.records.filter { $0.role == .initiator }.compactMap {
            if case .failed(let cause) = $0.verdict { cause.category } else { nil }
        }
        #expect(causes == ["dtls-failed"], "\(report.failuresByCause)")
    }
}
