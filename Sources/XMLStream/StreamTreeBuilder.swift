internal import CLibXML2

/// The namespace of the stream root (RFC 6120 §4.8.1).
let streamNamespaceURI = "http://etherx.jabber.org/streams"

/// Owns the state the SAX2 callbacks mutate; the callbacks reach it through the context's user
/// data. The state lives behind an unsafe pointer so the hot callbacks mutate it in place without
/// the dynamic exclusivity checks a class's stored properties would cost on every access.
final class StreamTreeBuilder {
    let state: UnsafeMutablePointer<StreamTreeState>

    init(limits: XMLStreamLimits) {
        state = .allocate(capacity: 1)
        state.initialize(to: StreamTreeState(limits: limits))
    }

    deinit {
        state.pointee.nodes.deallocate()
        state.deinitialize(count: 1)
        state.deallocate()
    }
}

/// Elements under construction and the events completed so far, for one libxml2 context.
struct StreamTreeState {
    let limits: XMLStreamLimits
    /// The context whose callbacks feed this state; set once the context exists.
    var context: xmlParserCtxtPtr?
    private(set) var failure: XMLStreamError?
    private(set) var streamOpen = false
    private(set) var streamClosed = false
    /// Byte offset where the stanza being read (or the next one) starts, for `maxStanzaBytes`.
    private(set) var stanzaStart = 0
    private var events: [XMLStreamEvent] = []
    /// Open elements, counting the stream root.
    private var depth = 0
    /// The open stanza and its open descendants, outermost first.
    private var frames: [OpenElement] = []
    /// The children read so far of every open element, each element's after its parent's.
    fileprivate(set) var nodes = NodeStack()
    private var pendingText = ""
    private var hasPendingText = false
    private var names = InternedNames()

    /// An element whose end tag has not arrived yet; its children are `nodes[firstChild...]`.
    private struct OpenElement {
        var name: String
        var namespace: String
        var attributes: [XMLAttribute]
        var firstChild: Int
    }

    init(limits: XMLStreamLimits) {
        self.limits = limits
    }

    mutating func takeEvents() -> [XMLStreamEvent] {
        var out: [XMLStreamEvent] = []
        swap(&out, &events)
        return out
    }

    // MARK: SAX2 callbacks

    mutating func startElement(
        localname: UnsafePointer<xmlChar>, prefix: UnsafePointer<xmlChar>?,
        uri: UnsafePointer<xmlChar>?, attributeCount: Int,
        attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?
    ) {
        guard failure == nil else { return }
        if depth > limits.maxDepth {
            fail(.tooDeep(limit: limits.maxDepth))
            return
        }
        if depth == 0 {
            openStream(
                localname: localname, prefix: prefix, uri: uri,
                attributeCount: attributeCount, attributes: attributes)
            return
        }
        depth += 1
        if hasPendingText { flushText() }
        let name = names.string(localname, context: context)
        let namespace = uri.map { names.string($0, context: context) } ?? ""
        frames.append(
            OpenElement(
                name: name, namespace: namespace,
                attributes: makeAttributes(count: attributeCount, attributes),
                firstChild: nodes.count))
    }

    mutating func endElement() {
        guard failure == nil else { return }
        depth -= 1
        if depth == 0 {
            streamOpen = false
            streamClosed = true
            events.append(.streamClosed)
            return
        }
        if hasPendingText { flushText() }
        guard let open = frames.popLast() else { return }
        let element = XMLElement(
            name: open.name, namespace: open.namespace, attributes: open.attributes,
            children: nodes.popArray(from: open.firstChild))
        if frames.isEmpty {
            let end = currentOffset()
            if end - stanzaStart > limits.maxStanzaBytes {
                fail(.stanzaTooLarge(limit: limits.maxStanzaBytes))
                return
            }
            stanzaStart = end
            events.append(.element(element))
        } else {
            nodes.push(.element(element))
        }
    }

    mutating func characters(_ bytes: UnsafePointer<xmlChar>, count: Int) {
        guard failure == nil else { return }
        if frames.isEmpty {
            // Between stanzas (whitespace keepalives): dropped; the next stanza starts after it.
            // libxml2 passes this text straight from its input buffer (then its end is exact) or,
            // for unusual characters, from a copy after moving its cursor past the text.
            if depth == 1, let context {
                let end = jk_xml_offset_of(context, bytes + count)
                stanzaStart = end >= 0 ? end : currentOffset()
            }
            return
        }
        let text = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
        if hasPendingText {
            pendingText += text
        } else {
            pendingText = text
            hasPendingText = true
        }
    }

    /// Refuses a construct RFC 6120 §11.1 forbids, stopping the parser.
    mutating func refuse(_ what: String) {
        guard failure == nil else { return }
        fail(.restrictedXML(detail: "\(what) \(position())"))
    }

    /// Records libxml2's error (the first one wins) and stops the parser.
    mutating func libxmlError(_ error: xmlError) {
        guard failure == nil, error.level.rawValue >= XML_ERR_ERROR.rawValue else { return }
        var message = error.message.map { String(cString: $0) } ?? "error \(error.code)"
        while message.last?.isWhitespace == true { message.removeLast() }
        let detail = "\(message) (line \(error.line), column \(error.int2))"
        switch Int(error.code) {
        case Int(XML_ERR_UNDECLARED_ENTITY.rawValue), Int(XML_WAR_UNDECLARED_ENTITY.rawValue),
            Int(XML_ERR_ENTITY_PE_INTERNAL.rawValue), Int(XML_ERR_ENTITYREF_IN_DTD.rawValue),
            Int(XML_ERR_EXT_ENTITY_STANDALONE.rawValue):
            fail(.restrictedXML(detail: detail))
        default:
            fail(.notWellFormed(detail: detail))
        }
    }

    // MARK: Helpers

    private mutating func openStream(
        localname: UnsafePointer<xmlChar>, prefix: UnsafePointer<xmlChar>?,
        uri: UnsafePointer<xmlChar>?, attributeCount: Int,
        attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?
    ) {
        let name = String(cString: localname)
        let namespace = uri.map { String(cString: $0) } ?? ""
        guard name == "stream", namespace == streamNamespaceURI else {
            let qualified = prefix.map { String(cString: $0) + ":" + name } ?? name
            fail(
                .invalidStreamHeader(
                    detail: "root element <\(qualified)> in namespace '\(namespace)', "
                        + "expected <stream> in '\(streamNamespaceURI)' \(position())"))
            return
        }
        depth = 1
        streamOpen = true
        // The cursor is on the header's closing `>`; the first stanza may start right after it.
        stanzaStart = currentOffset() + 1
        let header = XMLElement(
            name: name, namespace: namespace,
            attributes: makeAttributes(count: attributeCount, attributes), children: [])
        events.append(.streamOpened(header))
    }

    /// SAX2 hands attributes as five pointers each: localname, prefix, URI, value start, value end.
    /// Values are not NUL-terminated, and with XML_PARSE_NOENT their entities are already decoded.
    private mutating func makeAttributes(
        count: Int,
        _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?
    ) -> [XMLAttribute] {
        guard count > 0, let attributes else { return [] }
        var result: [XMLAttribute] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            let fields = attributes + index * 5
            guard let localname = fields[0], let start = fields[3], let end = fields[4] else { continue }
            let value = String(decoding: UnsafeBufferPointer(start: start, count: end - start), as: UTF8.self)
            let name = names.string(localname, context: context)
            let namespace = fields[2].map { names.string($0, context: context) } ?? ""
            result.append(XMLAttribute(name: name, namespace: namespace, value: value))
        }
        return result
    }

    private mutating func flushText() {
        nodes.push(.text(pendingText))
        pendingText = ""
        hasPendingText = false
    }

    private func currentOffset() -> Int {
        guard let context else { return 0 }
        return Int(jk_xml_input_offset(context))
    }

    private func position() -> String {
        guard let context else { return "" }
        let raw = UnsafeMutableRawPointer(context)
        return "(line \(xmlSAX2GetLineNumber(raw)), column \(xmlSAX2GetColumnNumber(raw)))"
    }

    private mutating func fail(_ error: XMLStreamError) {
        failure = error
        if let context { xmlStopParser(context) }
    }
}
