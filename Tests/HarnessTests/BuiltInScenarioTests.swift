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
        for name in [
            "caller", "callee", "jmi-caller", "jmi-callee", "glare", "retract-while-ringing", "ice-restart",
            "content-add", "terminate-reasons", "glare-both", "jmi-glare-both",
        ] {
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

    /// The built-ins are compiled in (the EmbedScenarios build plugin turns Samples/harness/*.xml
    /// into `BuiltInScenarios` at build time): the same names and the same bytes.
    @Test func theEmbeddedCopiesMatchSamplesByteForByte() throws {
        #expect(BuiltInScenarios.names == Self.names)
        for name in Self.names {
            let file = try String(contentsOfFile: "\(Self.directory)/\(name).xml", encoding: .utf8)
            #expect(BuiltInScenarios.texts[name] == file, "\(name).xml differs from its embedded copy")
        }
    }

    /// Without any directory to look in, every built-in still loads (from the binary) and its
    /// errors would name it `NAME.xml (built-in)`.
    @Test(arguments: names) func loadsFromTheBinary(_ name: String) throws {
        let scenario = try ScenarioLibrary.load(name, searchPaths: [])
        #expect(scenario.name == name)
        #expect(ScenarioLibrary.builtIn(name)?.file == "\(name).xml (built-in)")
    }

    /// Nothing is looked up next to the working directory or in the source tree the binary was
    /// built from (neither travels with a copied binary): only $JINGLE_HARNESS_SCENARIOS, then the
    /// compiled-in texts.
    @Test func noDirectoryButTheEnvironmentsIsSearched() {
        let environment = ProcessInfo.processInfo.environment["JINGLE_HARNESS_SCENARIOS"]
        #expect(ScenarioLibrary.searchPaths == (environment.map { [$0] } ?? []))
    }

    @Test func anUnknownNameSaysWhereToLook() {
        #expect(throws: ScenarioError.self) { try ScenarioLibrary.load("no-such-scenario", searchPaths: []) }
        do {
            _ = try ScenarioLibrary.load("no-such-scenario", searchPaths: [])
        } catch {
            #expect(error.message.contains("jingle-harness scenarios list"))
        }
    }

    @Test(arguments: ["out-of-order", "never-answers", "no-fingerprint"])
    func brokenRespondersParse(_ name: String) throws {
        let scenario = try ScenarioParser.parse(contentsOf: "\(Self.directory)/broken/\(name).xml")
        #expect(scenario.role == .responder)
    }
}
