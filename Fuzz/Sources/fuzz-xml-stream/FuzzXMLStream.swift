import FuzzSupport
import XMLStream

/// Fuzzes `XMLStreamParser` (RFC 6120 §4 streams over libxml2's push parser).
///
/// The input is the raw stream. It is parsed three ways: in one `feed`, split in two at a
/// position taken from its first byte, and one byte per `feed`. Asserted: no crash or sanitizer
/// report; when all three succeed they give the exact same events; chunking never makes a
/// stream fail that one feed accepts (the reverse is allowed: a chunked parser may still be
/// waiting for the end of a broken tag); a failed parser keeps throwing the same error;
/// `reset()` gives the same result again.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzXMLStream(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzInput(data, size)
    let parser = XMLStreamParser()
    let whole = run(parser, [bytes[...]])

    parser.reset()
    fuzzCheck(run(parser, [bytes[...]]) == whole, "reset() did not give the same result")

    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) * (bytes.count + 1) / 256
    let split = run(XMLStreamParser(), [bytes[..<cut], bytes[cut...]])
    compare(whole, split, "split at \(cut)")

    let bytewise = run(XMLStreamParser(), bytes.indices.map { bytes[$0...$0] })
    compare(whole, bytewise, "byte-wise")
    return 0
}

private enum Outcome: Equatable {
    case events([XMLStreamEvent])
    case failed(XMLStreamError)
}

/// Feeds the chunks in order; the first error ends the run.
private func run(_ parser: XMLStreamParser, _ chunks: [ArraySlice<UInt8>]) -> Outcome {
    var events: [XMLStreamEvent] = []
    for chunk in chunks {
        do {
            events += try parser.feed(chunk)
        } catch {
            // A failed parser stays failed with the same error (documented contract).
            do {
                _ = try parser.feed([UInt8(ascii: "<")])
                fuzzFailure("feed after \(error) did not throw")
            } catch let again {
                fuzzCheck(again == error, "feed after \(error) threw a different error \(again)")
            }
            return .failed(error)
        }
    }
    return .events(events)
}

private func compare(_ whole: Outcome, _ other: Outcome, _ how: String) {
    switch (whole, other) {
    case let (.events(a), .events(b)):
        fuzzCheck(a == b, "\(how): events differ from one feed\n  whole: \(a)\n  \(how): \(b)")
    case (.failed, .failed):
        break // the detail (line/column, libxml2's wording) may legitimately differ
    case let (.events(a), .failed(e)):
        fuzzFailure("\(how) failed with \(e) but one feed succeeded with \(a)")
    case (.failed, .events):
        // libxml2's push parser looks ahead for a tag's closing '>' before parsing it, so with small
        // chunks an error inside an unfinished tag is only found once more bytes arrive: the
        // chunked run is still waiting, not wrong.
        break
    }
}
