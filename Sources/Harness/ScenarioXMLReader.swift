internal import CLibXML2
import Foundation

/// An element of a scenario file with the line it starts on, as read before compiling.
struct SourceElement {
    var name: String
    var namespace: String
    var attributes: [(name: String, value: String)]
    var children: [SourceNode]
    var line: Int

    func attribute(_ name: String) -> String? { attributes.first { $0.name == name }?.value }
    var elements: [SourceElement] { children.compactMap { if case .element(let e) = $0 { e } else { nil } } }
    var text: String { children.reduce(into: "") { if case .text(let t) = $1 { $0 += t } } }
}

enum SourceNode {
    case element(SourceElement)
    case text(String)
}

/// Reads a scenario file into `SourceElement`s with libxml2, keeping line numbers for error
/// messages; a file that is not well-formed XML fails with libxml2's own message and the line and
/// column it stopped at. Comments are allowed (they are ignored), CDATA is text; a DTD is refused
/// and nothing is fetched from the network.
enum ScenarioXMLReader {
    /// libxml2 wants `xmlInitParser` once before contexts are used from several threads.
    private static let initialised: Bool = {
        xmlInitParser(); return true
    }()

    static func read(_ data: Data) throws(ScenarioError) -> SourceElement {
        _ = initialised
        guard let context = xmlNewParserCtxt() else {
            throw ScenarioError(line: 0, element: nil, message: "XML error: libxml2 could not create a parser context")
        }
        defer { xmlFreeParserCtxt(context) }
        // libxml2 goes on after the first error and reports consequences of it ("Premature end of
        // data"); the first one is what the author needs, so it is kept as it is raised.
        let firstError = FirstError()
        context.pointee._private = Unmanaged.passUnretained(firstError).toOpaque()
        context.pointee.sax.pointee.serror = { userData, error in
            guard let context = userData?.assumingMemoryBound(to: xmlParserCtxt.self), let error,
                let box = context.pointee._private
            else { return }
            Unmanaged<FirstError>.fromOpaque(box).takeUnretainedValue().keep(error.pointee)
        }
        // NONET: never fetch anything. NOERROR/NOWARNING: the error is reported here, not on stderr.
        // BIG_LINES: line numbers above 65535 stay right. NOCDATA: CDATA sections become text.
        let options = Int32(
            XML_PARSE_NONET.rawValue | XML_PARSE_NOERROR.rawValue | XML_PARSE_NOWARNING.rawValue
                | XML_PARSE_BIG_LINES.rawValue | XML_PARSE_NOCDATA.rawValue)
        let document = data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> xmlDocPtr? in
            guard let base = bytes.baseAddress, bytes.count > 0, bytes.count <= Int(Int32.max) else { return nil }
            return xmlCtxtReadMemory(context, base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), nil, nil, options)
        }
        defer { if let document { xmlFreeDoc(document) } }
        if let document, context.pointee.wellFormed != 0, context.pointee.nsWellFormed != 0 {
            if let subset = document.pointee.intSubset {
                throw ScenarioError(
                    line: max(1, Int(xmlGetLineNo(UnsafeMutableRawPointer(subset).assumingMemoryBound(to: xmlNode.self)))),
                    element: nil, message: "XML error: a scenario may not carry a DTD")
            }
            guard let root = xmlDocGetRootElement(document) else {
                throw ScenarioError(line: 1, element: nil, message: "XML error: no root element")
            }
            return element(root)
        }
        if let error = withExtendedLifetime(firstError, { firstError.error }) { throw error }
        // A libxml2 that reports through another channel still keeps its last error.
        if let last = xmlCtxtGetLastError(context), last.pointee.code != 0 {
            let fallback = FirstError()
            fallback.keep(last.pointee)
            if let error = fallback.error { throw error }
        }
        throw ScenarioError(
            line: data.isEmpty ? 1 : 0, element: nil,
            message: "XML error: \(data.isEmpty ? "the file is empty" : "not well-formed XML")")
    }

    /// The first error or fatal error libxml2 raised while reading one file (warnings are left out).
    private final class FirstError {
        var error: ScenarioError?

        func keep(_ raised: xmlError) {
            guard error == nil, raised.level.rawValue >= XML_ERR_ERROR.rawValue else { return }
            let message = raised.message.map { String(cString: $0) } ?? "libxml2 error \(raised.code)"
            error = ScenarioError(
                line: Int(raised.line), column: raised.int2 > 0 ? Int(raised.int2) : nil, element: nil,
                message: "XML error: " + message.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    private static func element(_ node: xmlNodePtr) -> SourceElement {
        var attributes: [(name: String, value: String)] = []
        var attribute = node.pointee.properties
        while let a = attribute {
            var name = String(cString: a.pointee.name)
            if let prefix = a.pointee.ns?.pointee.prefix { name = String(cString: prefix) + ":" + name }
            // The value's text nodes (character and predefined entity references are already
            // decoded; no others can occur without a DTD).
            var value = ""
            var part = a.pointee.children
            while let p = part {
                if let content = p.pointee.content { value += String(cString: content) }
                part = p.pointee.next
            }
            attributes.append((name: name, value: value))
            attribute = a.pointee.next
        }
        attributes.sort { $0.name < $1.name }
        var children: [SourceNode] = []
        var child = node.pointee.children
        while let c = child {
            switch c.pointee.type {
            case XML_ELEMENT_NODE:
                children.append(.element(element(c)))
            case XML_TEXT_NODE, XML_CDATA_SECTION_NODE:
                if let content = c.pointee.content { children.append(.text(String(cString: content))) }
            default:
                break
            }
            child = c.pointee.next
        }
        return SourceElement(
            name: String(cString: node.pointee.name),
            namespace: node.pointee.ns?.pointee.href.map { String(cString: $0) } ?? "",
            attributes: attributes, children: children, line: Int(xmlGetLineNo(node)))
    }
}

/// A scenario file that cannot be used: the line (and, for XML errors, the column), the element,
/// and what is wrong.
public struct ScenarioError: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    /// The column libxml2 stopped at, for a file that is not well-formed XML.
    public var column: Int?
    public var element: String?
    public var message: String
    /// The scenario file, when the scenario came from one.
    public var file: String?

    public init(line: Int, column: Int? = nil, element: String?, message: String, file: String? = nil) {
        self.line = line
        self.column = column
        self.element = element
        self.message = message
        self.file = file
    }

    /// `FILE:LINE[:COLUMN]: <element>: problem` (`line N[, column C]:` without a file).
    public var description: String {
        let place =
            file.map { "\($0):\(line)" + (column.map { ":\($0)" } ?? "") }
            ?? "line \(line)" + (column.map { ", column \($0)" } ?? "")
        return element.map { "\(place): <\($0)>: \(message)" } ?? "\(place): \(message)"
    }
}
