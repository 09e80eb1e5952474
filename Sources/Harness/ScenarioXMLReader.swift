import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

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

/// Reads a scenario file into `SourceElement`s, keeping line numbers for error messages.
/// Comments are allowed (they are ignored); DTDs and external entities are not loaded.
final class ScenarioXMLReader: NSObject, XMLParserDelegate {
    private var stack: [SourceElement] = []
    private var root: SourceElement?
    private var failure: ScenarioError?
    private weak var parser: XMLParser?

    static func read(_ data: Data) throws(ScenarioError) -> SourceElement {
        let reader = ScenarioXMLReader()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        parser.delegate = reader
        reader.parser = parser
        let ok = parser.parse()
        if let failure = reader.failure { throw failure }
        guard ok, let root = reader.root else {
            let detail = parser.parserError.map { ($0 as NSError).localizedDescription } ?? "not well-formed XML"
            throw ScenarioError(line: parser.lineNumber, element: nil, message: "XML error: \(detail)")
        }
        return root
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        let attributes = attributeDict.filter { !$0.key.hasPrefix("xmlns") }
            .sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        stack.append(SourceElement(name: elementName, namespace: namespaceURI ?? "", attributes: attributes,
                                   children: [], line: parser.lineNumber))
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].children.append(.text(string))
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        guard !stack.isEmpty else { return }
        stack[stack.count - 1].children.append(.text(String(decoding: CDATABlock, as: UTF8.self)))
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        guard let done = stack.popLast() else { return }
        if stack.isEmpty { root = done } else { stack[stack.count - 1].children.append(.element(done)) }
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
        if failure == nil {
            failure = ScenarioError(line: parser.lineNumber, element: stack.last?.name,
                                    message: "XML error: \((parseError as NSError).localizedDescription)")
        }
    }
}

/// A scenario file that cannot be used: the line, the element, and what is wrong.
public struct ScenarioError: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var element: String?
    public var message: String
    /// The scenario file, when the scenario came from one.
    public var file: String?

    public init(line: Int, element: String?, message: String, file: String? = nil) {
        self.line = line
        self.element = element
        self.message = message
        self.file = file
    }

    /// `FILE:LINE: <element>: problem` (`line N:` without a file).
    public var description: String {
        let place = file.map { "\($0):\(line)" } ?? "line \(line)"
        return element.map { "\(place): <\($0)>: \(message)" } ?? "\(place): \(message)"
    }
}
