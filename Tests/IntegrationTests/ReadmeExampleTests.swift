import Foundation
import Testing

/// The README's library example is the compiled `readme-call` sample (Samples/readme-call):
/// the two must say the same, so the example in the README always builds with `import JingleKit`.
@Suite struct ReadmeExampleTests {
    @Test func theReadmeExampleIsTheCompiledSample() throws {
        let readme = try String(contentsOfFile: "\(Repository.root)/README.md", encoding: .utf8)
        let sample = try String(contentsOfFile: "\(Repository.root)/Samples/readme-call/main.swift", encoding: .utf8)
        let begin = "// README example begins\n", end = "// README example ends"
        let body = try #require(sample.range(of: begin).flatMap { b in sample.range(of: end).map { sample[b.upperBound..<$0.lowerBound] } })
        let header = "```swift\nimport Foundation   // URL\nimport JingleKit\n\n"
        #expect(readme.contains(header + body + "```"), "README's example differs from Samples/readme-call/main.swift")
        #expect(!sample.contains("import XMPPClient") && !sample.contains("import XMPPCore"))
    }
}
