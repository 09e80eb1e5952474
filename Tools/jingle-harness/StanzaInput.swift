import Foundation
import XMLStream

/// Reads the input of a harness command and turns one XML stanza into an `XMLElement`.
enum StanzaInput {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The text of `file`, or of standard input when no file is given.
    static func read(_ file: String?) throws -> String {
        let data: Data
        if let file {
            guard let d = FileManager.default.contents(atPath: file) else { throw Failure(description: "cannot read '\(file)'") }
            data = d
        } else {
            data = FileHandle.standardInput.readDataToEndOfFile()
        }
        guard let text = String(data: data, encoding: .utf8) else { throw Failure(description: "input is not UTF-8") }
        return text
    }

    /// Parses one stanza (or a bare payload element) as if it arrived in a `jabber:client` stream.
    static func element(from text: String) throws -> XMLElement {
        var body = Substring(text)
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        body = body.drop { $0.isWhitespace }
        if body.hasPrefix("<?xml"), let end = body.range(of: "?>") { body = body[end.upperBound...] }
        let parser = XMLStreamParser()
        var events = try parser.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        events += try parser.feed(String(body))
        events += try parser.feed("</stream:stream>")
        let elements = events.compactMap { if case .element(let e) = $0 { e } else { nil } }
        guard elements.count == 1 else { throw Failure(description: "expected one XML element, found \(elements.count)") }
        return elements[0]
    }
}
