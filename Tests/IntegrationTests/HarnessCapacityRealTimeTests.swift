import Foundation
import Harness
import Testing
import XMPPCore

/// The step stair and `merge` through the shared Prosody: a capacity search against a
/// `jingle-agent answer --max-concurrent 4` that refuses calls (busy) once more than four are
/// going on, and two harness runs side by side whose JSON reports merge into their sum.
@Suite(.serialized) struct HarnessCapacityRealTimeTests {
    /// The built-in caller, holding each call for `holdMS` before hanging up.
    static func holdingCaller(_ holdMS: Int) throws -> Scenario {
        let text = try String(contentsOfFile: "\(Repository.root)/Samples/harness/caller.xml", encoding: .utf8)
        let held = text.replacingOccurrences(of: #"<pause ms="20"/>"#, with: #"<pause ms="\#(holdMS)"/>"#)
        #expect(held != text)
        return try ScenarioParser.parse(held)
    }

    func server(_ prosody: ProsodyFixture) -> ServerSettings {
        ServerSettings(host: "127.0.0.1", port: prosody.port, caFile: prosody.caFile)
    }

    /// Calls held one second: the agent has about `rate` calls going on, so it starts refusing
    /// above about 3.5 calls/s. The stair 2, 6, 10 calls/s stops at 6 and reports 2.
    @Test func theStairStopsWhereTheTargetStartsRefusingAndReportsTheLastGoodRate() async throws {
        let accounts = try await AgentAccounts.make()
        let agent = try AgentProcess(
            "capacity-target",
            [
                "answer", "--auto", "--max-concurrent", "4", "--report", "none",
                "--local-address", "127.0.0.1", "--no-discover-servers",
            ]
                + (try await accounts.arguments("hcap-agent", resource: "agent")))
        try await agent.waitFor("waiting for calls")
        let target = try #require(JID("\(accounts.bare("hcap-agent"))/agent"))
        let prosody = try await ProsodyFixture.shared()
        let (jid, password) = try await prosody.account("hcap-harness")
        let (client, bound) = try await HarnessSetup.connect(
            HarnessAccount(jid: jid, password: password), index: 0,
            server: server(prosody))
        let endpoints = [HarnessEndpoint(client: client, localJID: bound, scenario: try Self.holdingCaller(1000), peer: target)]
        var options = LoadOptions(rate: 2, maxConcurrent: 100, totalCalls: nil, drainSeconds: 20)
        options.stair = StepStairOptions(increase: 4, everySeconds: 3, maxRate: 10, stopOnFailPercent: 10)
        let report = await LoadRunner(endpoints: endpoints, options: options).run(scenarioName: "caller")
        await HarnessSetup.disconnect(endpoints)
        agent.send(SIGTERM)

        let capacity = try #require(report.capacity)
        let summary = ReportWriters.text(report)
        guard case .stepFailures(let rate, _, let limit) = report.stopReason else {
            Issue.record("stopped by \(String(describing: report.stopReason))\n\(summary)\n\(agent.transcript)")
            return
        }
        #expect(rate == 6 && limit == 10, "\(summary)")
        #expect(capacity.steps.map(\.rate) == [2, 6], "\(summary)")
        #expect(capacity.lastGoodRate == 2 && capacity.firstBadRate == 6, "\(summary)\n\(agent.transcript)")
        #expect(report.failuresByCause.first?.cause == "terminate:busy", "\(report.failuresByCause)")
        #expect(summary.contains("capacity: 2.0 calls/s"))
    }

    /// Two runs side by side, each with its own pair of accounts: their JSON reports merge into
    /// one whose counts are the sums and whose percentiles are those of all the calls' samples.
    @Test func twoRunsSideBySideMergeIntoTheirSum() async throws {
        let prosody = try await ProsodyFixture.shared()
        let library = ["\(Repository.root)/Samples/harness"]
        let caller = try ScenarioLibrary.load("caller", searchPaths: library)
        let callee = try ScenarioLibrary.load("callee", searchPaths: library)
        func run(_ shard: String, calls: Int) async throws -> RunReport {
            var accounts: [HarnessAccount] = []
            for name in ["hmerge-\(shard)-a", "hmerge-\(shard)-b"] {
                let (jid, password) = try await prosody.account(name)
                accounts.append(HarnessAccount(jid: jid, password: password))
            }
            let endpoints = try await HarnessSetup.pairs(accounts, initiator: caller, responder: callee, server: server(prosody))
            let runner = LoadRunner(
                endpoints: endpoints,
                options: LoadOptions(
                    rate: 10, maxConcurrent: 20, totalCalls: calls,
                    drainSeconds: 15))
            let report = await runner.run(scenarioName: "caller")
            await HarnessSetup.disconnect(endpoints)
            return report
        }
        async let first = run("one", calls: 12)
        async let second = run("two", calls: 8)
        let (a, b) = try await (first, second)
        #expect(a.allPassed && b.allPassed, "\(a.failuresByCause) \(b.failuresByCause)")

        let merged = try ReportMerge.merge([
            try ReportMerge.report(fromJSON: Data(ReportWriters.json(a).utf8), name: "a.json"),
            try ReportMerge.report(fromJSON: Data(ReportWriters.json(b).utf8), name: "b.json"),
        ])
        // One run's totals: every record of both runs (both kept whole: fewer than the retention limit).
        let one = RunReport(scenario: "caller", records: a.records + b.records, elapsedSeconds: 0, started: a.started + b.started)
        #expect(merged.started == 40 && merged.finished == 40 && merged.succeeded == 40 && merged.allPassed)
        #expect(merged.finished == one.finished && merged.totals.initiatorFinished == 20)
        let steps = Dictionary(uniqueKeysWithValues: merged.steps.map { ($0.name, $0.summary) })
        for (name, expected) in one.steps {
            let got = try #require(steps[name], "\(name)")
            #expect(
                got.count == expected.count && got.p50 == expected.p50 && got.p99 == expected.p99 && got.max == expected.max,
                "\(name)")
        }
        #expect(steps["initiate->accept"]?.count == 20)
    }
}
