import EngineTime
import Jingle
import Media
import XMLStream
import XMPPCore

/// Plays one call of a `Scenario`, sans-IO: feed it stanzas and the time, it returns stanzas to
/// send and, at the end, a verdict. `now` is an `EngineInstant` on the driver's clock. The driver calls
/// `handleTimeout(now:)` when `nextDeadline` has passed.
///
/// Stanzas that arrive while the scenario is sending or pausing wait until the next `<expect>`.
/// At an expect, a stanza may match the current group or any optional group right after it (and
/// the first required one after those); skipped optional groups are passed over.
public struct CallInterpreter: Sendable {
    /// What the driver must do.
    public enum Output: Sendable, Hashable {
        /// Send this stanza (an IQ get/set among them: its answer must come back through `receive`).
        case send(XMLElement)
        /// Answer the IQ request `requestID` (from `to`) with this response.
        case answerIQ(requestID: String, response: XMLElement)
        case finished(CallVerdict)
    }

    /// A response time measured by an `<expect measure='mark->name'>`.
    public struct Measurement: Sendable, Hashable {
        public var name: String
        public var seconds: Double
    }

    public let scenario: Scenario
    public private(set) var variables: [String: String]
    public private(set) var measurements: [Measurement] = []
    /// Stanzas kept by `keep='name'` on a send or an expect.
    public private(set) var kept: [String: XMLElement] = [:]
    /// Every stanza received for this call, in order (the first `transcriptLimit`).
    public private(set) var transcript: [XMLElement] = []
    /// The stanza that decided the verdict: the one that failed the call, or the last one matched.
    public private(set) var decidingStanza: XMLElement?
    public static let transcriptLimit = 200
    /// Every stanza of this call both ways, with the time it was received or sent: the first
    /// half of `transcriptLimit` and the latest ones (`traceOmitted` in between are left out).
    public private(set) var trace: [TraceEntry] = []
    /// Stanzas left out of `trace` (after its first half).
    public private(set) var traceOmitted = 0
    /// The step the call was at when it failed (nil while it goes on or when it passed).
    public private(set) var failedStep: FailedStep?
    public private(set) var verdict: CallVerdict?
    public private(set) var nextDeadline: EngineInstant?
    public let startedAt: EngineInstant
    public private(set) var finishedAt: EngineInstant?

    private var pc = 0
    private var marks: [String: EngineInstant] = [:]
    private var loopCounters: [Int: Int] = [:]
    private var matchedInGroup: Set<Int> = []
    private var pauseUntil: EngineInstant?
    private var waitingSince: EngineInstant?
    private var buffered: [XMLElement] = []
    private var unanswered: [(id: String, from: String?)] = []
    private var idCounter = 0
    private var random: SplitMix64

    /// - Parameters:
    ///   - variables: initial values: at least `local_jid`; `peer` for an initiator; others
    ///     (`sid`, `ufrag`, `pwd`, `fingerprint`) are generated when absent.
    public init(scenario: Scenario, callNumber: Int, variables: [String: String], seed: UInt64, now: EngineInstant) {
        self.scenario = scenario
        self.startedAt = now
        random = SplitMix64(seed: seed)
        var vars = variables
        vars["call_number"] = String(callNumber)
        if scenario.role == .initiator, vars["sid"] == nil { vars["sid"] = "jh\(callNumber)-" + random.token(10) }
        if vars["ufrag"] == nil { vars["ufrag"] = random.token(8) }
        if vars["pwd"] == nil { vars["pwd"] = random.token(24) }
        if vars["fingerprint"] == nil { vars["fingerprint"] = random.fingerprint() }
        self.variables = vars
    }

    /// Runs the scenario up to its first wait.
    public mutating func start(now: EngineInstant) -> [Output] {
        var out: [Output] = []
        advance(now: now, into: &out)
        traceSent(out, now: now)
        return out
    }

    /// A stanza for this call arrived.
    public mutating func receive(_ stanza: XMLElement, now: EngineInstant) -> [Output] {
        guard verdict == nil else { return [] }
        if transcript.count < Self.transcriptLimit { transcript.append(stanza) }
        traceAppend(TraceEntry(direction: .received, at: now, stanza: stanza))
        buffered.append(stanza)
        var out: [Output] = []
        advance(now: now, into: &out)
        traceSent(out, now: now)
        return out
    }

    /// Time passed: fires a pause's end or an expect's timeout when due.
    public mutating func handleTimeout(now: EngineInstant) -> [Output] {
        guard verdict == nil else { return [] }
        var out: [Output] = []
        if let until = pauseUntil, now >= until {
            pauseUntil = nil
            pc += 1
        } else if let deadline = nextDeadline, now >= deadline, case .expect(let group) = scenario.instructions[pc] {
            if let label = group.onTimeout, let target = scenario.labels[label] {
                jump(to: target)
            } else if group.isOptional {
                pc += 1
                resetWait()
            } else {
                finish(.failed(.timeout(expecting: expecting(group), line: group.line)), now: now, into: &out)
                return out
            }
        }
        advance(now: now, into: &out)
        traceSent(out, now: now)
        return out
    }

    /// Whether the step now waiting would take `stanza`: the current expect, or one after it
    /// past optional ones (the same candidates `receive` tries).
    public func wants(_ stanza: XMLElement) -> Bool {
        guard verdict == nil, pauseUntil == nil, pc < scenario.instructions.count,
            case .expect(var group) = scenario.instructions[pc]
        else { return false }
        var index = pc
        while true {
            for (i, expectation) in group.expectations.enumerated() where !(index == pc && matchedInGroup.contains(i)) {
                if Self.matches(expectation, stanza) { return true }
            }
            let optional =
                index == pc
                ? group.expectations.indices.allSatisfy { group.expectations[$0].optional || matchedInGroup.contains($0) }
                : group.isOptional
            guard optional, index + 1 < scenario.instructions.count, case .expect(let next) = scenario.instructions[index + 1] else {
                return false
            }
            index += 1
            group = next
        }
    }

    /// Stops the call now as failed with `cause` (for the driver: send failure, shutdown).
    public mutating func abort(_ cause: FailureCause, now: EngineInstant) -> [Output] {
        guard verdict == nil else { return [] }
        var out: [Output] = []
        finish(.failed(cause), now: now, into: &out)
        return out
    }

    // MARK: Program

    private mutating func advance(now: EngineInstant, into out: inout [Output]) {
        var steps = 0
        while verdict == nil {
            steps += 1
            if steps > 100_000 { finish(.failed(.template("scenario loops without waiting", line: 0)), now: now, into: &out); return }
            guard pc < scenario.instructions.count else { finish(.passed, now: now, into: &out); return }
            switch scenario.instructions[pc] {
            case .send(let template, let mark, let keep, let measure, let line):
                do {
                    let element = try template.render { lookup($0) }
                    if let measure { record(measure, now: now) }
                    if let mark { marks[mark] = now }
                    if let keep { kept[keep] = element }
                    out.append(.send(element))
                    pc += 1
                } catch {
                    finish(.failed(.template(error.description, line: line)), now: now, into: &out)
                }
            case .pause(let ms, _):
                if pauseUntil == nil { pauseUntil = now + .milliseconds(ms) }
                nextDeadline = pauseUntil
                if let until = pauseUntil, now >= until { pauseUntil = nil; pc += 1; continue }
                return
            case .answerIQ(let condition, let jingleCondition, let errorType, _):
                for request in unanswered {
                    var response = XMLElement(
                        "iq", namespace: XMPPNamespace.client,
                        ["type": condition == nil ? "result" : "error", "id": request.id])
                    if let from = request.from { response.setAttribute("to", from) }
                    if let condition {
                        response.append(
                            XMLElement(
                                "error", namespace: XMPPNamespace.client, ["type": errorType],
                                children: [XMLElement(condition, namespace: XMPPNamespace.stanzas)]
                                    + (jingleCondition.map { [XMLElement($0, namespace: JingleNamespace.errors)] } ?? [])))
                    }
                    out.append(.answerIQ(requestID: request.id, response: response))
                }
                unanswered = []
                pc += 1
            case .jump(let label, let condition, _):
                let taken: Bool =
                    switch condition {
                    case nil: true
                    case .defined(let v)?: variables[v] != nil
                    case .equals(let v, let value)?: variables[v] == value
                    case .less(let a, let b)?:
                        if let x = variables[a], let y = variables[b] {
                            Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8))
                        } else {
                            false
                        }
                    }
                if taken, let target = scenario.labels[label] { jump(to: target) } else { pc += 1 }
            case .set(let variable, let value, let line):
                switch value {
                case .random(let n): variables[variable] = random.token(n); pc += 1
                case .literal(let text):
                    do { variables[variable] = try StanzaTemplate.substitute(text) { lookup($0) }; pc += 1 } catch {
                        finish(.failed(.template(error.description, line: line)), now: now, into: &out)
                    }
                }
            case .loopStart(let slot, let count):
                loopCounters[slot] = count
                pc += 1
            case .loopEnd(let slot, let bodyStart):
                let left = (loopCounters[slot] ?? 1) - 1
                loopCounters[slot] = left
                pc = left > 0 ? bodyStart : pc + 1
            case .end:
                finish(.passed, now: now, into: &out)
                return
            case .fail(let message, let line):
                finish(.failed(.asserted(message, line: line)), now: now, into: &out)
                return
            case .expect(let group):
                if waitingSince == nil {
                    waitingSince = now
                    nextDeadline = now + .milliseconds(group.timeoutMS ?? scenario.defaultTimeoutMS)
                }
                guard !buffered.isEmpty else { return }
                let stanza = buffered.removeFirst()
                matchStanza(stanza, now: now, into: &out)
            }
        }
    }

    private mutating func matchStanza(_ stanza: XMLElement, now: EngineInstant, into out: inout [Output]) {
        guard case .expect(let current) = scenario.instructions[pc] else { return }
        // Candidates: the current group, then following groups while the ones before are optional.
        var index = pc
        var group = current
        while true {
            for (i, expectation) in group.expectations.enumerated() where !(index == pc && matchedInGroup.contains(i)) {
                guard Self.matches(expectation, stanza) else { continue }
                if index != pc {
                    pc = index; resetWait(); waitingSince = now
                    nextDeadline = now + .milliseconds(group.timeoutMS ?? scenario.defaultTimeoutMS)
                }
                accept(expectation, memberIndex: i, group: group, stanza: stanza, now: now, into: &out)
                return
            }
            let groupOptional =
                index == pc
                ? group.expectations.indices.allSatisfy { group.expectations[$0].optional || matchedInGroup.contains($0) }
                : group.isOptional
            guard groupOptional, index + 1 < scenario.instructions.count,
                case .expect(let next) = scenario.instructions[index + 1]
            else { break }
            index += 1
            group = next
        }
        if let pattern = scenario.ignores.first(where: { Self.matches($0, stanza) }) {
            if let keep = pattern.keep, kept[keep] == nil { kept[keep] = stanza }
            if stanza.name == "iq", let type = stanza.attribute("type"), type == "set" || type == "get",
                let id = stanza.attribute("id")
            {
                var response = XMLElement("iq", namespace: XMPPNamespace.client, ["type": "result", "id": id])
                if let from = stanza.attribute("from") { response.setAttribute("to", from) }
                out.append(.answerIQ(requestID: id, response: response))
            }
            return
        }
        decidingStanza = stanza
        finish(.failed(FailureCause.classify(stanza, expecting: expecting(current), line: current.line)), now: now, into: &out)
    }

    private mutating func accept(
        _ expectation: Expectation, memberIndex: Int, group: ExpectGroup, stanza: XMLElement,
        now: EngineInstant, into out: inout [Output]
    ) {
        decidingStanza = stanza
        if let keep = expectation.keep { kept[keep] = stanza }
        // A carbon's captures read the message it forwards (its `from` is the device that sent it).
        let captured = expectation.carbon != nil ? (Self.carbon(in: stanza)?.1 ?? stanza) : stanza
        for capture in expectation.captures {
            guard let value = capture.path.value(in: captured) else {
                finish(.failed(.missingCapture(path: capture.path.description, line: expectation.line)), now: now, into: &out)
                return
            }
            variables[capture.variable] = value
        }
        if variables["sid"] == nil {
            variables["sid"] =
                stanza.child("jingle", namespace: JingleNamespace.jingle)?.attribute("sid")
                ?? stanza.elements.first { $0.namespace == JingleNamespace.jingleMessage }?.attribute("id")
        }
        if variables["peer"] == nil, let from = stanza.attribute("from") { variables["peer"] = from }
        if let measure = expectation.measure { record(measure, now: now) }
        if let mark = expectation.mark { marks[mark] = now }
        if stanza.name == "iq", let type = stanza.attribute("type"), type == "set" || type == "get",
            let id = stanza.attribute("id")
        {
            unanswered.append((id, stanza.attribute("from")))
        }
        matchedInGroup.insert(memberIndex)
        let done =
            !group.unordered
            || group.expectations.indices.allSatisfy { group.expectations[$0].optional || matchedInGroup.contains($0) }
        guard done else { return }
        if let label = expectation.gotoLabel, let target = scenario.labels[label] {
            jump(to: target)
        } else {
            pc += 1
            resetWait()
        }
    }

    /// Records `mark->name` as the time since that mark (what comes before the first `->`), when
    /// it was set.
    private mutating func record(_ measure: String, now: EngineInstant) {
        let mark = measure.firstRange(of: "->").map { String(measure[..<$0.lowerBound]) } ?? measure
        if let at = marks[mark] {
            measurements.append(Measurement(name: measure, seconds: max(0, (now - at).inSeconds)))
        }
    }

    private mutating func jump(to target: Int) {
        pc = target
        resetWait()
    }

    private mutating func resetWait() {
        matchedInGroup = []
        waitingSince = nil
        nextDeadline = nil
    }

    private mutating func finish(_ verdict: CallVerdict, now: EngineInstant, into out: inout [Output]) {
        self.verdict = verdict
        if !verdict.passed, pc < scenario.instructions.count { failedStep = FailedStep(scenario.instructions[pc], index: pc) }
        finishedAt = now
        nextDeadline = nil
        out.append(.finished(verdict))
    }

    /// Adds the stanzas among `outputs` to the trace as sent at `now`.
    private mutating func traceSent(_ outputs: [Output], now: EngineInstant) {
        for output in outputs {
            switch output {
            case .send(let element), .answerIQ(_, let element): traceAppend(TraceEntry(direction: .sent, at: now, stanza: element))
            case .finished: break
            }
        }
    }

    /// Keeps the first half of `transcriptLimit` entries and the latest ones after them.
    private mutating func traceAppend(_ entry: TraceEntry) {
        if trace.count >= Self.transcriptLimit {
            trace.remove(at: Self.transcriptLimit / 2)
            traceOmitted += 1
        }
        trace.append(entry)
    }

    private mutating func lookup(_ name: String) -> String? {
        if name == "id" {
            idCounter += 1
            return "\(variables["sid"] ?? "c\(variables["call_number"] ?? "0")")-\(idCounter)"
        }
        return variables[name]
    }

    private func expecting(_ group: ExpectGroup) -> String {
        group.expectations.map(\.summary).joined(separator: " + ")
    }

    /// Whether `stanza` is what `expectation` describes.
    public static func matches(_ expectation: Expectation, _ received: XMLElement) -> Bool {
        let stanza: XMLElement
        if let (direction, forwarded) = carbon(in: received) {
            guard expectation.carbon == direction else { return false }
            stanza = forwarded
        } else {
            guard expectation.carbon == nil else { return false }
            stanza = received
        }
        guard stanza.name == expectation.kind.rawValue else { return false }
        if let type = expectation.type, (stanza.attribute("type") ?? (stanza.name == "message" ? "normal" : "")) != type {
            return false
        }
        if let action = expectation.action {
            guard stanza.child("jingle", namespace: JingleNamespace.jingle)?.attribute("action") == action else { return false }
        }
        if let jmi = expectation.jmi {
            guard stanza.child(jmi, namespace: JingleNamespace.jingleMessage) != nil else { return false }
        }
        if let reason = expectation.reason {
            guard let r = StanzaPath.find("reason", in: stanza), r.elements.contains(where: { $0.name == reason }) else { return false }
        }
        if let condition = expectation.errorCondition {
            guard let error = stanza.child("error"), error.elements.contains(where: { $0.name == condition }) else { return false }
        }
        if let condition = expectation.jingleCondition {
            guard let error = stanza.child("error"),
                error.elements.contains(where: { $0.name == condition && $0.namespace == JingleNamespace.errors })
            else { return false }
        }
        return true
    }
}

extension CallInterpreter {
    /// The direction and forwarded message of a XEP-0280 carbon (`<sent/>` or `<received/>`
    /// holding a XEP-0297 `<forwarded/>` message); nil for any other stanza.
    public static func carbon(in stanza: XMLElement) -> (CarbonDirection, XMLElement)? {
        guard stanza.name == "message" else { return nil }
        for direction in [CarbonDirection.sent, .received] {
            if let wrapper = stanza.child(direction.rawValue, namespace: XMPPNamespace.carbons),
                let message = wrapper.child("forwarded", namespace: XMPPNamespace.forward)?.child("message")
            {
                return (direction, message)
            }
        }
        return nil
    }
}

/// Per-call tokens from Media's seeded generator, so a seed gives the same call every run.
extension SplitMix64 {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    mutating func token(_ length: Int) -> String {
        String(unsafeUninitializedCapacity: length) { bytes in
            for i in 0..<length { bytes[i] = Self.alphabet[Int(next() % UInt64(Self.alphabet.count))] }
            return length
        }
    }

    /// A SHA-256-shaped fingerprint text (32 hex pairs); only its shape matters for signalling.
    mutating func fingerprint() -> String {
        String(unsafeUninitializedCapacity: 32 * 3 - 1) { bytes in
            for i in 0..<32 {
                let b = UInt8(truncatingIfNeeded: next())
                bytes[i * 3] = Self.hexDigits[Int(b >> 4)]
                bytes[i * 3 + 1] = Self.hexDigits[Int(b & 0xF)]
                if i < 31 { bytes[i * 3 + 2] = UInt8(ascii: ":") }
            }
            return 32 * 3 - 1
        }
    }
}
