/// Why a Jingle (XEP-0166 and extensions) or JMI (XEP-0353) payload could not be read; each case
/// names the element and what was wrong with it.
public enum JingleParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The element is not the one expected (`expected` is `name` in `namespace`).
    case unexpectedElement(expected: String, namespace: String, found: String, foundNamespace: String)
    /// A required attribute is absent.
    case missingAttribute(element: String, attribute: String)
    /// An attribute has a value outside its type or enumeration.
    case invalidAttribute(element: String, attribute: String, value: String)
    /// A required child element is absent.
    case missingChild(element: String, child: String)
    /// A child element is present where the specification does not allow it, or has unusable content.
    case invalidChild(element: String, child: String, detail: String)
    /// The element's text content is not valid for it.
    case invalidText(element: String, text: String)

    public var description: String {
        switch self {
        case let .unexpectedElement(expected, ns, found, foundNS):
            "expected <\(expected)/> in '\(ns)', found <\(found)/> in '\(foundNS)'"
        case let .missingAttribute(element, attribute):
            "\(element) missing '\(attribute)'"
        case let .invalidAttribute(element, attribute, value):
            "\(element) has invalid '\(attribute)' value '\(value)'"
        case let .missingChild(element, child):
            "\(element) missing <\(child)/>"
        case let .invalidChild(element, child, detail):
            "\(element) has invalid <\(child)/>: \(detail)"
        case let .invalidText(element, text):
            "\(element) has invalid text '\(text)'"
        }
    }
}
