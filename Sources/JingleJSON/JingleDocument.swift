import Jingle
import XMLStream
import XMPPCore

/// Why a document could not be decoded or mapped; each case says what was wrong.
public enum JingleDocumentError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text is not one well-formed XML element.
    case invalidXML(String)
    /// The element is neither a Jingle IQ (XEP-0166), a `<jingle/>` nor a JMI message (XEP-0353).
    case notJingle(element: String, namespace: String)
    /// The Jingle or JMI payload breaks its XEP.
    case invalidJingle(JingleParseError)
    /// The SDP text breaks RFC 8866 or has no Jingle mapping.
    case invalidSDP(SDPParseError)
    /// SDP was asked of a document without a Jingle action (a JMI message).
    case noSDP(String)

    public var description: String {
        switch self {
        case .invalidXML(let why): "invalid XML: \(why)"
        case let .notJingle(element, namespace): "not a Jingle IQ or JMI message: <\(element) xmlns='\(namespace)'>"
        case .invalidJingle(let e): "invalid Jingle: \(e)"
        case .invalidSDP(let e): "invalid SDP: \(e)"
        case .noSDP(let why): why
        }
    }
}

/// One signalling document as `jingle-harness decode` reads it: a Jingle IQ (XEP-0166 §7), a bare
/// `<jingle/>`, or a message carrying a JMI payload (XEP-0353 §3) with its XEP-0203 delay; with
/// its stable JSON form and the SDP it maps to (XEP-0167 §6).
public struct JingleDocument: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case iq, jingle, message
    }

    public var kind: Kind
    public var from: JID?
    public var to: JID?
    /// The stanza's `id`, if any.
    public var id: String?
    /// The stanza's `type` (`set` for a Jingle IQ; `chat` etc. for messages), if any.
    public var type: String?
    /// The Jingle action of an IQ or bare `<jingle/>`.
    public var jingle: JingleElement?
    /// The JMI payload of a message.
    public var jingleMessage: JingleMessage?
    /// The earliest XEP-0203 delay of a message.
    public var delay: Delay?

    public init(
        kind: Kind, from: JID? = nil, to: JID? = nil, id: String? = nil, type: String? = nil,
        jingle: JingleElement? = nil, jingleMessage: JingleMessage? = nil, delay: Delay? = nil
    ) {
        self.kind = kind
        self.from = from
        self.to = to
        self.id = id
        self.type = type
        self.jingle = jingle
        self.jingleMessage = jingleMessage
        self.delay = delay
    }

    /// Reads one element of XML text as if it arrived in a `jabber:client` stream (an XML
    /// declaration and a byte-order mark are skipped).
    public static func element(xml: String) throws(JingleDocumentError) -> XMLElement {
        var body = Substring(xml)
        if body.hasPrefix("\u{FEFF}") { body = body.dropFirst() }
        body = body.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        if body.hasPrefix("<?xml"), let end = body.firstRange(of: "?>") { body = body[end.upperBound...] }
        let parser = XMLStreamParser()
        var events: [XMLStreamEvent] = []
        do {
            events += try parser.feed("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
            events += try parser.feed(String(body))
            events += try parser.feed("</stream:stream>")
        } catch {
            throw .invalidXML(error.description)
        }
        let elements = events.compactMap { if case .element(let e) = $0 { e } else { nil } }
        guard elements.count == 1 else { throw .invalidXML("expected one element, found \(elements.count)") }
        return elements[0]
    }

    /// Decodes a Jingle IQ, a `<jingle/>` or a JMI message from XML text.
    public static func decode(xml: String) throws(JingleDocumentError) -> JingleDocument {
        try decode(element: element(xml: xml))
    }

    /// Decodes a Jingle IQ, a `<jingle/>` or a JMI message.
    public static func decode(element e: XMLElement) throws(JingleDocumentError) -> JingleDocument {
        do {
            switch (e.namespace, e.name) {
            case (XMPPNamespace.client, "iq"):
                guard let iq = IQ(element: e) else { throw JingleDocumentError.invalidXML("<iq/> without a valid id, type, from or to") }
                guard let payload = iq.payload, payload.name == "jingle", payload.namespace == JingleNamespace.jingle else {
                    throw JingleDocumentError.notJingle(element: iq.payload?.name ?? "iq", namespace: iq.payload?.namespace ?? e.namespace)
                }
                return JingleDocument(
                    kind: .iq, from: iq.from, to: iq.to, id: iq.id, type: iq.type.rawValue,
                    jingle: try JingleElement(element: payload))
            case (XMPPNamespace.client, "message"):
                guard let m = try JingleMessage.find(in: e) else {
                    throw JingleDocumentError.notJingle(element: "message", namespace: e.namespace)
                }
                var from: JID? = nil
                if let raw = e.attribute("from") {
                    guard let j = JID(raw) else {
                        throw JingleDocumentError.invalidJingle(.invalidAttribute(element: "message", attribute: "from", value: raw))
                    }
                    from = j
                }
                var to: JID? = nil
                if let raw = e.attribute("to") {
                    guard let j = JID(raw) else {
                        throw JingleDocumentError.invalidJingle(.invalidAttribute(element: "message", attribute: "to", value: raw))
                    }
                    to = j
                }
                return JingleDocument(
                    kind: .message, from: from, to: to, id: e.attribute("id"), type: e.attribute("type"),
                    jingleMessage: m, delay: Delay.earliest(in: [e]))
            case (JingleNamespace.jingle, "jingle"):
                return JingleDocument(kind: .jingle, jingle: try JingleElement(element: e))
            default:
                throw JingleDocumentError.notJingle(element: e.name, namespace: e.namespace)
            }
        } catch let error as JingleDocumentError {
            throw error
        } catch let error as JingleParseError {
            throw .invalidJingle(error)
        } catch {
            throw .invalidXML("\(error)")
        }
    }

    /// The JSON form: `kind`, the envelope (`from`, `to`, `id`, `type` when present) and `jingle`
    /// or `jingleMessage` (+ `delay`), keys sorted (docs/jingle-harness-reference.md).
    public var json: JSONValue {
        var o: [String: JSONValue] = ["kind": .string(kind.rawValue)]
        if let from { o["from"] = .string(from.description) }
        if let to { o["to"] = .string(to.description) }
        if let id { o["id"] = .string(id) }
        if let type { o["type"] = .string(type) }
        if let jingle { o["jingle"] = ModelJSON.value(jingle) }
        if let jingleMessage { o["jingleMessage"] = ModelJSON.value(jingleMessage) }
        if let delay { o["delay"] = ModelJSON.value(delay) }
        return .object(o)
    }

    /// The whose-description default: the responder for session-accept/content-accept, else the initiator.
    public static func defaultParty(for action: JingleAction) -> Creator {
        action == .sessionAccept || action == .contentAccept ? .responder : .initiator
    }

    /// The SDP of the Jingle action's RTP contents as `party` describes them (default: see `defaultParty`).
    public func sdp(party: Creator? = nil) throws(JingleDocumentError) -> SessionDescription {
        guard let jingle else {
            throw .noSDP("SDP needs a Jingle action; this is a JMI <\(jingleMessage?.action.rawValue ?? kind.rawValue)/> message")
        }
        return SDPMapping.sessionDescription(from: jingle, party: party ?? Self.defaultParty(for: jingle.action))
    }

    /// Maps SDP text to the Jingle IQ set carrying `action` (id `<sid>-1`), with the lines that
    /// have no Jingle form.
    public static func fromSDP(
        _ text: String, action: JingleAction = .sessionInitiate, sid: String = "harness",
        party: Creator? = nil
    ) throws(JingleDocumentError) -> (iq: IQ, unmappedLines: [UnmappedSDPLine]) {
        do {
            let description = try SessionDescription(parsing: text)
            let r = try SDPMapping.map(description, action: action, sid: sid, party: party ?? defaultParty(for: action))
            return (r.jingle.iq(id: sid + "-1", to: nil), r.unmappedLines)
        } catch {
            throw .invalidSDP(error)
        }
    }
}
