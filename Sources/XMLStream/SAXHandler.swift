internal import CLibXML2

/// The SAX2 callback table for `StreamTreeBuilder`. The callbacks are plain C function pointers
/// without captures; each finds its builder through the context's user data.
func makeSAXHandler() -> xmlSAXHandler {
    var handler = xmlSAXHandler()
    handler.initialized = jk_xml_sax2_magic()
    handler.startElementNs = { userData, localname, prefix, uri, _, _, attributeCount, _, attributes in
        guard let localname else { return }
        withState(userData) {
            $0.startElement(
                localname: localname, prefix: prefix, uri: uri,
                attributeCount: Int(attributeCount), attributes: attributes)
        }
    }
    handler.endElementNs = { userData, _, _, _ in
        withState(userData) { $0.endElement() }
    }
    let characters: charactersSAXFunc = { userData, bytes, count in
        guard let bytes, count > 0 else { return }
        withState(userData) { $0.characters(bytes, count: Int(count)) }
    }
    handler.characters = characters
    handler.ignorableWhitespace = characters
    handler.cdataBlock = characters
    handler.internalSubset = { userData, name, _, _ in
        let what = name.map { String(cString: $0) } ?? ""
        withState(userData) { $0.refuse("DOCTYPE \(what): XMPP forbids DTDs") }
    }
    handler.externalSubset = { userData, _, _, _ in
        withState(userData) { $0.refuse("external DTD subset: XMPP forbids DTDs") }
    }
    handler.entityDecl = { userData, name, _, _, _, _ in
        let what = name.map { String(cString: $0) } ?? ""
        withState(userData) { $0.refuse("entity declaration \(what): XMPP forbids them") }
    }
    handler.processingInstruction = { userData, target, _ in
        let what = target.map { String(cString: $0) } ?? ""
        withState(userData) { $0.refuse("processing instruction <?\(what)?>: XMPP forbids them") }
    }
    handler.comment = { userData, _ in
        withState(userData) { $0.refuse("comment: XMPP forbids them") }
    }
    handler.serror = { userData, error in
        guard let error else { return }
        withState(userData) { $0.libxmlError(error.pointee) }
    }
    return handler
}

/// Runs `body` on the state of the `StreamTreeBuilder` behind `userData`, without retaining it:
/// the parser that owns both the builder and the context keeps the builder alive during parsing.
@inline(__always)
private func withState(_ userData: UnsafeMutableRawPointer?, _ body: (inout StreamTreeState) -> Void) {
    guard let userData else { return }
    Unmanaged<StreamTreeBuilder>.fromOpaque(userData)._withUnsafeGuaranteedRef { body(&$0.state.pointee) }
}
