import Foundation
import Jingle
import XMLStream
import XMPPCore

/// Renders the Jingle models as JSON by reflection: structs become objects, enums their raw
/// value or `{case: payload}`, JIDs strings, unknown XML its serialised text; nil and empty
/// values are left out.
enum ModelJSON {
    static func render(_ value: Any) -> String {
        let object = convert(value) ?? [String: Any]()
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]),
              let s = String(data: data, encoding: .utf8) else { return "{}" }
        return s
    }

    static func convert(_ value: Any) -> Any? {
        switch value {
        case let s as String: return s
        case let b as Bool: return b
        case let i as any BinaryInteger: return Int64(i)
        case let j as JID: return j.description
        case let n as ContentName: return n.rawValue
        case let e as XMLElement: return XMLSerializer.serialize(e)
        case let a as XMLAttribute: return ["name": a.name, "namespace": a.namespace, "value": a.value].filter { !$0.value.isEmpty }
        case let r as any RawRepresentable: return r.rawValue as? String
        case let d as [String: Any]:
            var o: [String: Any] = [:]
            for (k, v) in d { o[k] = convert(v) }
            return o
        default: break
        }
        let m = Mirror(reflecting: value)
        switch m.displayStyle {
        case .optional:
            return m.children.first.flatMap { convert($0.value) }
        case .collection, .set:
            let items = m.children.compactMap { convert($0.value) }
            return items.isEmpty ? nil : items
        case .enum:
            let name = "\(value)".split(separator: "(").first.map(String.init) ?? "\(value)"
            guard let payload = m.children.first else { return name }
            return [name: convert(payload.value) ?? true]
        case .tuple:
            var o: [String: Any] = [:]
            for (i, c) in m.children.enumerated() { o[c.label ?? "\(i)"] = convert(c.value) }
            return o
        default:
            var o: [String: Any] = [:]
            for c in m.children {
                guard let label = c.label, let v = convert(c.value) else { continue }
                if let b = v as? Bool, b == false { continue }
                o[label] = v
            }
            return o
        }
    }
}
