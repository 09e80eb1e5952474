import XMLStream

/// Stops the run with a message: libFuzzer reports the deadly signal and saves the input.
public func fuzzFailure(_ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError("fuzz property violated: \(message())", file: file, line: line)
}

/// Fails unless `condition` holds.
@inline(__always)
public func fuzzCheck(_ condition: Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    if !condition { fuzzFailure(message(), file: file, line: line) }
}

/// The opening of a `jabber:client` stream, as a peer would send it, ahead of fuzzed stanzas.
public let clientStreamHeader = Array(
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>".utf8)

/// Parses `stanzas` inside a fresh client stream and returns the depth-1 elements it completes,
/// or nil when the XML is refused (every refusal is a typed `XMLStreamError`).
public func parseStanzas<C: Collection<UInt8>>(_ stanzas: C) -> [XMLElement]? {
    let parser = XMLStreamParser()
    do {
        var events = try parser.feed(clientStreamHeader)
        events += try parser.feed(stanzas)
        return events.compactMap { if case .element(let e) = $0 { e } else { nil } }
    } catch {
        return nil
    }
}

/// Reads the fuzzer's input buffer (which may be empty with a nil-like pointer).
public func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}
