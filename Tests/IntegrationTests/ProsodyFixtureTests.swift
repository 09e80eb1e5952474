import Foundation
import Testing

/// The fixture itself: Prosody starts, listens, and its accounts and CA exist.
@Suite struct ProsodyFixtureTests {
    @Test func prosodyStartsWithAccountsAndCA() async throws {
        let prosody = try await ProsodyFixture.shared()
        #expect(FileManager.default.fileExists(atPath: prosody.caFile))
        #expect(try prosody.password("alice") == "alice-pass")
        let (status, output) = try await Repository.run("/bin/bash", ["-c", "exec 3<>/dev/tcp/127.0.0.1/\(prosody.port) && echo open"])
        #expect(status == 0 && output.contains("open"))
    }
}
