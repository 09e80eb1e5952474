import Foundation
import Jingle
import Testing
import XMLStream
import XMPPCore

@Suite struct VectorTests {
    static let files = Vectors.xmlFiles()
    static let errata = Vectors.errata()

    @Test func vectorsArePresent() {
        #expect(Self.files.count > 150)
        for xep in ["0166", "0167", "0176", "0177", "0293", "0294", "0320", "0338", "0339", "0353"] {
            #expect(Self.files.contains { $0.hasPrefix(xep + "/") }, "no vectors for XEP-\(xep)")
        }
    }

    /// Every example that is not listed as an erratum parses, and parse -> serialise -> parse
    /// gives an equal model.
    @Test(arguments: files.filter { errata[$0] == nil })
    func exampleRoundTrips(_ path: String) throws {
        let elements = try TestXMLReader.parseAll(Vectors.text(path))
        #expect(!elements.isEmpty)
        for e in elements {
            let decoded = try DecodedStanza.decode(e)
            let written = XMLSerializer.serialize(decoded.element)
            let reread = try TestXMLReader.parse(written, defaultNamespace: "")
            let again = try DecodedStanza.decode(reread)
            #expect(again == decoded, "\(path) changed in a round trip:\n\(written)")
        }
    }

    /// Examples with errata fail with the error the erratum predicts.
    @Test(arguments: files.filter { errata[$0] != nil })
    func erratumFails(_ path: String) throws {
        let (expected, note) = try #require(Self.errata[path])
        var failure: String? = nil
        do {
            let elements = try TestXMLReader.parseAll(Vectors.text(path))
            for e in elements { _ = try DecodedStanza.decode(e) }
        } catch {
            failure = "\(error)"
        }
        let f = try #require(failure, "\(path) parsed although it is listed as an erratum (\(note))")
        #expect(f.contains(expected), "\(path): expected an error containing '\(expected)', got '\(f)'")
    }
}

/// The test reader and the production streaming parser read every vector to the same models.
@Suite struct ParserAgreementTests {
    static let files = Vectors.xmlFiles().filter { path in
        Vectors.errata()[path] == nil && !((try? Vectors.text(path)).map { $0.contains("<!--") || $0.hasPrefix("<?xml") } ?? true)
    }

    @Test(arguments: files)
    func streamParserAgreesWithTestReader(_ path: String) throws {
        let text = try Vectors.text(path)
        let parser = XMLStreamParser()
        var events = try parser.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        events += try parser.feed(text)
        let fromStream = events.compactMap { if case .element(let e) = $0 { e } else { nil } }
        let fromReader = try TestXMLReader.parseAll(text)
        #expect(fromStream.count == fromReader.count)
        for (s, r) in zip(fromStream, fromReader) {
            #expect(try DecodedStanza.decode(s) == DecodedStanza.decode(r), "\(path)")
        }
    }
}
