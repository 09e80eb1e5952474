import ArgumentParser
import CXMLBenchLoop
import XMLStream

/// `jingle-bench xml`: XMLStreamParser (full element trees, as consumers get them) against a plain
/// libxml2 SAX2 push-parser loop in C that only counts stanzas, over the same bytes and chunks.
struct XMLBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xml",
        abstract: "Streaming XML parse of Jingle traffic: Swift XMLStreamParser against a C libxml2 SAX loop."
    )

    @Option(help: "Size of the generated stream, in MB (10^6 bytes).")
    var megabytes: Double = 4

    @Option(help: "Bytes handed to the parser per call.")
    var chunk: Int = 4096

    @Option(help: "Timed runs of each parser (interleaved).")
    var repetitions: Int = 7

    func validate() throws {
        guard megabytes > 0, megabytes <= 1024 else { throw ValidationError("--megabytes must be in (0, 1024]") }
        guard chunk > 0, chunk <= 1 << 24 else { throw ValidationError("--chunk must be in 1...16777216") }
        guard repetitions > 0 else { throw ValidationError("--repetitions must be positive") }
    }

    func run() throws {
        let corpus = JingleStreamCorpus.make(minimumBytes: Int(megabytes * 1_000_000))
        let bytes = corpus.bytes
        let megabyteCount = Double(bytes.count) / 1_000_000
        print(
            "xml: \(formatted(megabyteCount)) MB stream, \(corpus.stanzas) stanzas, chunk \(chunk) bytes, "
                + "\(repetitions) repetitions")

        var swiftSamples = BenchSamples()
        var cSamples = BenchSamples()
        for _ in 0..<repetitions {
            let swiftCount = try swiftSamples.time { try Self.parseWithXMLStream(bytes, chunk: chunk) }
            let cCount = cSamples.time { Self.parseWithCLoop(bytes, chunk: chunk) }
            guard swiftCount == corpus.stanzas, cCount == corpus.stanzas else {
                print("error: stanza counts differ: generated \(corpus.stanzas), Swift \(swiftCount), C \(cCount)")
                throw ExitCode.failure
            }
        }

        report("Swift XMLStreamParser (element trees)", swiftSamples, stanzas: corpus.stanzas, megabytes: megabyteCount)
        report("C libxml2 SAX2 loop (counts only)   ", cSamples, stanzas: corpus.stanzas, megabytes: megabyteCount)
        print(
            "ratio Swift/C time: best \(formatted(swiftSamples.best / cSamples.best))x, "
                + "median \(formatted(swiftSamples.median / cSamples.median))x")
    }

    private func report(_ label: String, _ samples: BenchSamples, stanzas: Int, megabytes: Double) {
        func rates(_ seconds: Double) -> String {
            "\(formatted(seconds * 1000, digits: 1)) ms, \(formatted(Double(stanzas) / seconds, digits: 0)) stanzas/s, "
                + "\(formatted(megabytes / seconds, digits: 1)) MB/s"
        }
        print("\(label): best \(rates(samples.best)); median \(rates(samples.median))")
    }

    /// Parses the whole stream and returns the number of stanzas delivered, touching each tree.
    static func parseWithXMLStream(_ bytes: [UInt8], chunk: Int) throws -> Int {
        let parser = XMLStreamParser(limits: XMLStreamLimits(maxStanzaBytes: 1 << 20, maxDepth: 64))
        var stanzas = 0
        var children = 0
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            for event in try parser.feed(bytes[offset..<end]) {
                if case .element(let element) = event {
                    stanzas += 1
                    children &+= element.children.count
                }
            }
            offset = end
        }
        precondition(children >= 0)
        return stanzas
    }

    static func parseWithCLoop(_ bytes: [UInt8], chunk: Int) -> Int {
        bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                Int(jk_c_sax_count_stanzas($0.baseAddress, $0.count, chunk))
            }
        }
    }
}
