internal import CLibXML2

/// Incremental parser for an XMPP stream (RFC 6120 §4): bytes in, stream events out.
///
/// Wraps one libxml2 SAX2 push-parser context. Each `feed` returns the events completed by those
/// bytes: a stanza is reported by the call that delivers its closing `>`, with namespaces resolved
/// into `XMLElement` trees whatever prefixes the sender used. RFC 6120 §11.1's restrictions are
/// enforced (no DTD, no entity declarations or undeclared entity references, no processing
/// instructions other than the XML declaration, no comments), as are `XMLStreamLimits`.
///
/// Character data directly inside the stream root (whitespace keepalives between stanzas) is not
/// reported; text inside stanzas is kept exactly, CDATA sections as plain text.
///
/// After an error the parser stays failed, and every further `feed` throws the same error, until
/// `reset()`. Events completed earlier in the failing call are dropped: the stream is dead anyway.
/// Not thread-safe: one owner feeds it.
public final class XMLStreamParser {
    public let limits: XMLStreamLimits
    private var builder: StreamTreeBuilder
    private var context: xmlParserCtxtPtr?
    private var fedBytes = 0
    private var failure: XMLStreamError?

    public init(limits: XMLStreamLimits = .init()) {
        self.limits = limits
        builder = StreamTreeBuilder(limits: limits)
        context = Self.makeContext(for: builder)
    }

    deinit {
        if let context { xmlFreeParserCtxt(context) }
    }

    /// True between `<stream:stream>` and `</stream:stream>`.
    public var isStreamOpen: Bool { builder.state.pointee.streamOpen }

    /// Starts over with a fresh libxml2 context, as a stream restart needs (RFC 6120 §5.4.3.3 after
    /// STARTTLS, §6.4.6 after SASL). Clears any failure.
    public func reset() {
        if let context { xmlFreeParserCtxt(context) }
        context = nil
        builder = StreamTreeBuilder(limits: limits)
        context = Self.makeContext(for: builder)
        fedBytes = 0
        failure = nil
    }

    /// Parses the next bytes of the stream and returns the events they complete.
    public func feed<C: Collection<UInt8>>(_ bytes: C) throws(XMLStreamError) -> [XMLStreamEvent] {
        if let failure { throw failure }
        let result =
            bytes.withContiguousStorageIfAvailable { feedBuffer($0) }
            ?? Array(bytes).withUnsafeBufferPointer { feedBuffer($0) }
        return try result.get()
    }

    /// Parses the UTF-8 of `string`; see `feed(_:)`.
    public func feed(_ string: String) throws(XMLStreamError) -> [XMLStreamEvent] {
        try feed(string.utf8)
    }

    private func feedBuffer(_ buffer: UnsafeBufferPointer<UInt8>) -> Result<[XMLStreamEvent], XMLStreamError> {
        guard let context else {
            return .failure(fail(.notWellFormed(detail: "libxml2 could not create a parser context")))
        }
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return .success([]) }
        var offset = 0
        while offset < buffer.count {
            let size = min(buffer.count - offset, 1 << 30)
            let status = (base + offset).withMemoryRebound(to: CChar.self, capacity: size) {
                xmlParseChunk(context, $0, Int32(size), 0)
            }
            offset += size
            fedBytes += size
            if let error = builder.state.pointee.failure { return .failure(fail(error)) }
            if status != 0 {
                return .failure(fail(.notWellFormed(detail: "libxml2 stopped with error \(status)")))
            }
        }
        let state = builder.state
        if !state.pointee.streamClosed, fedBytes - state.pointee.stanzaStart > limits.maxStanzaBytes {
            return .failure(fail(.stanzaTooLarge(limit: limits.maxStanzaBytes)))
        }
        return .success(state.pointee.takeEvents())
    }

    private func fail(_ error: XMLStreamError) -> XMLStreamError {
        failure = error
        if let context { xmlStopParser(context) }
        return error
    }

    private static func makeContext(for builder: StreamTreeBuilder) -> xmlParserCtxtPtr? {
        var handler = makeSAXHandler()
        let userData = Unmanaged.passUnretained(builder).toOpaque()
        guard let context = xmlCreatePushParserCtxt(&handler, userData, nil, 0, nil) else { return nil }
        // NONET: never fetch anything. NOENT: decode entities in attribute values (otherwise libxml2
        // hands them back re-escaped); safe only because DTDs, hence entity declarations, are refused.
        // IGNORE_ENC: XMPP is UTF-8 only (RFC 6120 §11.6), so an encoding declaration switches nothing.
        let options = Int32(XML_PARSE_NONET.rawValue | XML_PARSE_NOENT.rawValue | XML_PARSE_IGNORE_ENC.rawValue)
        xmlCtxtUseOptions(context, options)
        builder.state.pointee.context = context
        return context
    }
}
