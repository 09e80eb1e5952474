import Foundation
import Testing

/// `jingle-agent check`, the built executable, against the test Prosody.
@Suite struct AgentCheckTests {
    static var agent: String { AgentProcess.executable }

    @Test func checkPrintsWhatWasNegotiatedAndExitsZero() async throws {
        let prosody = try await ProsodyFixture.shared()
        let (status, output) = try await Repository.run(
            Self.agent,
            [
                "check", "--jid", "\(try await prosody.account("agent-check").jid)", "--password-file", prosody.passwordFile("agent-check"),
                "--server", "127.0.0.1:\(prosody.port)", "--ca-file", prosody.caFile,
            ])
        #expect(status == 0, "output:\n\(output)")
        #expect(output.contains("TLSv1."))
        #expect(output.contains("SCRAM-SHA-256"))
        #expect(output.contains("agent-check@localhost/"))
        #expect(output.contains("turn"))
        #expect(!output.contains(prosody.turnSecret))
    }

    @Test func badPasswordExitsNonZeroWithOneLineReason() async throws {
        let prosody = try await ProsodyFixture.shared()
        let wrong = NSTemporaryDirectory() + "jinglekit-wrong-\(UUID().uuidString)"
        try "wrong-password\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: wrong) }
        let (status, output) = try await Repository.run(
            Self.agent,
            [
                "check", "--jid", "\(try await prosody.account("agent-check").jid)", "--password-file", wrong,
                "--server", "127.0.0.1:\(prosody.port)", "--ca-file", prosody.caFile,
            ])
        #expect(status != 0)
        let lines = output.split(separator: "\n")
        #expect(lines.count == 1, "output:\n\(output)")
        #expect(output.contains("not-authorized"))
    }

    @Test func untrustedServerExitsNonZero() async throws {
        let prosody = try await ProsodyFixture.shared()
        let (status, output) = try await Repository.run(
            Self.agent,
            [
                "check", "--jid", "\(try await prosody.account("agent-check").jid)", "--password-file", prosody.passwordFile("agent-check"),
                "--server", "127.0.0.1:\(prosody.port)",
            ])
        #expect(status != 0)
        #expect(output.contains("certificate"), "output:\n\(output)")
    }
}
