import Jingle
import XMLStream
import XMPPCore

/// The JSON form of the Jingle models (the shape is documented in docs/jingle-harness-reference.md):
/// a struct is an object keyed by its property names, leaving out nil, empty lists and false;
/// an enum is its raw value (e.g. `"session-initiate"`), its case name, or `{case: payload}`
/// when it carries one; JIDs and content names are strings, reason conditions their XEP-0166
/// element names, timestamps XEP-0082 UTC strings, unknown XML its serialised text.
enum ModelJSON {
    static func value(_ any: Any) -> JSONValue? {
        switch any {
        case let s as String: return .string(s)
        case let b as Bool: return .bool(b)
        case let i as any BinaryInteger: return .number(Int64(i))
        case let j as JID: return .string(j.description)
        case let n as ContentName: return .string(n.rawValue)
        case let d as XMPPDateTime: return .string(d.description)
        case let c as ReasonCondition:
            if case .alternativeSession(let sid) = c { return .object([c.name: .object(["sid": .string(sid)])]) }
            return .string(c.name)
        case let e as XMLElement: return .string(XMLSerializer.serialize(e))
        case let a as XMLAttribute:
            var o: [String: JSONValue] = ["name": .string(a.name), "value": .string(a.value)]
            if !a.namespace.isEmpty { o["namespace"] = .string(a.namespace) }
            return .object(o)
        case let r as any RawRepresentable:
            if let s = r.rawValue as? String { return .string(s) }
        default: break
        }
        let m = Mirror(reflecting: any)
        switch m.displayStyle {
        case .optional:
            return m.children.first.flatMap { value($0.value) }
        case .collection, .set:
            let items = m.children.compactMap { value($0.value) }
            return items.isEmpty ? nil : .array(items)
        case .enum:
            guard let payload = m.children.first else { return .string(String(describing: any)) }
            let name = payload.label ?? String(describing: any)
            return .object([name: value(payload.value) ?? .bool(true)])
        case .tuple:
            var o: [String: JSONValue] = [:]
            for (i, c) in m.children.enumerated() { o[c.label ?? String(i)] = value(c.value) }
            return .object(o)
        default:
            var o: [String: JSONValue] = [:]
            for c in m.children {
                guard let label = c.label, let v = value(c.value) else { continue }
                if v == .bool(false) { continue }
                o[label] = v
            }
            return .object(o)
        }
    }
}
