import Foundation
import Harness
import Testing
import XMLStream
import XMPPCore

/// True two-sided glare through Prosody: two harness parties send session-initiate (`glare-both`)
/// or JMI propose (`jmi-glare-both`) to each other in the same instant; the tie-break of XEP-0166
/// §7.2.16 / XEP-0353 §4.1 (lower id wins) leaves exactly one session per round, started by the
/// side with the lower id.
@Suite(.serialized) struct HarnessProsodyGlareTests {
    /// Both `accounts` run the sample scenario `name` against each other for `rounds` rounds,
    /// together; the endpoints (disconnected by then) and the report.
    func glare(_ name: String, accounts: (String, String), rounds: Int) async throws -> ([HarnessEndpoint], RunReport) {
        let scenario = try ProsodyFixture.sampleScenario(name)
        return try await ProsodyFixture.shared().runHarness(
            [accounts.0, accounts.1], initiator: scenario, responder: scenario,
            options: LoadOptions(
                rate: 8, maxConcurrent: 4, totalCalls: rounds,
                drainSeconds: 15, together: true))
    }

    @Test func crossingInitiatesResolveToTheLowerSidsSession() async throws {
        let rounds = 5
        let (endpoints, report) = try await glare("glare-both", accounts: ("hglare-a", "hglare-b"), rounds: rounds)
        #expect(endpoints.allSatisfy { $0.scenario.role == .initiator && $0.peer != nil })

        #expect(report.allPassed, "\(report.records.map { "\($0.callNumber): \($0.verdict)" })")
        #expect(report.records.count == 2 * rounds)
        let winners = report.records.filter { $0.kept["accepted"] != nil }
        let losers = report.records.filter { $0.kept["accepted"] == nil }
        #expect(winners.count == rounds && losers.count == rounds)
        for winner in winners {
            // The surviving session is the winner's own, and its sid is the lower of the two.
            let ours = try #require(winner.kept["ours"]?.child("jingle")?.attribute("sid"))
            let theirs = try #require(winner.kept["theirs"]?.child("jingle")?.attribute("sid"))
            #expect(winner.kept["accepted"]?.child("jingle")?.attribute("sid") == ours)
            #expect(Array(ours.utf8).lexicographicallyPrecedes(Array(theirs.utf8)))
        }
        for loser in losers {
            // The losing side's own initiate was refused with conflict + tie-break.
            let refused = try #require(loser.kept["refused"])
            #expect(refused.child("error")?.elements.contains { $0.name == "tie-break" } == true)
            let ours = try #require(loser.kept["ours"]?.child("jingle")?.attribute("sid"))
            let theirs = try #require(loser.kept["theirs"]?.child("jingle")?.attribute("sid"))
            #expect(Array(theirs.utf8).lexicographicallyPrecedes(Array(ours.utf8)))
        }
        let steps = Dictionary(uniqueKeysWithValues: report.steps.map { ($0.name, $0.summary.count) })
        #expect(steps["initiate->accept"] == rounds && steps["accept->result"] == rounds)
    }

    @Test func crossingJMIProposalsResolveToTheLowerIdsSession() async throws {
        let rounds = 4
        let (_, report) = try await glare("jmi-glare-both", accounts: ("hjglare-a", "hjglare-b"), rounds: rounds)

        #expect(report.allPassed, "\(report.failuresByCause)")
        #expect(report.records.count == 2 * rounds)
        let winners = report.records.filter { $0.kept["accepted"] != nil }
        #expect(winners.count == rounds)
        for record in report.records {
            let ours = try #require(record.kept["ours"]?.elements.first { $0.name == "propose" }?.attribute("id"))
            let theirs = try #require(record.kept["theirs"]?.elements.first { $0.name == "propose" }?.attribute("id"))
            let won = record.kept["accepted"] != nil
            #expect(won == Array(ours.utf8).lexicographicallyPrecedes(Array(theirs.utf8)))
            if won {
                // The loser retracted its own proposal with a tie-break, and our session was accepted.
                let retract = try #require(record.kept["retracted"]?.elements.first { $0.name == "retract" })
                #expect(retract.attribute("id") == theirs && retract.elements.contains { $0.name == "tie-break" })
                #expect(record.kept["accepted"]?.child("jingle")?.attribute("sid") == ours)
            } else {
                // The winner rejected our proposal with a tie-break.
                let reject = try #require(record.kept["rejected"]?.elements.first { $0.name == "reject" })
                #expect(reject.attribute("id") == ours && reject.elements.contains { $0.name == "tie-break" })
            }
        }
    }
}
