import CLibXML2

/// The SAX2 callback table for `StreamTreeBuilder`. The callbacks are plain C function pointers
/// without captures; each finds its builder through the context's user data.
func makeSAXHandler() -> xmlSAXHandler {
    var handler = xmlSAXHandler()
    handler.initialized = jk_xml_sax2_magic()
    handler.startElementNs = { userData, localname, prefix, uri, _, _, attributeCount, _, attributes in
        guard let builder = builder(userData), let localname else { return }
        builder.startElement(localname: localname, prefix: prefix, uri: uri,
                             attributeCount: Int(attributeCount), attributes: attributes)
    }
    handler.endElementNs = { userData, _, _, _ in
        builder(userData)?.endElement()
    }
    let characters: charactersSAXFunc = { userData, bytes, count in
        guard let builder = builder(userData), let bytes, count > 0 else { return }
        builder.characters(bytes, count: Int(count))
    }
    handler.characters = characters
    handler.ignorableWhitespace = characters
    handler.cdataBlock = characters
    handler.internalSubset = { userData, name, _, _ in
        let what = name.map { String(cString: $0) } ?? ""
        builder(userData)?.refuse("DOCTYPE \(what): XMPP forbids DTDs")
    }
    handler.externalSubset = { userData, _, _, _ in
        builder(userData)?.refuse("external DTD subset: XMPP forbids DTDs")
    }
    handler.entityDecl = { userData, name, _, _, _, _ in
        let what = name.map { String(cString: $0) } ?? ""
        builder(userData)?.refuse("entity declaration \(what): XMPP forbids them")
    }
    handler.processingInstruction = { userData, target, _ in
        let what = target.map { String(cString: $0) } ?? ""
        builder(userData)?.refuse("processing instruction <?\(what)?>: XMPP forbids them")
    }
    handler.comment = { userData, _ in
        builder(userData)?.refuse("comment: XMPP forbids them")
    }
    handler.serror = { userData, error in
        guard let error else { return }
        builder(userData)?.libxmlError(error.pointee)
    }
    return handler
}

@inline(__always)
private func builder(_ userData: UnsafeMutableRawPointer?) -> StreamTreeBuilder? {
    guard let userData else { return nil }
    return Unmanaged<StreamTreeBuilder>.fromOpaque(userData).takeUnretainedValue()
}
