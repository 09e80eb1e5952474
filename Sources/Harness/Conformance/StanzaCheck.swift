import Jingle
import XMLStream

/// One data-described assertion on stanzas a conformance scenario kept (`keep='name'`).
/// Paths are `StanzaPath`s (`element@attribute`, the first such element depth-first).
public enum StanzaCheck: Sendable, Hashable {
    /// The kept stanza has a non-empty value at `path`.
    case present(_ stanza: String, _ path: String)
    /// The value at `path` is at least `length` characters long.
    case minLength(_ stanza: String, _ path: String, _ length: Int)
    /// The value at `path` is one of `values` (compared without regard to case).
    case oneOf(_ stanza: String, _ path: String, _ values: [String])
    /// The text at `path` is colon-separated hex byte pairs (RFC 8122 §5 fingerprint syntax).
    case hexPairs(_ stanza: String, _ path: String)
    /// Some `element` in the stanza has all these attribute values (compared without regard to case).
    case containsElement(_ stanza: String, _ element: String, _ attributes: [String: String])
    /// Every `element` in `stanza` matches one in `reference` on `keys` (a missing attribute
    /// counts as its value in `defaults`): an answer holds only what was offered.
    case subset(_ stanza: String, of: String, _ element: String, keys: [String], defaults: [String: String])
    /// Every `<candidate/>` received (the call's transcript) carries the
    /// attributes XEP-0176 §5.3 requires, with values of the right shape, and there is at least one.
    case candidatesWellFormed
    /// `stanza` arrived before `other` did, if `other` arrived at all.
    case before(_ stanza: String, _ other: String)

    /// The kept stanzas this check reads.
    public var stanzas: [String] {
        switch self {
        case .present(let s, _), .minLength(let s, _, _), .oneOf(let s, _, _), .hexPairs(let s, _),
            .containsElement(let s, _, _):
            [s]
        case .subset(let s, let reference, _, _, _): [s, reference]
        case .candidatesWellFormed: []
        case .before(let s, _): [s]
        }
    }

    /// Evaluates the check: nil when it holds, else what was wrong and the stanza that shows it.
    public func failure(kept: [String: XMLElement], transcript: [XMLElement]) -> (cause: String, detail: String, stanza: XMLElement?)? {
        switch self {
        case .present(let name, let path):
            guard let stanza = kept[name] else { return Self.absent(name) }
            if let value = Self.value(path, in: stanza), !value.isEmpty { return nil }
            return ("missing:\(path)", "the \(name) has no \(path)", stanza)
        case .minLength(let name, let path, let length):
            guard let stanza = kept[name] else { return Self.absent(name) }
            guard let value = Self.value(path, in: stanza) else { return ("missing:\(path)", "the \(name) has no \(path)", stanza) }
            if value.count >= length { return nil }
            return ("short:\(path)", "\(path) in the \(name) has \(value.count) characters, fewer than \(length)", stanza)
        case .oneOf(let name, let path, let values):
            guard let stanza = kept[name] else { return Self.absent(name) }
            guard let value = Self.value(path, in: stanza) else { return ("missing:\(path)", "the \(name) has no \(path)", stanza) }
            if values.contains(where: { $0.lowercased() == value.lowercased() }) { return nil }
            return ("value:\(path)", "\(path) is '\(value)' in the \(name), expected one of \(values.joined(separator: ", "))", stanza)
        case .hexPairs(let name, let path):
            guard let stanza = kept[name] else { return Self.absent(name) }
            guard let value = Self.value(path, in: stanza) else { return ("missing:\(path)", "the \(name) has no \(path)", stanza) }
            let pairs = value.split(separator: ":", omittingEmptySubsequences: false)
            if !pairs.isEmpty, pairs.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isHexDigit) }) { return nil }
            return ("syntax:\(path)", "\(path) '\(value.prefix(40))' is not colon-separated hex pairs", stanza)
        case .containsElement(let name, let element, let attributes):
            guard let stanza = kept[name] else { return Self.absent(name) }
            let found = Self.all(element, in: stanza).contains { e in
                attributes.allSatisfy { e.attribute($0.key)?.lowercased() == $0.value.lowercased() }
            }
            if found { return nil }
            let wanted = attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            return ("missing:\(element)", "the \(name) has no <\(element) \(wanted)/>", stanza)
        case .subset(let name, let referenceName, let element, let keys, let defaults):
            guard let stanza = kept[name] else { return Self.absent(name) }
            guard let reference = kept[referenceName] else { return Self.absent(referenceName) }
            func signature(_ e: XMLElement) -> [String] {
                keys.map { (e.attribute($0) ?? defaults[$0] ?? "").lowercased() }
            }
            let allowed = Set(Self.all(element, in: reference).map(signature))
            let extra = Self.all(element, in: stanza).filter { !allowed.contains(signature($0)) }
            if extra.isEmpty { return nil }
            let list = extra.map { signature($0).joined(separator: "/") }.joined(separator: ", ")
            return ("unoffered:\(element)", "the \(name) has \(element) not in the \(referenceName): \(list)", stanza)
        case .candidatesWellFormed:
            var seen = 0
            for stanza in transcript {
                for candidate in Self.all("candidate", in: stanza) where candidate.namespace == JingleNamespace.iceUDP {
                    seen += 1
                    if let problem = CandidateShape.problem(candidate) {
                        return ("malformed:candidate", "candidate \(candidate.attribute("id") ?? "?"): \(problem)", stanza)
                    }
                }
            }
            if seen > 0 { return nil }
            return ("missing:candidate", "no ICE-UDP candidate arrived in the answer or in transport-info", kept["answer"])
        case .before(let name, let other):
            return Self.order(name, before: other, kept: kept, transcript: transcript)
        }
    }

    private static func order(
        _ name: String, before otherName: String, kept: [String: XMLElement],
        transcript: [XMLElement]
    ) -> (cause: String, detail: String, stanza: XMLElement?)? {
        guard let stanza = kept[name] else { return absent(name) }
        guard let other = kept[otherName], let j = transcript.firstIndex(of: other) else { return nil }
        if let i = transcript.firstIndex(of: stanza), i < j { return nil }
        return ("order:\(name)", "the \(name) arrived after the \(otherName)", stanza)
    }

    private static func absent(_ name: String) -> (cause: String, detail: String, stanza: XMLElement?) {
        ("missing:\(name)", "no \(name) was received", nil)
    }

    static func value(_ path: String, in stanza: XMLElement) -> String? {
        StanzaPath(path)?.value(in: stanza)
    }

    /// Every element named `name` in `element` (itself included), depth-first.
    static func all(_ name: String, in element: XMLElement) -> [XMLElement] {
        var found: [XMLElement] = element.name == name ? [element] : []
        for child in element.elements { found += all(name, in: child) }
        return found
    }
}

/// The attribute rules of an ICE-UDP `<candidate/>` (XEP-0176 §5.3 and its schema; RFC 8445 §5.1.2
/// for the priority range).
enum CandidateShape {
    static let required = ["component", "foundation", "generation", "id", "ip", "port", "priority", "protocol", "type"]

    static func problem(_ c: XMLElement) -> String? {
        for name in required where (c.attribute(name) ?? "").isEmpty { return "no \(name)" }
        guard let component = Int(c.attribute("component") ?? ""), (1...255).contains(component) else { return "component is not 1-255" }
        guard let generation = Int(c.attribute("generation") ?? ""), (0...255).contains(generation) else {
            return "generation is not 0-255"
        }
        guard let port = Int(c.attribute("port") ?? ""), (0...65535).contains(port) else { return "port is not 0-65535" }
        guard let priority = UInt64(c.attribute("priority") ?? ""), (1...UInt64(Int32.max)).contains(priority) else {
            return "priority is not 1 to 2^31-1"
        }
        guard ["udp", "tcp"].contains((c.attribute("protocol") ?? "").lowercased()) else { return "protocol is not udp or tcp" }
        guard ["host", "prflx", "srflx", "relay"].contains(c.attribute("type") ?? "") else {
            return "type is not host, prflx, srflx or relay"
        }
        let ip = c.attribute("ip") ?? ""
        let v4 = ip.split(separator: ".", omittingEmptySubsequences: false)
        let isV4 = v4.count == 4 && v4.allSatisfy { UInt8($0) != nil }
        let isV6 = ip.contains(":") && ip.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
        guard isV4 || isV6 || ip.hasSuffix(".local") else { return "ip '\(ip)' is not an IP address" }
        return nil
    }
}
