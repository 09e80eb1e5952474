import Foundation
import XMPPCore

/// Compiles a scenario file (docs/jingle-harness-scenarios.md) into a `Scenario`.
/// Every error names the line and the element at fault.
public enum ScenarioParser {
    public static func parse(_ text: String) throws(ScenarioError) -> Scenario {
        try parse(data: Data(text.utf8))
    }

    public static func parse(data: Data) throws(ScenarioError) -> Scenario {
        let root = try ScenarioXMLReader.read(data)
        var compiler = Compiler()
        return try compiler.compile(root)
    }

    public static func parse(contentsOf path: String) throws(ScenarioError) -> Scenario {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ScenarioError(line: 0, element: nil, message: "cannot read scenario file \(path)")
        }
        do {
            return try parse(data: data)
        } catch {
            var located = error
            located.file = path
            throw located
        }
    }
}

private struct Compiler {
    var instructions: [Instruction] = []
    var labels: [String: Int] = [:]
    var labelUses: [(label: String, line: Int, element: String)] = []
    var loopSlots = 0
    var ignores: [Expectation] = []

    static let allowed: [String: Set<String>] = [
        "scenario": ["name", "role", "peer", "timeout", "carbons"],
        "send": ["mark", "keep", "measure"],
        "expect": [
            "kind", "type", "action", "jmi", "reason", "condition", "jingle-condition", "optional", "timeout",
            "on-timeout", "capture", "goto", "measure", "mark", "keep", "carbon",
        ],
        "ignore": ["kind", "type", "action", "jmi", "reason", "condition", "jingle-condition", "keep", "carbon"],
        "fail": ["message"],
        "unordered": ["timeout", "on-timeout"],
        "pause": ["ms"],
        "answer-iq": ["type", "condition", "jingle-condition", "error-type"],
        "label": ["name"],
        "goto": ["label", "if", "equals", "less-than"],
        "set": ["var", "value", "random"],
        "loop": ["count"],
        "end": [],
    ]

    mutating func compile(_ root: SourceElement) throws(ScenarioError) -> Scenario {
        guard root.name == "scenario" else {
            throw ScenarioError(line: root.line, element: root.name, message: "the root element must be <scenario>")
        }
        try checkAttributes(root)
        let name = try required(root, "name")
        let roleText = try required(root, "role")
        guard let role = Scenario.Role(rawValue: roleText) else {
            throw ScenarioError(
                line: root.line, element: "scenario",
                message: "role must be initiator or responder, not '\(roleText)'")
        }
        let timeout = try root.attribute("timeout").map { (t: String) throws(ScenarioError) in try milliseconds(t, root, "timeout") }
        let carbonsText = root.attribute("carbons") ?? "false"
        guard carbonsText == "true" || carbonsText == "false" else {
            throw ScenarioError(line: root.line, element: "scenario", message: "carbons must be true or false, not '\(carbonsText)'")
        }
        try compileSteps(root)
        for use in labelUses where labels[use.label] == nil {
            throw ScenarioError(line: use.line, element: use.element, message: "no <label name='\(use.label)'> in this scenario")
        }
        return Scenario(
            name: name, role: role, peer: root.attribute("peer"), defaultTimeoutMS: timeout ?? 10_000,
            instructions: instructions, labels: labels, ignores: ignores, carbons: carbonsText == "true")
    }

    mutating func compileSteps(_ parent: SourceElement) throws(ScenarioError) {
        for node in parent.children {
            switch node {
            case .text(let t) where t.trimmingSpaces.isEmpty: continue
            case .text(let t):
                throw ScenarioError(
                    line: parent.line, element: parent.name,
                    message: "unexpected text '\(t.trimmingSpaces.prefix(30))' between steps")
            case .element(let e):
                try compileStep(e)
            }
        }
    }

    mutating func compileStep(_ e: SourceElement) throws(ScenarioError) {
        guard Self.allowed[e.name] != nil, e.name != "scenario" else {
            throw ScenarioError(
                line: e.line, element: e.name,
                message: "unknown step; expected one of send, expect, "
                    + "unordered, pause, answer-iq, label, goto, set, loop, end, fail, ignore")
        }
        try checkAttributes(e)
        switch e.name {
        case "send":
            let stanzas = e.elements
            guard stanzas.count == 1, e.text.trimmingSpaces.isEmpty else {
                throw ScenarioError(line: e.line, element: "send", message: "must hold exactly one stanza element")
            }
            let template = Self.template(stanzas[0], inherited: XMPPNamespace.client)
            guard ["iq", "message", "presence"].contains(template.name), template.namespace == XMPPNamespace.client else {
                throw ScenarioError(
                    line: stanzas[0].line, element: stanzas[0].name,
                    message: "a stanza must be <iq>, <message> or <presence> in jabber:client")
            }
            if let measure = e.attribute("measure"), !measure.contains("->") {
                throw ScenarioError(line: e.line, element: "send", message: "measure must be 'mark->name', e.g. 'ringing->retract'")
            }
            instructions.append(
                .send(
                    template: template, mark: e.attribute("mark"), keep: e.attribute("keep"),
                    measure: e.attribute("measure"), line: e.line))
        case "expect":
            let expectation = try expectation(e)
            instructions.append(
                .expect(
                    ExpectGroup(
                        expectations: [expectation], unordered: false,
                        timeoutMS: try e.attribute("timeout").map { (t: String) throws(ScenarioError) in try milliseconds(t, e, "timeout")
                        },
                        onTimeout: try labelUse(e, "on-timeout"), line: e.line)))
        case "unordered":
            var members: [Expectation] = []
            for child in e.elements {
                guard child.name == "expect" else {
                    throw ScenarioError(line: child.line, element: child.name, message: "<unordered> may hold only <expect>")
                }
                try checkAttributes(child)
                for forbidden in ["timeout", "on-timeout", "goto"] where child.attribute(forbidden) != nil {
                    throw ScenarioError(
                        line: child.line, element: "expect",
                        message: "'\(forbidden)' belongs on the <unordered> group, not its members")
                }
                members.append(try expectation(child))
            }
            guard members.contains(where: { !$0.optional }) else {
                throw ScenarioError(line: e.line, element: "unordered", message: "needs at least one expect that is not optional")
            }
            instructions.append(
                .expect(
                    ExpectGroup(
                        expectations: members, unordered: true,
                        timeoutMS: try e.attribute("timeout").map { (t: String) throws(ScenarioError) in try milliseconds(t, e, "timeout")
                        },
                        onTimeout: try labelUse(e, "on-timeout"), line: e.line)))
        case "pause":
            instructions.append(.pause(milliseconds: try milliseconds(try required(e, "ms"), e, "ms"), line: e.line))
        case "answer-iq":
            let type = e.attribute("type") ?? "result"
            guard type == "result" || type == "error" else {
                throw ScenarioError(line: e.line, element: "answer-iq", message: "type must be result or error, not '\(type)'")
            }
            let condition = type == "error" ? (e.attribute("condition") ?? "bad-request") : nil
            instructions.append(
                .answerIQ(
                    errorCondition: condition, jingleCondition: type == "error" ? e.attribute("jingle-condition") : nil,
                    errorType: e.attribute("error-type") ?? "cancel", line: e.line))
        case "label":
            let name = try required(e, "name")
            guard labels[name] == nil else {
                throw ScenarioError(line: e.line, element: "label", message: "label '\(name)' is defined twice")
            }
            labels[name] = instructions.count
        case "goto":
            let label = try labelUse(e, "label") ?? ""
            if label.isEmpty { _ = try required(e, "label") }
            var condition: JumpCondition?
            if e.attribute("equals") != nil, e.attribute("less-than") != nil {
                throw ScenarioError(line: e.line, element: "goto", message: "give either 'equals' or 'less-than', not both")
            }
            if let variable = e.attribute("if") {
                if let other = e.attribute("less-than") {
                    condition = .less(variable, other)
                } else {
                    condition = e.attribute("equals").map { .equals(variable, $0) } ?? .defined(variable)
                }
            } else if e.attribute("equals") != nil || e.attribute("less-than") != nil {
                throw ScenarioError(line: e.line, element: "goto", message: "'equals' and 'less-than' need 'if' naming the variable")
            }
            instructions.append(.jump(label: label, condition: condition, line: e.line))
        case "set":
            let variable = try required(e, "var")
            switch (e.attribute("value"), e.attribute("random")) {
            case (let value?, nil): instructions.append(.set(variable: variable, value: .literal(value), line: e.line))
            case (nil, let length?):
                guard let n = Int(length), (1...256).contains(n) else {
                    throw ScenarioError(line: e.line, element: "set", message: "random must be a length from 1 to 256, not '\(length)'")
                }
                instructions.append(.set(variable: variable, value: .random(length: n), line: e.line))
            default:
                throw ScenarioError(line: e.line, element: "set", message: "needs exactly one of 'value' or 'random'")
            }
        case "loop":
            let countText = try required(e, "count")
            guard let count = Int(countText), count >= 1 else {
                throw ScenarioError(
                    line: e.line, element: "loop", message: "count must be a whole number of at least 1, not '\(countText)'")
            }
            let slot = loopSlots
            loopSlots += 1
            instructions.append(.loopStart(slot: slot, count: count))
            let bodyStart = instructions.count
            try compileSteps(e)
            instructions.append(.loopEnd(slot: slot, bodyStart: bodyStart))
        case "end":
            instructions.append(.end(line: e.line))
        case "fail":
            instructions.append(.fail(message: try required(e, "message"), line: e.line))
        case "ignore":
            guard e.elements.isEmpty else {
                throw ScenarioError(line: e.line, element: "ignore", message: "takes attributes only, no children")
            }
            ignores.append(try expectation(e))
        default:
            break
        }
    }

    mutating func expectation(_ e: SourceElement) throws(ScenarioError) -> Expectation {
        let kindText = e.attribute("kind") ?? "iq"
        guard let kind = Expectation.Kind(rawValue: kindText) else {
            throw ScenarioError(line: e.line, element: "expect", message: "kind must be iq, message or presence, not '\(kindText)'")
        }
        var captures: [Capture] = []
        for item in (e.attribute("capture") ?? "").split(whereSeparator: { $0 == " " || $0 == "," }) {
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, !pair[0].isEmpty, let path = StanzaPath(pair[1]) else {
                throw ScenarioError(line: e.line, element: "expect", message: "capture '\(item)' is not name=path (e.g. sid=jingle@sid)")
            }
            captures.append(Capture(variable: pair[0], path: path))
        }
        let optionalText = e.attribute("optional") ?? "false"
        guard optionalText == "true" || optionalText == "false" else {
            throw ScenarioError(line: e.line, element: "expect", message: "optional must be true or false, not '\(optionalText)'")
        }
        if let measure = e.attribute("measure"), !measure.contains("->") {
            throw ScenarioError(line: e.line, element: "expect", message: "measure must be 'mark->name', e.g. 'propose->ringing'")
        }
        if e.attribute("action") != nil, e.attribute("jmi") != nil {
            throw ScenarioError(line: e.line, element: "expect", message: "give either action (Jingle) or jmi (XEP-0353), not both")
        }
        var carbon: CarbonDirection?
        if let text = e.attribute("carbon") {
            guard let direction = CarbonDirection(rawValue: text), kind == .message else {
                throw ScenarioError(
                    line: e.line, element: e.name,
                    message: "carbon must be sent or received, on kind=\"message\" (not '\(text)' on \(kind.rawValue))")
            }
            carbon = direction
        }
        return Expectation(
            kind: kind, type: e.attribute("type"), action: e.attribute("action"), jmi: e.attribute("jmi"),
            reason: e.attribute("reason"), errorCondition: e.attribute("condition"),
            jingleCondition: e.attribute("jingle-condition"), optional: optionalText == "true",
            captures: captures, gotoLabel: try labelUse(e, "goto"), measure: e.attribute("measure"),
            mark: e.attribute("mark"), keep: e.attribute("keep"), carbon: carbon, line: e.line)
    }

    mutating func labelUse(_ e: SourceElement, _ attribute: String) throws(ScenarioError) -> String? {
        guard let label = e.attribute(attribute) else { return nil }
        guard !label.isEmpty else { throw ScenarioError(line: e.line, element: e.name, message: "\(attribute) is empty") }
        labelUses.append((label, e.line, e.name))
        return label
    }

    func checkAttributes(_ e: SourceElement) throws(ScenarioError) {
        let allowed = Self.allowed[e.name] ?? []
        for a in e.attributes where !allowed.contains(a.name) {
            throw ScenarioError(line: e.line, element: e.name, message: "unknown attribute '\(a.name)'")
        }
    }

    func required(_ e: SourceElement, _ name: String) throws(ScenarioError) -> String {
        guard let value = e.attribute(name), !value.isEmpty else {
            throw ScenarioError(line: e.line, element: e.name, message: "missing attribute '\(name)'")
        }
        return value
    }

    func milliseconds(_ text: String, _ e: SourceElement, _ attribute: String) throws(ScenarioError) -> Int {
        guard let n = Int(text), n >= 0, n <= 86_400_000 else {
            throw ScenarioError(line: e.line, element: e.name, message: "\(attribute) must be milliseconds (0 to 86400000), not '\(text)'")
        }
        return n
    }

    static func template(_ e: SourceElement, inherited: String) -> StanzaTemplate {
        let namespace = e.namespace.isEmpty ? inherited : e.namespace
        var children: [StanzaTemplate.Child] = []
        for node in e.children {
            switch node {
            case .element(let c): children.append(.element(template(c, inherited: namespace)))
            case .text(let t): if !t.trimmingSpaces.isEmpty { children.append(.text(t.trimmingSpaces)) }
            }
        }
        return StanzaTemplate(name: e.name, namespace: namespace, attributes: e.attributes, children: children)
    }
}
