import Foundation
import Testing
@testable import Harness

@Suite struct StatisticsTests {
    @Test func percentilesUseTheNearestRank() {
        let s = SampleSummary(samples: (1...100).map { Double($0) / 1000 }.shuffled())
        #expect(s.count == 100)
        #expect(s.p50 == 0.050 && s.p90 == 0.090 && s.p99 == 0.099 && s.max == 0.100)
        #expect(abs(s.mean - 0.0505) < 1e-12)
        let one = SampleSummary(samples: [0.3])
        #expect(one.p50 == 0.3 && one.p99 == 0.3)
        #expect(SampleSummary(samples: []).p90 == 0)
    }

    @Test func histogramBucketsByUpperBound() {
        let counts = Histogram.counts([0.0005, 0.001, 0.0011, 0.015, 0.2, 30])
        #expect(counts.count == Histogram.boundsMS.count + 1)
        #expect(counts[0] == 2) // <=1ms
        #expect(counts[1] == 1) // <=2ms
        #expect(counts[4] == 1) // <=20ms
        #expect(counts[7] == 1) // <=200ms
        #expect(counts.last == 1) // >10000ms
        #expect(Histogram.labels.first == "<=1ms" && Histogram.labels.last == ">10000ms")
    }

    static func report() -> RunReport {
        let m = { (n: String, s: Double) in CallInterpreter.Measurement(name: n, seconds: s) }
        return RunReport(
            scenario: "caller",
            records: [
                CallRecord(
                    callNumber: 2, role: .initiator, scenario: "caller", verdict: .failed(.timeout(expecting: "iq result", line: 9)),
                    startedAt: 0.1, durationSeconds: 1, measurements: [m("initiate->result", 0.004)]),
                CallRecord(
                    callNumber: 1, role: .initiator, scenario: "caller", verdict: .passed,
                    startedAt: 0, durationSeconds: 0.02, measurements: [m("initiate->result", 0.002), m("initiate->accept", 0.01)]),
            ], elapsedSeconds: 2, started: 2)
    }

    @Test func reportCountsAndFailureCauses() {
        let r = Self.report()
        #expect(r.succeeded == 1 && r.failed == 1 && !r.allPassed)
        #expect(r.failuresByCause.map(\.cause) == ["timeout"])
        #expect(r.steps.map(\.name) == ["initiate->result", "initiate->accept", "call"])
        #expect(r.steps[0].summary.count == 2 && r.steps[0].summary.max == 0.004)
        #expect(r.rate == 1)
    }

    @Test func csvHasAHeaderAndOneRowPerCall() {
        let lines = ReportWriters.csv(Self.report()).split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0] == "call,role,scenario,result,cause,detail,duration_ms,initiate->result_ms,initiate->accept_ms")
        #expect(lines[1] == "1,initiator,caller,passed,,,20.000,2.000,10.000")
        #expect(lines[2].hasPrefix("2,initiator,caller,failed,timeout,timeout waiting for iq result (line 9),1000.000,4.000,"))
    }

    @Test func jsonSummaryDecodes() throws {
        let data = Data(ReportWriters.json(Self.report()).utf8)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["passed"] as? Bool == false)
        #expect(object["succeeded"] as? Int == 1 && object["failed"] as? Int == 1 && object["started"] as? Int == 2)
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(steps.first?["name"] as? String == "initiate->result")
        // Percentiles come from the log-linear histogram: within 1 % of the exact 2 ms.
        #expect(abs((steps.first?["p50_ms"] as? Double ?? 0) - 2) <= 0.02)
        #expect(steps.first?["max_ms"] as? Double == 4)
        let buckets = try #require(steps.first?["histogram"] as? [[String: Any]])
        #expect(buckets.map { $0["bucket"] as? String } == Histogram.labels)
        #expect(buckets[1]["count"] as? Int == 1 && buckets[2]["count"] as? Int == 1 && buckets[0]["count"] as? Int == 0)
        let failures = try #require(object["failures"] as? [[String: Any]])
        #expect(failures.first?["cause"] as? String == "timeout")
    }

    @Test func junitHasATestCasePerCallAndFailuresWithCause() {
        let xml = ReportWriters.junit(Self.report())
        #expect(xml.contains("<testsuite name='caller' tests='2' failures='1'"))
        #expect(xml.components(separatedBy: "<testcase ").count == 3)
        #expect(xml.contains("<failure type='timeout' message='timeout waiting for iq result (line 9)'"))
    }

    @Test func htmlDrawsEachHistogramAsInlineSVG() {
        let html = HTMLReport.render(Self.report())
        #expect(html.components(separatedBy: "<svg ").count == 4)
        #expect(!html.contains("<script"))
        #expect(html.contains("FAILED"))
    }

    @Test func accountsCSV() throws {
        let accounts = try HarnessAccount.parseCSV("jid,password\nalice@localhost,secret\n# comment\nbob@localhost/r,p,w\n")
        #expect(accounts.count == 2 && accounts[1].password == "p,w" && accounts[1].jid.resourcepart == "r")
        #expect(throws: AccountsError.badRow(line: 1, "expected jid,password")) { try HarnessAccount.parseCSV("alice@localhost") }
        #expect(throws: AccountsError.empty) { try HarnessAccount.parseCSV("jid,password\n") }
    }
}
