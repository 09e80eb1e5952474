import Testing
import Jingle
import XMLStream
import XMPPCore
@testable import Harness

@Suite struct ScenarioParserTests {
    static let good = """
        <?xml version="1.0"?>
        <!-- a caller with every kind of step -->
        <scenario name="demo" role="initiator" peer="callee" timeout="3000">
          <send mark="initiate">
            <iq type="set" to="[peer]" id="[id]">
              <jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" sid="[sid]" initiator="[local_jid]"/>
            </iq>
          </send>
          <unordered timeout="5000" on-timeout="bye">
            <expect type="result" measure="initiate->result"/>
            <expect type="set" action="transport-info" optional="true"/>
            <expect type="set" action="session-accept" capture="ufrag=transport@ufrag fp=fingerprint"/>
          </unordered>
          <answer-iq/>
          <loop count="3">
            <pause ms="10"/>
          </loop>
          <set var="ufrag" random="8"/>
          <goto label="bye" if="fp"/>
          <label name="bye"/>
          <end/>
        </scenario>
        """

    @Test func aFullScenarioCompilesToInstructions() throws {
        let s = try ScenarioParser.parse(Self.good)
        #expect(s.name == "demo")
        #expect(s.role == .initiator)
        #expect(s.peer == "callee")
        #expect(s.defaultTimeoutMS == 3000)
        guard case .send(let template, let mark, _, _, let line) = s.instructions[0] else { Issue.record("not a send"); return }
        #expect(mark == "initiate")
        #expect(line == 4)
        #expect(template.name == "iq" && template.namespace == "jabber:client")
        guard case .element(let jingle) = template.children.first else { Issue.record("no jingle"); return }
        #expect(jingle.namespace == "urn:xmpp:jingle:1")
        guard case .expect(let group) = s.instructions[1] else { Issue.record("not an expect"); return }
        #expect(group.unordered && group.expectations.count == 3 && group.timeoutMS == 5000 && group.onTimeout == "bye")
        #expect(group.expectations[2].captures.map(\.variable) == ["ufrag", "fp"])
        #expect(group.expectations[2].captures[0].path.description == "transport@ufrag")
        #expect(group.expectations[2].captures[1].path.attribute == nil)
        #expect(group.expectations[1].optional)
        #expect(s.instructions[3] == .loopStart(slot: 0, count: 3))
        #expect(s.instructions[5] == .loopEnd(slot: 0, bodyStart: 4))
        #expect(s.labels["bye"] == 8)
        #expect(s.instructions[7] == .jump(label: "bye", condition: .defined("fp"), line: 19))
    }

    func error(_ text: String) -> ScenarioError? {
        do { _ = try ScenarioParser.parse(text); return nil } catch { return error }
    }

    @Test func anUnknownStepNamesItsLineAndElement() {
        let e = error("<scenario name='x' role='initiator'>\n<pause ms='1'/>\n\n<sned/>\n</scenario>")
        #expect(e?.line == 4)
        #expect(e?.element == "sned")
        #expect(e?.description.hasPrefix("line 4: <sned>: unknown step") == true)
    }

    @Test func missingAndInvalidAttributesAreNamed() {
        #expect(error("<scenario role='initiator'/>")?.message == "missing attribute 'name'")
        #expect(error("<scenario name='x' role='caller'/>")?.message.contains("initiator or responder") == true)
        let pause = error("<scenario name='x' role='responder'>\n  <pause ms='soon'/>\n</scenario>")
        #expect(pause?.line == 2 && pause?.element == "pause")
        let attr = error("<scenario name='x' role='responder'>\n<expect kind='iq' colour='red'/>\n</scenario>")
        #expect(attr?.message == "unknown attribute 'colour'" && attr?.line == 2)
        let kind = error("<scenario name='x' role='responder'><expect kind='mail'/></scenario>")
        #expect(kind?.message.contains("kind must be") == true)
        let capture = error("<scenario name='x' role='responder'><expect capture='sid'/></scenario>")
        #expect(capture?.message.contains("not name=path") == true)
    }

    @Test func labelsMustExistAndBeUnique() {
        let missing = error("<scenario name='x' role='initiator'>\n<expect on-timeout='nowhere'/>\n</scenario>")
        #expect(missing?.line == 2 && missing?.message.contains("nowhere") == true)
        let twice = error("<scenario name='x' role='initiator'>\n<label name='a'/>\n<label name='a'/>\n</scenario>")
        #expect(twice?.line == 3 && twice?.message.contains("twice") == true)
    }

    @Test func sendMustHoldOneStanza() {
        let two = error("<scenario name='x' role='initiator'>\n<send><iq/><iq/></send>\n</scenario>")
        #expect(two?.line == 2 && two?.element == "send")
        let notStanza = error("<scenario name='x' role='initiator'>\n<send>\n<jingle/>\n</send></scenario>")
        #expect(notStanza?.line == 3 && notStanza?.element == "jingle")
    }

    @Test func unorderedMembersCannotCarryGroupAttributes() {
        let e = error("<scenario name='x' role='initiator'><unordered>\n<expect timeout='5'/>\n</unordered></scenario>")
        #expect(e?.line == 2 && e?.message.contains("belongs on the <unordered>") == true)
        let allOptional = error("<scenario name='x' role='initiator'><unordered><expect optional='true'/></unordered></scenario>")
        #expect(allOptional?.message.contains("not optional") == true)
    }

    @Test func malformedXMLReportsTheLine() {
        let e = error("<scenario name='x' role='initiator'>\n<pause ms='1'>\n</scenario>")
        #expect(e?.line == 3)
        #expect(e?.message.hasPrefix("XML error") == true)
    }

    /// libxml2 reads scenario files: a malformed one is reported with libxml2's first error, its
    /// line and its column (not "NSXMLParserErrorDomain error 76"), and a file name in front.
    @Test func malformedXMLReportsLineAndColumnFromLibxml2() {
        let e = error("<scenario name='x' role='initiator'>\n<send>\n  <pause ms='1'\n</scenario>\n")
        #expect(e?.line == 4 && e?.column == 1)
        #expect(e?.message.contains("NSXMLParserErrorDomain") == false)
        var located = e
        located?.file = "scenario.xml"
        #expect(located?.description.hasPrefix("scenario.xml:4:1: XML error: ") == true, "\(String(describing: located))")
        let mismatch = error("<scenario name='x' role='initiator'>\n<send>\n</scenario>")
        #expect(mismatch?.line == 3 && mismatch?.column == 12)
        #expect(mismatch?.message == "XML error: Opening and ending tag mismatch: send line 2 and scenario")
        #expect(mismatch?.description == "line 3, column 12: XML error: Opening and ending tag mismatch: send line 2 and scenario")
        let prefix = error("<scenario name='x' role='initiator'>\n  <p:send/>\n</scenario>")
        #expect(prefix?.line == 2 && prefix?.message.contains("Namespace prefix p") == true)
    }

    @Test func aDTDIsRefused() {
        let e = error("<!DOCTYPE scenario [<!ENTITY a 'b'>]>\n<scenario name='x' role='initiator'>&a;</scenario>")
        #expect(e?.message == "XML error: a scenario may not carry a DTD")
    }

    /// Semantic errors name the line (libxml2 keeps one per element), the element and the problem.
    @Test func semanticErrorsNameTheLine() {
        let step = error("<scenario name='x' role='initiator'>\n<pause ms='1'/>\n<bogus/>\n</scenario>")
        #expect(step?.line == 3 && step?.element == "bogus" && step?.message.hasPrefix("unknown step") == true)
        let attribute = error("<scenario name='x' role='initiator'>\n\n  <pause ms='1' colour='blue'/>\n</scenario>")
        #expect(attribute?.description == "line 3: <pause>: unknown attribute 'colour'")
    }

    /// Comments, CDATA, character references and whitespace read as before.
    @Test func commentsCDATAAndReferencesRead() throws {
        let scenario = try ScenarioParser.parse(
            """
            <scenario name="x" role="initiator"><!-- note -->
              <send><message to="[peer]" type="chat"><body><![CDATA[a < b]]> &amp; &#x41;</body></message></send>
            </scenario>
            """)
        guard case .send(let template, _, _, _, let line) = scenario.instructions.first else {
            Issue.record("no send")
            return
        }
        #expect(line == 2)
        guard case .element(let body) = template.children.first else {
            Issue.record("no body")
            return
        }
        #expect(body.children == [.text("a < b & A")])
    }

    @Test func theRootMustBeScenario() {
        #expect(error("<script name='x'/>")?.message == "the root element must be <scenario>")
    }
}

/// XEP-0280 carbons in scenarios: the `carbons` switch and `carbon` expectations.
@Suite struct ScenarioCarbonTests {
    static func proceed(from: String) -> XMLElement {
        XMLElement(
            "message", namespace: XMPPNamespace.client, ["from": from, "to": "alice@example.com/a", "type": "chat"],
            children: [XMLElement("proceed", namespace: JingleNamespace.jingleMessage, ["id": "s1"])])
    }

    static let carbonOfProceed = XMLElement(
        "message", namespace: XMPPNamespace.client, ["from": "bob@example.com", "to": "bob@example.com/d2", "type": "chat"],
        children: [
            XMLElement(
                "sent", namespace: XMPPNamespace.carbons,
                children: [
                    XMLElement("forwarded", namespace: XMPPNamespace.forward, children: [proceed(from: "bob@example.com/d1")])
                ])
        ])

    @Test func carbonExpectationsMatchOnlyCarbonsOfTheirDirection() throws {
        let s = try ScenarioParser.parse(
            """
            <scenario name="m" role="responder" carbons="true">
              <expect kind="message" carbon="sent" jmi="proceed" capture="by=message@from"/>
            </scenario>
            """)
        #expect(s.carbons)
        guard case .expect(let group) = s.instructions[0] else { Issue.record("not an expect"); return }
        let sent = group.expectations[0]
        #expect(CallInterpreter.matches(sent, Self.carbonOfProceed))
        var received = sent
        received.carbon = .received
        #expect(!CallInterpreter.matches(received, Self.carbonOfProceed))
        var plain = sent
        plain.carbon = nil
        #expect(!CallInterpreter.matches(plain, Self.carbonOfProceed), "a plain expect must not take a carbon")
        let direct = Self.proceed(from: "bob@example.com/d1")
        #expect(!CallInterpreter.matches(sent, direct))
        #expect(CallInterpreter.matches(plain, direct))
        #expect(CallInterpreter.carbon(in: Self.carbonOfProceed)?.1.attribute("from") == "bob@example.com/d1")
    }

    @Test func badCarbonAttributesNameTheLine() {
        #expect(throws: ScenarioError.self) {
            try ScenarioParser.parse("<scenario name=\"m\" role=\"responder\" carbons=\"yes\"/>")
        }
        do {
            _ = try ScenarioParser.parse(
                """
                <scenario name="m" role="responder">
                  <expect carbon="sent" action="session-initiate"/>
                </scenario>
                """)
            Issue.record("carbon on an iq expect was accepted")
        } catch {
            #expect(error.line == 2)
            #expect(error.message.contains("carbon"))
        }
    }

    @Test func theMultiDeviceBuiltInsLoad() throws {
        let dir = "\(#filePath)".components(separatedBy: "/Tests/")[0] + "/Samples/harness"
        let callee = try ScenarioLibrary.load("multi-device-callee", searchPaths: [dir])
        #expect(callee.carbons && callee.role == .responder && callee.peer == "multi-device-caller")
        let caller = try ScenarioLibrary.load("multi-device-caller", searchPaths: [dir])
        #expect(caller.role == .initiator && caller.ignores.contains { $0.jmi == "ringing" })
    }
}
