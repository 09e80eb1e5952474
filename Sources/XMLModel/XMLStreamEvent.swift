/// What the streaming parser reports for an XMPP stream (RFC 6120 §4): the opening of the stream
/// header, each complete top-level child (a stanza or a stream-level element), and the close.
public enum XMLStreamEvent: Sendable, Hashable {
    /// `<stream:stream ...>` was opened; the element carries its name, namespace and attributes, no children.
    case streamOpened(XMLElement)
    /// A complete depth-1 child of the stream: a stanza, `<stream:features/>`, `<stream:error/>`, SASL, TLS...
    case element(XMLElement)
    /// `</stream:stream>` was read.
    case streamClosed
}

/// Why the parser gave up, mapped to the RFC 6120 §4.9.3 stream error condition to send.
public enum XMLStreamError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The bytes are not well-formed XML (`not-well-formed`); `detail` is libxml2's message with line and column.
    case notWellFormed(detail: String)
    /// A DTD, entity declaration, entity reference or processing instruction (`restricted-xml`).
    case restrictedXML(detail: String)
    /// A stanza larger than the configured limit (`policy-violation`).
    case stanzaTooLarge(limit: Int)
    /// Elements nested deeper than the configured limit (`policy-violation`).
    case tooDeep(limit: Int)
    /// The root element is not `stream` in `http://etherx.jabber.org/streams` (`invalid-namespace`).
    case invalidStreamHeader(detail: String)

    /// The RFC 6120 §4.9.3 defined condition this error is answered with.
    public var streamErrorCondition: String {
        switch self {
        case .notWellFormed: "not-well-formed"
        case .restrictedXML: "restricted-xml"
        case .stanzaTooLarge, .tooDeep: "policy-violation"
        case .invalidStreamHeader: "invalid-namespace"
        }
    }

    public var description: String {
        switch self {
        case .notWellFormed(let d): "XML is not well-formed: \(d)"
        case .restrictedXML(let d): "restricted XML refused: \(d)"
        case .stanzaTooLarge(let limit): "stanza larger than the \(limit)-byte limit"
        case .tooDeep(let limit): "XML nested deeper than the limit of \(limit) levels"
        case .invalidStreamHeader(let d): "invalid stream header: \(d)"
        }
    }
}

/// Bounds the parser enforces on untrusted input.
public struct XMLStreamLimits: Sendable, Hashable {
    /// Largest stanza, in bytes of input, from its `<` to its closing `>`.
    public var maxStanzaBytes: Int
    /// Deepest nesting counted from the stream root (the root is depth 0, a stanza depth 1).
    public var maxDepth: Int

    public init(maxStanzaBytes: Int = 512 * 1024, maxDepth: Int = 64) {
        self.maxStanzaBytes = maxStanzaBytes
        self.maxDepth = maxDepth
    }
}
