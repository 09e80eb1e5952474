import Jingle
import Testing
import XMLStream
import XMPPCore
@testable import Harness

/// The interpreter fed scripted stanzas and times: no network, no clock.
@Suite struct CallInterpreterTests {
    static let peer = "bob@localhost/b"

    func make(_ body: String, role: String = "initiator", timeout: Int = 1000) throws -> CallInterpreter {
        let scenario = try ScenarioParser.parse("<scenario name='t' role='\(role)' timeout='\(timeout)'>\(body)</scenario>")
        return CallInterpreter(
            scenario: scenario, callNumber: 7,
            variables: ["local_jid": "alice@localhost/a", "peer": Self.peer], seed: 1, now: .seconds(0))
    }

    static func jingleIQ(
        _ action: String, sid: String, id: String = "x1", type: String = "set",
        children: [XMLElement] = []
    ) -> XMLElement {
        XMLElement(
            "iq", namespace: XMPPNamespace.client, ["type": type, "id": id, "from": peer],
            children: [
                XMLElement(
                    "jingle", namespace: JingleNamespace.jingle, ["action": action, "sid": sid],
                    children: children)
            ])
    }

    static func result(id: String) -> XMLElement {
        XMLElement("iq", namespace: XMPPNamespace.client, ["type": "result", "id": id, "from": peer])
    }

    static let initiate = """
        <send mark="initiate"><iq type="set" to="[peer]" id="[id]">
          <jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" sid="[sid]" initiator="[local_jid]">
            <content creator="initiator" name="audio"><transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="[ufrag]" pwd="[pwd]">
              <fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="actpass">[fingerprint]</fingerprint>
            </transport></content>
          </jingle></iq></send>
        """

    @Test func sendFillsVariablesAndAnUnorderedGroupAcceptsEitherOrder() throws {
        var call = try make(
            Self.initiate + """
                <unordered>
                  <expect type="result" measure="initiate->result"/>
                  <expect type="set" action="transport-info" optional="true"/>
                  <expect type="set" action="session-accept" measure="initiate->accept" capture="their=transport@ufrag fp=fingerprint"/>
                </unordered>
                """)
        let out = call.start(now: .seconds(0))
        guard case .send(let iq)? = out.first else { Issue.record("nothing sent"); return }
        let sid = try #require(call.variables["sid"])
        #expect(sid.hasPrefix("jh7-"))
        #expect(iq.attribute("to") == Self.peer)
        #expect(iq.attribute("id") == "\(sid)-1")
        let jingle = try #require(iq.child("jingle", namespace: JingleNamespace.jingle))
        #expect(jingle.attribute("sid") == sid && jingle.attribute("initiator") == "alice@localhost/a")
        let fingerprint = try #require(StanzaPath("fingerprint")?.value(in: iq))
        #expect(fingerprint.split(separator: ":").count == 32)
        #expect(call.nextDeadline == .seconds(1.0))

        // session-accept overtakes the IQ result; transport-info (optional) is taken too.
        let transport = XMLElement(
            "transport", namespace: JingleNamespace.iceUDP, ["ufrag": "theirs"],
            children: [XMLElement("fingerprint", namespace: JingleNamespace.dtls, text: "AA:BB")])
        #expect(call.receive(Self.jingleIQ("transport-info", sid: sid), now: .seconds(0.01)).isEmpty)
        #expect(call.receive(Self.jingleIQ("session-accept", sid: sid, children: [transport]), now: .seconds(0.02)).isEmpty)
        #expect(call.receive(Self.result(id: "\(sid)-1"), now: .seconds(0.03)) == [.finished(.passed)])
        #expect(call.variables["their"] == "theirs" && call.variables["fp"] == "AA:BB")
        #expect(call.measurements.map(\.name) == ["initiate->accept", "initiate->result"])
        #expect(abs(call.measurements[1].seconds - 0.03) < 1e-9)
    }

    /// `mark` on an expect and `measure` on a send: how long after a stanza arrived the harness
    /// really sent its next one (both listed among the scenario's measures).
    @Test func anExpectMarksAndASendMeasuresFromIt() throws {
        var call = try make(
            """
            <expect kind="message" mark="rang"/>
            <pause ms="500"/>
            <send measure="rang->answered"><message to="[peer]"><body>x</body></message></send>
            """)
        #expect(call.scenario.measures == ["rang->answered"])
        _ = call.start(now: .seconds(0))
        _ = call.receive(XMLElement("message", namespace: XMPPNamespace.client, ["from": Self.peer]), now: .seconds(0.1))
        #expect(call.handleTimeout(now: .seconds(1.3)).contains { if case .send = $0 { true } else { false } })
        #expect(call.measurements.map(\.name) == ["rang->answered"])
        #expect(abs(call.measurements[0].seconds - 1.2) < 1e-9)
        #expect(throws: ScenarioError.self) {
            try ScenarioParser.parse("<scenario name='x' role='initiator'><send measure='late'><message/></send></scenario>")
        }
    }

    @Test func aMissingCaptureFailsTheCallNamingThePath() throws {
        var call = try make("<expect type='set' action='session-accept' capture='fp=fingerprint'/>")
        _ = call.start(now: .seconds(0))
        let out = call.receive(Self.jingleIQ("session-accept", sid: "s1"), now: .seconds(0.1))
        #expect(out == [.finished(.failed(.missingCapture(path: "fingerprint", line: 1)))])
        #expect(FailureCause.missingCapture(path: "fingerprint", line: 1).category == "missing:fingerprint")
    }

    @Test func aTimeoutFailsUnlessItBranches() throws {
        var plain = try make("<expect type='set' action='session-accept'/>")
        _ = plain.start(now: .seconds(0))
        #expect(plain.handleTimeout(now: .seconds(0.5)).isEmpty)
        let out = plain.handleTimeout(now: .seconds(1.0))
        #expect(out == [.finished(.failed(.timeout(expecting: "iq set session-accept", line: 1)))])

        var branching = try make(
            """
            <expect type='set' action='session-accept' timeout='200' on-timeout='give-up'/>
            <end/>
            <label name='give-up'/>
            <set var='outcome' value='gave up on [sid]'/>
            <send><iq type='set' to='[peer]' id='[id]'><jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='[sid]'>
              <reason><timeout/></reason></jingle></iq></send>
            """)
        _ = branching.start(now: .seconds(0))
        #expect(branching.nextDeadline == .seconds(0.2))
        let sent = branching.handleTimeout(now: .seconds(0.25))
        guard case .send(let terminate)? = sent.first else { Issue.record("no terminate"); return }
        #expect(terminate.child("jingle")?.attribute("action") == "session-terminate")
        #expect(sent.last == .finished(.passed))
        #expect(branching.variables["outcome"] == "gave up on \(branching.variables["sid"] ?? "?")")
    }

    @Test func optionalExpectsAreSkippedWhenALaterOneMatches() throws {
        var call = try make(
            """
            <expect kind='message' jmi='ringing' optional='true'/>
            <expect kind='message' jmi='proceed' goto='done'/>
            <expect kind='message' jmi='never'/>
            <label name='done'/>
            """)
        _ = call.start(now: .seconds(0))
        let proceed = XMLElement(
            "message", namespace: XMPPNamespace.client, ["from": Self.peer],
            children: [XMLElement("proceed", namespace: JingleNamespace.jingleMessage, ["id": "p1"])])
        #expect(call.receive(proceed, now: .seconds(0.1)) == [.finished(.passed)])
        #expect(call.variables["sid"] == nil || call.variables["sid"]?.hasPrefix("jh7-") == true)
    }

    @Test func unexpectedStanzasAreClassifiedByCause() throws {
        var call = try make("<expect type='set' action='session-accept'/>")
        _ = call.start(now: .seconds(0))
        let out = call.receive(CallTraceTests.outOfOrder(id: "a"), now: .seconds(0.1))
        #expect(out == [.finished(.failed(.iqError(condition: "unexpected-request", jingleCondition: "out-of-order")))])
        #expect(FailureCause.iqError(condition: "unexpected-request", jingleCondition: "out-of-order").category == "jingle:out-of-order")

        var other = try make("<expect type='set' action='session-accept'/>")
        _ = other.start(now: .seconds(0))
        let terminate = Self.jingleIQ(
            "session-terminate", sid: "s",
            children: [
                XMLElement(
                    "reason", namespace: JingleNamespace.jingle, children: [XMLElement("decline", namespace: JingleNamespace.jingle)])
            ])
        #expect(other.receive(terminate, now: .seconds(0.1)) == [.finished(.failed(.terminated(reason: "decline")))])
    }

    @Test func stanzasArrivingDuringAPauseWaitForTheNextExpect() throws {
        var call = try make("<pause ms='100'/><expect type='set' action='transport-info'/><answer-iq/>", role: "responder")
        #expect(call.start(now: .seconds(0)).isEmpty)
        #expect(call.nextDeadline == .seconds(0.1))
        #expect(call.receive(Self.jingleIQ("transport-info", sid: "s9", id: "t1"), now: .seconds(0.05)).isEmpty)
        let out = call.handleTimeout(now: .seconds(0.1))
        guard case .answerIQ(let id, let response)? = out.first else { Issue.record("no answer: \(out)"); return }
        #expect(id == "t1" && response.attribute("type") == "result" && response.attribute("to") == Self.peer)
        #expect(out.last == .finished(.passed))
        #expect(call.variables["sid"] == "s9")
    }

    @Test func loopsRepeatTheirBodyCountTimes() throws {
        var call = try make("<loop count='3'><send><message to='[peer]' id='[id]'><body>[call_number]</body></message></send></loop>")
        let out = call.start(now: .seconds(0))
        #expect(out.count == 4)
        #expect(out.last == .finished(.passed))
        if case .send(let m) = out[2] { #expect(m.child("body")?.text == "7") } else { Issue.record("not a send") }
    }

    @Test func anUndefinedVariableFailsWithTheLine() throws {
        var call = try make("\n<send><message to='[nobody]'/></send>")
        #expect(call.start(now: .seconds(0)) == [.finished(.failed(.template("variable [nobody] is not defined", line: 2)))])
    }

    @Test func conditionalGotoFollowsCapturedValues() throws {
        var call = try make(
            """
            <expect kind='message' capture='what=body'/>
            <goto label='busy' if='what' equals='busy'/>
            <set var='path' value='free'/>
            <end/>
            <label name='busy'/>
            <set var='path' value='busy'/>
            """)
        _ = call.start(now: .seconds(0))
        let message = XMLElement(
            "message", namespace: XMPPNamespace.client, ["from": Self.peer],
            children: [XMLElement("body", namespace: XMPPNamespace.client, text: "busy")])
        #expect(call.receive(message, now: .seconds(0.1)) == [.finished(.passed)])
        #expect(call.variables["path"] == "busy")
    }

    @Test func anUnorderedGroupTimesOutNamingEveryMember() throws {
        var call = try make("<unordered timeout='300'><expect type='result'/><expect type='set' action='session-accept'/></unordered>")
        _ = call.start(now: .seconds(0))
        #expect(call.receive(Self.result(id: "r"), now: .seconds(0.1)).isEmpty)
        let out = call.handleTimeout(now: .seconds(0.3))
        #expect(out == [.finished(.failed(.timeout(expecting: "iq result + iq set session-accept", line: 1)))])
    }
}
