import XMLStream

/// A jingle-harness scenario: the script one party follows for one call, in the manner of
/// SIPp's XML scenarios, applied to Jingle (XEP-0166) and Jingle Message Initiation (XEP-0353).
/// See docs/jingle-harness-scenarios.md for the file format.
public struct Scenario: Sendable, Hashable {
    /// Which side of the call a scenario plays (XEP-0166 §3: initiator and responder).
    public enum Role: String, Sendable, Hashable, CaseIterable {
        case initiator, responder
    }

    public var name: String
    public var role: Role
    /// Name of the scenario the other side should run when one process plays both roles.
    public var peer: String?
    /// Timeout for an `<expect>` that names none, in milliseconds.
    public var defaultTimeoutMS: Int
    /// The flattened program: loops and groups are already compiled into jumps.
    public var instructions: [Instruction]
    /// Label name to instruction index.
    public var labels: [String: Int]
    /// `<ignore>` patterns: a stanza no current step wants that matches one of these is dropped
    /// (an IQ get/set among them is answered with a result; with `keep` the first is kept) instead
    /// of failing the call.
    public var ignores: [Expectation]
    /// Endpoints running this scenario enable XEP-0280 carbons at login, so they see the messages
    /// their account's other devices send and receive (a multi-device callee sees its sibling's
    /// `<proceed/>`).
    public var carbons: Bool

    public init(
        name: String, role: Role, peer: String? = nil, defaultTimeoutMS: Int = 10_000,
        instructions: [Instruction], labels: [String: Int] = [:], ignores: [Expectation] = [],
        carbons: Bool = false
    ) {
        self.carbons = carbons
        self.name = name
        self.role = role
        self.peer = peer
        self.defaultTimeoutMS = defaultTimeoutMS
        self.instructions = instructions
        self.labels = labels
        self.ignores = ignores
    }
}

/// One compiled step of a scenario.
public enum Instruction: Sendable, Hashable {
    /// Send a stanza built from `template`; `mark` records the send time under that name, `keep`
    /// keeps the stanza under that name (for conformance checks), `measure` (`mark->name`) records
    /// the time since an earlier mark (how late the harness itself was).
    case send(template: StanzaTemplate, mark: String?, keep: String?, measure: String?, line: Int)
    /// Wait for stanzas matching the group's expectations (one, or several in any order).
    case expect(ExpectGroup)
    /// Wait this long without expecting anything.
    case pause(milliseconds: Int, line: Int)
    /// Reply to every IQ get/set matched and not yet answered: `result`, or `error` with a
    /// defined condition (RFC 6120 §8.3.3) and optionally a Jingle one (XEP-0166 §10).
    case answerIQ(errorCondition: String?, jingleCondition: String?, errorType: String, line: Int)
    /// Continue at a label, always or when a variable has (or equals) a value.
    case jump(label: String, condition: JumpCondition?, line: Int)
    /// Set a variable to a literal (with `[var]` substitution) or to fresh random characters.
    case set(variable: String, value: VariableValue, line: Int)
    /// Loop bookkeeping: `loopStart` resets counter `slot` to `count`; `loopEnd` jumps back to
    /// `bodyStart` while the counter stays above zero.
    case loopStart(slot: Int, count: Int)
    case loopEnd(slot: Int, bodyStart: Int)
    /// Record the call as passed now and stop.
    case end(line: Int)
    /// Record the call as failed now with `message` and stop.
    case fail(message: String, line: Int)
}

/// What decides a conditional jump.
public enum JumpCondition: Sendable, Hashable {
    case defined(String)
    case equals(String, String)
    /// Both variables are set and the first sorts before the second byte by byte (octets), the
    /// comparison of the Jingle tie-break (XEP-0166 §7.2.16).
    case less(String, String)
}

/// The right-hand side of `<set>`.
public enum VariableValue: Sendable, Hashable {
    case literal(String)
    case random(length: Int)
}

/// Several expectations awaited together. With `unordered`, all required ones must arrive in any
/// order; otherwise it holds exactly one expectation (optional ones are separate groups).
public struct ExpectGroup: Sendable, Hashable {
    public var expectations: [Expectation]
    public var unordered: Bool
    public var timeoutMS: Int?
    public var onTimeout: String?
    public var line: Int

    public init(expectations: [Expectation], unordered: Bool, timeoutMS: Int?, onTimeout: String?, line: Int) {
        self.expectations = expectations
        self.unordered = unordered
        self.timeoutMS = timeoutMS
        self.onTimeout = onTimeout
        self.line = line
    }

    /// True when nothing in the group is required.
    public var isOptional: Bool { expectations.allSatisfy(\.optional) }
}

/// One awaited stanza: kind, type, and a Jingle action or JMI element, plus captures.
public struct Expectation: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable { case iq, message, presence }

    public var kind: Kind
    /// IQ type (`set`, `result`, `error`) or message type; nil matches any.
    public var type: String?
    /// The `action` of a `<jingle/>` payload (XEP-0166 §7.2).
    public var action: String?
    /// The local name of a XEP-0353 payload (`propose`, `ringing`, `proceed`, ...).
    public var jmi: String?
    /// The terminate (or JMI) reason condition element, e.g. `success`, `decline`.
    public var reason: String?
    /// For an IQ error: the defined condition expected.
    public var errorCondition: String?
    /// For an IQ error: the Jingle condition (XEP-0166 §10, `urn:xmpp:jingle:errors:1`) expected.
    public var jingleCondition: String?
    public var optional: Bool
    /// Captures: variable name and path (`jingle@sid`, `transport@ufrag`, `fingerprint`).
    public var captures: [Capture]
    /// Where to continue when this expectation matches.
    public var gotoLabel: String?
    /// Response-time name, `mark->name`: records now minus the time of mark `mark`.
    public var measure: String?
    /// Records the time this expectation matched under this name, for a later `measure`.
    public var mark: String?
    /// Keep the matched stanza under this name (for conformance checks).
    public var keep: String?
    /// Match a XEP-0280 carbon of this direction, by the message it forwards; nil matches only
    /// stanzas that are not carbons.
    public var carbon: CarbonDirection?
    public var line: Int

    public init(
        kind: Kind, type: String? = nil, action: String? = nil, jmi: String? = nil, reason: String? = nil,
        errorCondition: String? = nil, jingleCondition: String? = nil, optional: Bool = false,
        captures: [Capture] = [], gotoLabel: String? = nil, measure: String? = nil, mark: String? = nil,
        keep: String? = nil, carbon: CarbonDirection? = nil, line: Int = 0
    ) {
        self.mark = mark
        self.carbon = carbon
        self.kind = kind
        self.type = type
        self.action = action
        self.jmi = jmi
        self.reason = reason
        self.errorCondition = errorCondition
        self.jingleCondition = jingleCondition
        self.optional = optional
        self.captures = captures
        self.gotoLabel = gotoLabel
        self.measure = measure
        self.keep = keep
        self.line = line
    }

    /// A short human description, e.g. `iq set session-accept`.
    public var summary: String {
        [
            carbon.map { "carbon:\($0.rawValue)" }, kind.rawValue, type, action, jmi.map { "jmi:\($0)" }, reason.map { "reason:\($0)" },
            errorCondition, jingleCondition,
        ]
        .compactMap { $0 }.joined(separator: " ")
    }
}

/// Which copy a XEP-0280 carbon is (§6 received, §7 sent): `sent` forwards a message another
/// device of our account sent, `received` one it received.
public enum CarbonDirection: String, Sendable, Hashable {
    case sent, received
}

/// `name=path`: store the value found at `path` in variable `name`.
public struct Capture: Sendable, Hashable {
    public var variable: String
    public var path: StanzaPath

    public init(variable: String, path: StanzaPath) {
        self.variable = variable
        self.path = path
    }
}

/// A simple path into a stanza: an element local name (searched depth-first, the stanza itself
/// included) and optionally an attribute; without an attribute the element's text is taken.
public struct StanzaPath: Sendable, Hashable, CustomStringConvertible {
    public var element: String
    public var attribute: String?

    public init?(_ text: String) {
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let first = parts.first, !first.isEmpty || parts.count == 2 else { return nil }
        element = first
        attribute = parts.count == 2 ? parts[1] : nil
        if attribute?.isEmpty == true { return nil }
    }

    public var description: String { attribute.map { "\(element)@\($0)" } ?? element }

    /// The value at this path in `stanza`; an empty element name means the stanza itself.
    public func value(in stanza: XMLElement) -> String? {
        guard let found = element.isEmpty ? stanza : Self.find(element, in: stanza) else { return nil }
        if let attribute { return found.attribute(attribute) }
        let text = found.text.trimmingSpaces
        return text.isEmpty ? nil : text
    }

    static func find(_ name: String, in element: XMLElement) -> XMLElement? {
        if element.name == name { return element }
        for child in element.elements {
            if let hit = find(name, in: child) { return hit }
        }
        return nil
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let c = s.first, c.isWhitespace { s.removeFirst() }
        while let c = s.last, c.isWhitespace { s.removeLast() }
        return String(s)
    }
}

extension Scenario {
    /// The `measure` names of its sends and expects, in order of appearance, each once.
    public var measures: [String] {
        var names: [String] = []
        for instruction in instructions {
            switch instruction {
            case .send(_, _, _, let measure?, _) where !names.contains(measure): names.append(measure)
            case .expect(let group):
                for name in group.expectations.compactMap(\.measure) where !names.contains(name) { names.append(name) }
            default: break
            }
        }
        return names
    }
}
