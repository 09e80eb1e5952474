import Foundation
import Harness
import Testing
import XMPPCore

/// Traces of failed calls (`--trace-dir`) and statistics per interval (`--stats-interval`)
/// through the shared Prosody, in process and from the built executable. The failure is
/// injected: the caller's second call (call number 3: with one call at a time in one process,
/// the callee's legs take the even numbers) offers a content the callee refuses with
/// XEP-0166 out-of-order.
@Suite(.serialized) struct HarnessTraceStatsRealTimeTests {
    static let injectingCaller = """
        <scenario name="caller-inject" role="initiator" peer="callee-inject" timeout="5000">
          <set var="content" value="audio"/>
          <goto label="inject" if="call_number" equals="3"/>
          <goto label="go"/>
          <label name="inject"/>
          <set var="content" value="refused"/>
          <label name="go"/>
          <send mark="initiate">
            <iq type="set" to="[peer]" id="[id]">
              <jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" sid="[sid]" initiator="[local_jid]">
                <content creator="initiator" name="[content]" senders="both">
                  <description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"><payload-type id="111" name="opus" clockrate="48000" channels="2"/></description>
                  <transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="[ufrag]" pwd="[pwd]">
                    <fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="actpass">[fingerprint]</fingerprint>
                  </transport>
                </content>
              </jingle>
            </iq>
          </send>
          <unordered>
            <expect type="result" measure="initiate->result"/>
            <expect type="set" action="session-accept" measure="initiate->accept"/>
          </unordered>
          <answer-iq/>
          <send mark="terminate">
            <iq type="set" to="[peer]" id="[id]">
              <jingle xmlns="urn:xmpp:jingle:1" action="session-terminate" sid="[sid]"><reason><success/></reason></jingle>
            </iq>
          </send>
          <expect type="result" measure="terminate->result"/>
        </scenario>
        """

    static let refusingCallee = """
        <scenario name="callee-inject" role="responder" peer="caller-inject" timeout="5000">
          <expect type="set" action="session-initiate" capture="content=content@name"/>
          <goto label="refuse" if="content" equals="refused"/>
          <answer-iq/>
          <send mark="accept">
            <iq type="set" to="[peer]" id="[id]">
              <jingle xmlns="urn:xmpp:jingle:1" action="session-accept" sid="[sid]" responder="[local_jid]">
                <content creator="initiator" name="[content]" senders="both">
                  <description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"><payload-type id="111" name="opus" clockrate="48000" channels="2"/></description>
                  <transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="[ufrag]" pwd="[pwd]">
                    <fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="active">[fingerprint]</fingerprint>
                  </transport>
                </content>
              </jingle>
            </iq>
          </send>
          <unordered>
            <expect type="result" measure="accept->result"/>
            <expect type="set" action="session-terminate" reason="success"/>
          </unordered>
          <answer-iq/>
          <end/>
          <label name="refuse"/>
          <answer-iq type="error" condition="unexpected-request" jingle-condition="out-of-order"/>
        </scenario>
        """

    func endpoints(_ names: (String, String)) async throws -> [HarnessEndpoint] {
        try await ProsodyFixture.shared().harnessPairs(
            [names.0, names.1], initiator: try ScenarioParser.parse(Self.injectingCaller),
            responder: try ScenarioParser.parse(Self.refusingCallee))
    }

    static func temporaryFolder(_ name: String) throws -> String {
        let folder = NSTemporaryDirectory() + "jingle-harness-\(name)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func theInjectedFailureIsTracedAndThePassedCallsAreNot() async throws {
        let folder = try Self.temporaryFolder("traces")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let endpoints = try await endpoints(("htrace-a", "htrace-b"))
        let runner = LoadRunner(
            endpoints: endpoints,
            options: LoadOptions(
                rate: 20, maxConcurrent: 1, totalCalls: 3,
                drainSeconds: 10))
        let writer = TraceWriter(directory: folder)
        try writer.createDirectory()
        await runner.traceCalls(with: writer)
        let report = await runner.run(scenarioName: "caller-inject")
        await HarnessSetup.disconnect(endpoints)

        let callers = report.records.filter { $0.role == .initiator }
        #expect(callers.map(\.callNumber) == [1, 3, 5])
        #expect(callers.map(\.verdict.passed) == [true, false, true])
        #expect(report.records.filter { !$0.verdict.passed }.count == 1)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
        #expect(files.count == 1 && files[0].hasPrefix("caller-inject-3-jh3-") && files[0].hasSuffix(".trace.txt"), "\(files)")
        let failed = try #require(callers.first { !$0.verdict.passed })
        #expect(failed.tracePath == folder + "/" + files[0])
        #expect(report.traces?.written == 1 && report.traces?.dropped == 0)

        let text = try String(contentsOfFile: folder + "/" + files[0], encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("verdict: FAILED jingle:out-of-order: IQ error unexpected-request (Jingle out-of-order)"), "\(text)")
        #expect(
            lines.contains { $0.hasPrefix("failed step: #") && $0.contains(" unordered expect iq result + iq set session-accept (line ") },
            "\(text)")
        #expect(lines.contains("deciding stanza: #2 (shown again at the end)"), "\(text)")
        #expect(lines.contains { $0.hasPrefix("#1 +0.0") && $0.hasSuffix(" sent") }, "\(text)")
        #expect(lines.contains { $0.hasPrefix("#2 +0.") && $0.hasSuffix(" received (deciding)") }, "\(text)")
        #expect(lines.contains { $0.hasPrefix("  <iq") && $0.contains("action='session-initiate'") && $0.contains("name='refused'") })
        let deciding = lines.filter {
            $0.hasPrefix("  <iq") && $0.contains("type='error'") && $0.contains("<out-of-order xmlns='urn:xmpp:jingle:errors:1'/>")
        }
        #expect(deciding.count == 2, "\(text)")

        let junit = ReportWriters.junit(report)
        #expect(junit.components(separatedBy: "<failure ").count == 2)
        #expect(junit.contains("trace: \(folder)/\(files[0])"))
        #expect(junit.contains("deciding stanza: &lt;iq"))
        #expect(junit.contains("&lt;out-of-order xmlns='urn:xmpp:jingle:errors:1'/&gt;"))
    }

    @Test func aRunOfThreeSecondsWritesARowPerSecondThatAddUp() async throws {
        let endpoints = try await endpoints(("hstats-a", "hstats-b"))
        let runner = LoadRunner(
            endpoints: endpoints,
            options: LoadOptions(
                rate: 5, maxConcurrent: 1, totalCalls: nil,
                durationSeconds: 3, drainSeconds: 10))
        await runner.recordIntervals(every: 1)
        let report = await runner.run(scenarioName: "caller-inject")
        await HarnessSetup.disconnect(endpoints)

        let rows = report.intervals
        let callers = report.records.filter { $0.role == .initiator }
        #expect(rows.count >= 3 && rows.count <= 5, "\(rows.map(\.time))")
        for (k, row) in rows.dropLast().enumerated() { #expect(row.time == Double(k + 1)) }
        // Counted as the live line counts: the caller legs.
        #expect(rows.map(\.started).reduce(0, +) == callers.count)
        #expect(rows.map(\.passed).reduce(0, +) == callers.filter(\.verdict.passed).count)
        #expect(rows.map(\.failed).reduce(0, +) == callers.filter { !$0.verdict.passed }.count)
        #expect(rows.map(\.failed).reduce(0, +) == 1)
        #expect(rows.last?.totalPassed == callers.count - 1 && rows.last?.inFlight == 0)
        #expect(callers.count >= 10)
        // Every setup time measured shows in some interval's count.
        let setup = rows.map { $0.steps.first { $0.name == "initiate->accept" }?.count ?? 0 }.reduce(0, +)
        #expect(setup == report.steps.first { $0.name == "initiate->accept" }?.summary.count)
        #expect(rows.dropLast().allSatisfy { $0.steps[1].count == 0 || $0.steps[1].p50 > 0 })
    }

    /// The executable with --trace-dir, --stats-interval, --junit and --html: the failed call's
    /// trace is written and pointed at, the stats CSV has its rows, the HTML links the trace and
    /// draws the time series.
    @Test func theExecutableWritesTracesStatsAndLinksThem() async throws {
        let folder = try Self.temporaryFolder("cli")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let prosody = try await ProsodyFixture.shared()
        var rows = ["jid,password"]
        for name in ["htcli-a", "htcli-b"] {
            let (jid, password) = try await prosody.account(name)
            rows.append("\(jid),\(password)")
        }
        try (rows.joined(separator: "\n") + "\n").write(toFile: folder + "/accounts.csv", atomically: true, encoding: .utf8)
        try Self.injectingCaller.write(toFile: folder + "/caller-inject.xml", atomically: true, encoding: .utf8)
        try Self.refusingCallee.write(toFile: folder + "/callee-inject.xml", atomically: true, encoding: .utf8)
        let (status, output) = try await harnessRunProcess(
            HarnessProsodyCLITests.harness,
            [
                "run", folder + "/caller-inject.xml", "--peer-scenario", folder + "/callee-inject.xml",
                "--accounts", folder + "/accounts.csv", "--server", "127.0.0.1:\(prosody.port)", "--ca-file", prosody.caFile,
                "--rate", "5", "--duration", "2", "--max-concurrent", "1", "--quiet",
                "--trace-dir", folder + "/out/traces", "--stats-interval", "1",
                "--junit", folder + "/out/junit.xml", "--html", folder + "/out/report.html",
            ])
        #expect(status == 1, "\(output)")
        let traces = try FileManager.default.contentsOfDirectory(atPath: folder + "/out/traces")
        #expect(traces.count == 1 && traces[0].hasPrefix("caller-inject-3-"), "\(traces)")
        #expect(output.contains("traces: 1 written to \(folder)/out/traces"), "\(output)")
        #expect(output.contains("stats: "), "\(output)")

        let csv = try String(contentsOfFile: folder + "/out/caller-inject-stats.csv", encoding: .utf8)
        let csvLines = csv.split(separator: "\n")
        #expect(csvLines.first?.hasPrefix("time_s,wall_clock,interval_s,started,passed,failed,") == true)
        #expect(csvLines.count >= 3, "\(csv)")
        let junit = try String(contentsOfFile: folder + "/out/junit.xml", encoding: .utf8)
        #expect(junit.contains("trace: \(folder)/out/traces/\(traces[0])"), "\(junit)")
        #expect(junit.contains("deciding stanza: &lt;iq"), "\(junit)")
        #expect(junit.contains("<property name='traces' value='traces: 1 written to \(folder)/out/traces'/>"), "\(junit)")
        let html = try String(contentsOfFile: folder + "/out/report.html", encoding: .utf8)
        #expect(html.contains("<a href=\"traces/\(traces[0])\">"), "\(html)")
        #expect(html.contains("<h2>Over time</h2>") && html.contains("<polyline"))
    }
}
