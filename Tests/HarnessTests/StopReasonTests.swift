import Foundation
import Testing
import XMPPClient
import XMPPCore
@testable import Harness

/// What stopped a run is said in the live line, the summary and every report. The runs here use
/// a client that never connects: each call fails at its first send (`transport`), at once, so
/// which limit ends placing is decided by the options alone.
@Suite struct StopReasonTests {
    static func caller() throws -> HarnessEndpoint {
        let jid = try #require(JID("alice@example.invalid/harness"))
        let client = XMPPClient(configuration: XMPPClientConfiguration(jid: jid, password: "unused", pingInterval: nil))
        return HarnessEndpoint(
            client: client, localJID: jid, scenario: try ScenarioLibrary.load("caller", searchPaths: []),
            peer: JID("bob@example.invalid/phone"))
    }

    @Test func aRunStoppedByItsCallLimitSaysSoInItsReports() async throws {
        let runner = LoadRunner(
            endpoints: [try Self.caller()],
            options: LoadOptions(rate: 1000, maxConcurrent: 1, totalCalls: 3, drainSeconds: 5))
        let report = await runner.run(scenarioName: "caller")
        #expect(report.stopReason == .calls(3))
        #expect(report.records.count == 3)

        let json = try #require(try JSONSerialization.jsonObject(with: Data(ReportWriters.json(report).utf8)) as? [String: Any])
        #expect(json["stopped_by"] as? String == "calls")
        #expect(json["stopped"] as? String == "--calls 3 reached")
        #expect(ReportWriters.text(report).contains("\nstopped: --calls 3 reached\n"))
        #expect(ReportWriters.junit(report).contains("<property name='stopped' value='--calls 3 reached'/>"))
        #expect(HTMLReport.render(report).contains("<p>stopped: --calls 3 reached</p>"))
        #expect(await runner.counters.stopped == .calls(3))
    }

    @Test func aRunStoppedByMaxFailuresSaysSo() async throws {
        // One call at a time: each one has failed before the next is placed.
        let runner = LoadRunner(
            endpoints: [try Self.caller()],
            options: LoadOptions(rate: 1000, maxConcurrent: 1, totalCalls: 50, drainSeconds: 5, maxFailures: 2))
        let report = await runner.run(scenarioName: "caller")
        #expect(report.stopReason == .maxFailures(2))
        #expect(report.records.count == 2 && report.failed == 2)
        #expect(ReportWriters.json(report).contains(#""stopped" : "--max-failures 2 reached""#))
    }

    @Test func anInterruptionIsReportedAsSuch() async throws {
        let runner = LoadRunner(endpoints: [try Self.caller()], options: LoadOptions(rate: 1000, totalCalls: 5, drainSeconds: 5))
        await runner.stop(.interrupted("SIGINT"))
        let report = await runner.run(scenarioName: "caller")
        #expect(report.stopReason == .interrupted("SIGINT"))
        #expect(report.started == 0)
        #expect(ReportWriters.json(report).contains(#""stopped_by" : "interrupted""#))
    }

    @Test func theLiveLineSaysWhatStoppedPlacing() {
        let line = ReportWriters.liveLine(
            elapsed: 10, started: 200, succeeded: 190, failed: 2, inFlight: 8, rate: 0,
            target: 20, stopped: .duration(10))
        #expect(line.hasSuffix("in-flight 8 rate 0.0/s stopped: --duration 10 s elapsed"))
        #expect(!ReportWriters.liveLine(elapsed: 1, started: 1, succeeded: 0, failed: 0, inFlight: 1, rate: 1).contains("stopped"))
        #expect(StopReason.duration(2.5).description == "--duration 2.5 s elapsed")
        #expect(StopReason.maxFailures(5).description == "--max-failures 5 reached")
        #expect(StopReason.interrupted("q key").description == "interrupted (q key)")
    }
}
