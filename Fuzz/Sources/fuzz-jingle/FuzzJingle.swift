import FuzzSupport
import Jingle
import XMLStream
import XMPPCore

/// Fuzzes the Jingle wire parsers: XEP-0166 `<jingle/>` (with every XEP-0167/0176/0177/0293/
/// 0294/0320/0338/0339 payload it contains) and XEP-0353 JMI messages.
///
/// The input is stanza XML, parsed inside a `jabber:client` stream header. Every depth-1 element,
/// and each of its children, goes through `JingleElement(element:)` and `JingleMessage(element:)`;
/// `<iq/>` also through `IQ(element:)` + `JingleElement(iq:)` and `<message/>` through
/// `JingleMessage.find(in:)`. Asserted: no crash or sanitizer report (bad input is a thrown
/// `JingleParseError`), and every model that parses survives serialise -> XML stream parse ->
/// parse unchanged (`==`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJingle(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let stanzas = parseStanzas(fuzzInput(data, size)) else { return 0 }
    for stanza in stanzas {
        for candidate in [stanza] + stanza.elements {
            if let j = try? JingleElement(element: candidate) {
                roundTrip(j, j.element) { e throws(JingleParseError) in try JingleElement(element: e) }
            }
            if let m = try? JingleMessage(element: candidate) {
                roundTrip(m, m.element) { e throws(JingleParseError) in try JingleMessage(element: e) }
            }
        }
        if let iq = IQ(element: stanza), let j = try? JingleElement(iq: iq) {
            let wrapped = j.iq(id: iq.id, from: iq.from, to: iq.to).element
            roundTrip(j, wrapped) { e throws(JingleParseError) in
                guard let again = IQ(element: e) else { fuzzFailure("re-read <iq/> is no IQ: \(e)") }
                return try JingleElement(iq: again)
            }
        }
        if let m = try? JingleMessage.find(in: stanza) {
            roundTrip(m, m.element) { e throws(JingleParseError) in try JingleMessage(element: e) }
        }
    }
    return 0
}

/// Serialises `element` (the model's XML), reads it back through the stream parser and `parse`,
/// and requires the same model.
private func roundTrip<Model: Equatable>(_ model: Model, _ element: XMLElement,
                                         _ parse: (XMLElement) throws(JingleParseError) -> Model) {
    let text = XMLSerializer.serialize(element, parentNamespace: "jabber:client")
    guard let reread = parseStanzas(Array(text.utf8)), reread.count == 1 else {
        fuzzFailure("serialised \(Model.self) is not one well-formed stanza:\n\(text)")
    }
    do {
        let again = try parse(reread[0])
        fuzzCheck(again == model, "\(Model.self) changed in a round trip\n  before: \(model)\n  after:  \(again)\n  xml: \(text)")
    } catch {
        fuzzFailure("serialised \(Model.self) no longer parses: \(error)\n  xml: \(text)")
    }
}
