import Foundation
import Jingle
import XMLStream
import XMPPCore

/// Finds the XEP example files copied under Vectors/ and decodes them the way the tests need.
enum Vectors {
    static var root: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Vectors")
    }

    /// Every `<xep>/<file>.xml` vector, e.g. "0166/example-04.xml".
    static func xmlFiles() -> [String] {
        let fm = FileManager.default
        var out: [String] = []
        for dir in ((try? fm.contentsOfDirectory(atPath: root.path)) ?? []).sorted() {
            let files = (try? fm.contentsOfDirectory(atPath: root.appendingPathComponent(dir).path)) ?? []
            out += files.filter { $0.hasSuffix(".xml") }.sorted().map { "\(dir)/\($0)" }
        }
        return out
    }

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// Must-fail vectors from errata.tsv: path -> (expected error text, note).
    static func errata() -> [String: (expected: String, note: String)] {
        guard let t = try? text("errata.tsv") else { return [:] }
        var out: [String: (String, String)] = [:]
        for line in t.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 3 else { continue }
            out[f[0]] = (f[1], f[2])
        }
        return out
    }
}

/// One decoded top-level element of a vector.
enum DecodedStanza: Equatable {
    /// A Jingle IQ: the envelope (payload removed) and the action.
    case jingle(envelope: IQ, JingleElement)
    /// A JMI message: the envelope (JMI child removed) and the payload.
    case jingleMessage(envelope: XMLElement, JingleMessage)
    case iq(IQ)
    case content(Content)
    case group(Group)
    case source(Source)
    case sourceGroup(SourceGroup)
    case description(ApplicationDescription)
    case other(XMLElement)

    static func decode(_ e: XMLElement) throws -> DecodedStanza {
        switch (e.namespace, e.name) {
        case (XMPPNamespace.client, "iq"):
            guard let iq = IQ(element: e) else { throw JingleParseError.invalidChild(element: "vector", child: "iq", detail: "not an IQ") }
            if iq.type == .set, let p = iq.payload, p.namespace == JingleNamespace.jingle {
                var envelope = iq
                envelope.payload = nil
                return .jingle(envelope: envelope, try JingleElement(iq: iq))
            }
            return .iq(iq)
        case (XMPPNamespace.client, "message"):
            if let m = try JingleMessage.find(in: e) {
                var envelope = e
                envelope.children.removeAll {
                    if case .element(let c) = $0 {
                        c.namespace == JingleNamespace.jingleMessage && c.name == m.action.rawValue
                    } else {
                        true
                    }
                }
                return .jingleMessage(envelope: envelope, m)
            }
            return .other(e)
        case (JingleNamespace.jingle, "content"): return .content(try Content(element: e))
        case (JingleNamespace.grouping, "group"): return .group(try Group(element: e))
        case (JingleNamespace.ssma, "source"): return .source(try Source(element: e))
        case (JingleNamespace.ssma, "ssrc-group"): return .sourceGroup(try SourceGroup(element: e))
        case (_, "description"): return .description(try ApplicationDescription(element: e))
        case (_, "content"), (_, "group"), (_, "source"):
            throw JingleParseError.unexpectedElement(
                expected: e.name, namespace: "a Jingle namespace", found: e.name, foundNamespace: e.namespace)
        default: return .other(e)
        }
    }

    var element: XMLElement {
        switch self {
        case .jingle(var envelope, let j):
            envelope.payload = j.element
            return envelope.element
        case .jingleMessage(var envelope, let m):
            envelope.append(m.element)
            return envelope
        case .iq(let iq): return iq.element
        case .content(let c): return c.element
        case .group(let g): return g.element
        case .source(let s): return s.element
        case .sourceGroup(let g): return g.element
        case .description(let d): return d.element
        case .other(let e): return e
        }
    }
}
