import Foundation
import Testing
@testable import Harness

/// Every scenario in Samples/harness parses, and each initiator names a responder that exists
/// (or itself, for two-sided glare where both parties initiate); Samples/harness/broken parses too.
@Suite struct BuiltInScenarioTests {
    static let directory: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/Samples/harness"
    }()

    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
        .filter { $0.hasSuffix(".xml") }.map { String($0.dropLast(4)) }.sorted()

    @Test func theBuiltInsAreAllThere() {
        for name in ["caller", "callee", "jmi-caller", "jmi-callee", "glare", "retract-while-ringing", "ice-restart",
                     "content-add", "terminate-reasons", "glare-both", "jmi-glare-both"] {
            #expect(Self.names.contains(name), "missing \(name).xml")
        }
    }

    @Test(arguments: names) func parsesAndPairs(_ name: String) throws {
        let scenario = try ScenarioLibrary.load(name, searchPaths: [Self.directory])
        #expect(scenario.name == name)
        let peerName = try #require(scenario.peer, "\(name) names no peer")
        let peer = try ScenarioLibrary.load(peerName, searchPaths: [Self.directory])
        #expect(peer.role != scenario.role || (peerName == name && scenario.role == .initiator))
        #expect(peer.peer == name)
    }

    @Test(arguments: ["out-of-order", "never-answers", "no-fingerprint"])
    func brokenRespondersParse(_ name: String) throws {
        let scenario = try ScenarioParser.parse(contentsOf: "\(Self.directory)/broken/\(name).xml")
        #expect(scenario.role == .responder)
    }
}
