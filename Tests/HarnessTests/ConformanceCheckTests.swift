import Jingle
import Testing
import XMLStream
import XMPPCore
@testable import Harness

/// The pieces conformance rules are made of, without a network: `<ignore>`, `keep`, `<fail>`,
/// `less-than`, the Jingle error condition of an expect, and the stanza checks.
@Suite struct ConformanceCheckTests {
    typealias T = CallInterpreterTests

    func make(_ body: String) throws -> CallInterpreter {
        try CallInterpreterTests().make(body)
    }

    @Test func ignoredRequestsAreAcknowledgedKeptOnceAndDoNotFailTheCall() throws {
        var call = try make(
            """
            <ignore type="set" action="session-info" keep="ringing"/>
            <expect type="set" action="session-accept" keep="answer"/>
            """)
        _ = call.start(now: .seconds(0))
        let ringing = T.jingleIQ("session-info", sid: "s", id: "r1", children: [XMLElement("ringing", namespace: JingleNamespace.rtpInfo)])
        let out = call.receive(ringing, now: .seconds(0.1))
        guard case .answerIQ(let id, let response)? = out.first else { Issue.record("not acknowledged: \(out)"); return }
        #expect(id == "r1" && response.attribute("type") == "result" && response.attribute("to") == T.peer)
        _ = call.receive(T.jingleIQ("session-info", sid: "s", id: "r2"), now: .seconds(0.2))
        #expect(call.kept["ringing"]?.attribute("id") == "r1")
        #expect(call.verdict == nil)
        _ = call.receive(T.jingleIQ("session-accept", sid: "s", id: "a1"), now: .seconds(0.3))
        #expect(call.verdict == .passed)
        #expect(call.kept["answer"]?.attribute("id") == "a1")
        #expect(call.decidingStanza?.attribute("id") == "a1")
        #expect(call.transcript.map { $0.attribute("id") } == ["r1", "r2", "a1"])
    }

    @Test func wantsTellsWhetherTheWaitingStepTakesAStanza() throws {
        var call = try make(
            """
            <expect type="set" action="session-initiate"/>
            <expect type="set" action="transport-info" optional="true"/>
            <expect type="set" action="session-terminate"/>
            """)
        _ = call.start(now: .seconds(0))
        #expect(call.wants(T.jingleIQ("session-initiate", sid: "s")))
        #expect(!call.wants(T.jingleIQ("transport-info", sid: "s")))
        _ = call.receive(T.jingleIQ("session-initiate", sid: "s"), now: .seconds(0.1))
        // Past the initiate: the optional transport-info and the terminate after it are wanted.
        #expect(!call.wants(T.jingleIQ("session-initiate", sid: "s2")))
        #expect(call.wants(T.jingleIQ("transport-info", sid: "s")) && call.wants(T.jingleIQ("session-terminate", sid: "s")))
        _ = call.receive(T.jingleIQ("session-terminate", sid: "s"), now: .seconds(0.2))
        #expect(call.verdict == .passed && !call.wants(T.jingleIQ("session-terminate", sid: "s")))
    }

    @Test func anExpectCanRequireTheJingleErrorCondition() throws {
        func reply(_ jingleCondition: String) -> XMLElement {
            XMLElement(
                "iq", namespace: XMPPNamespace.client, ["type": "error", "id": "e", "from": T.peer],
                children: [
                    XMLElement(
                        "error", namespace: XMPPNamespace.client, ["type": "cancel"],
                        children: [
                            XMLElement("item-not-found", namespace: XMPPNamespace.stanzas),
                            XMLElement(jingleCondition, namespace: JingleNamespace.errors),
                        ])
                ])
        }
        let body = "<expect type='error' condition='item-not-found' jingle-condition='unknown-session'/>"
        var good = try make(body)
        _ = good.start(now: .seconds(0))
        _ = good.receive(reply("unknown-session"), now: .seconds(0.1))
        #expect(good.verdict == .passed)
        var bad = try make(body)
        _ = bad.start(now: .seconds(0))
        _ = bad.receive(reply("out-of-order"), now: .seconds(0.1))
        #expect(bad.verdict == .failed(.iqError(condition: "item-not-found", jingleCondition: "out-of-order")))
        #expect(bad.decidingStanza?.attribute("type") == "error")
    }

    @Test func failAndLessThanDecideByOctetOrder() throws {
        let body = """
            <set var="a" value="abc"/><set var="b" value="abd"/>
            <goto label="lower" if="a" less-than="b"/>
            <fail message="a should sort first"/>
            <label name="lower"/>
            <goto label="wrong" if="b" less-than="a"/>
            <end/>
            <label name="wrong"/>
            <fail message="b sorted first"/>
            """
        var call = try make(body)
        _ = call.start(now: .seconds(0))
        #expect(call.verdict == .passed)
        var failing = try make("<fail message='nope'/>")
        _ = failing.start(now: .seconds(0))
        #expect(failing.verdict == .failed(.asserted("nope", line: 1)))
        #expect(throws: ScenarioError.self) {
            try ScenarioParser.parse("<scenario name='x' role='initiator'><goto label='l' less-than='b'/><label name='l'/></scenario>")
        }
        #expect(throws: ScenarioError.self) {
            try ScenarioParser.parse("<scenario name='x' role='initiator'><ignore action='x'><y/></ignore></scenario>")
        }
    }

    static func answer(_ transport: String, payloads: String = "<payload-type id='111' name='opus' clockrate='48000' channels='2'/>") throws
        -> XMLElement
    {
        let text = """
            <iq xmlns='jabber:client' type='set' id='a'><jingle xmlns='urn:xmpp:jingle:1' action='session-accept' sid='s'>
            <content creator='initiator' name='audio'><description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'>\(payloads)</description>
            \(transport)</content></jingle></iq>
            """
        let scenario = try ScenarioParser.parse("<scenario name='x' role='initiator'><send>\(text)</send></scenario>")
        guard case .send(let template, _, _, _, _) = scenario.instructions[0] else {
            throw ScenarioError(line: 0, element: nil, message: "no send")
        }
        return try template.render { _ in nil }
    }

    static let goodTransport = """
        <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='abcd' pwd='0123456789012345678901'>
          <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='active'>AB:CD:01</fingerprint>
          <candidate component='1' foundation='1' generation='0' id='c1' ip='192.0.2.1' port='5000' priority='2130706431' protocol='udp' type='host'/>
        </transport>
        """

    @Test func checksPassOnAGoodAnswerAndNameWhatIsWrongOnABadOne() throws {
        let good = try Self.answer(Self.goodTransport)
        let offer = try Self.answer(
            "",
            payloads:
                "<payload-type id='111' name='opus' clockrate='48000' channels='2'/><payload-type id='0' name='PCMU' clockrate='8000'/>")
        let checks: [StanzaCheck] = [
            .present("answer", "fingerprint@hash"), .hexPairs("answer", "fingerprint"),
            .oneOf("answer", "fingerprint@setup", ["active", "passive"]),
            .minLength("answer", "transport@pwd", 22), .containsElement("answer", "payload-type", ["name": "OPUS", "clockrate": "48000"]),
            .subset("answer", of: "offer", "payload-type", keys: ["name", "clockrate", "channels"], defaults: ["channels": "1"]),
            .candidatesWellFormed,
        ]
        for check in checks { #expect(check.failure(kept: ["answer": good, "offer": offer], transcript: [good]) == nil, "\(check)") }

        let bad = try Self.answer(
            """
            <transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' ufrag='ab' pwd='short'>
              <fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='actpass'>not hex</fingerprint>
              <candidate component='1' foundation='1' id='c1' ip='192.0.2.1' port='5000' priority='1' protocol='udp' type='host'/>
            </transport>
            """, payloads: "<payload-type id='9' name='G722' clockrate='8000'/>")
        let kept = ["answer": bad, "offer": offer]
        #expect(
            StanzaCheck.oneOf("answer", "fingerprint@setup", ["active", "passive"]).failure(kept: kept, transcript: [bad])?.cause
                == "value:fingerprint@setup")
        #expect(StanzaCheck.hexPairs("answer", "fingerprint").failure(kept: kept, transcript: [bad])?.cause == "syntax:fingerprint")
        #expect(StanzaCheck.minLength("answer", "transport@pwd", 22).failure(kept: kept, transcript: [bad])?.cause == "short:transport@pwd")
        let subset = StanzaCheck.subset("answer", of: "offer", "payload-type", keys: ["name", "clockrate"], defaults: [:])
        #expect(subset.failure(kept: kept, transcript: [bad])?.detail.contains("g722/8000") == true)
        let candidates = StanzaCheck.candidatesWellFormed.failure(kept: kept, transcript: [bad])
        #expect(candidates?.cause == "malformed:candidate" && candidates?.detail.contains("no generation") == true)
        #expect(StanzaCheck.candidatesWellFormed.failure(kept: [:], transcript: [])?.cause == "missing:candidate")
        #expect(StanzaCheck.present("answer", "x@y").failure(kept: [:], transcript: [])?.cause == "missing:answer")
    }

    @Test func theSuiteCompilesAndEveryRuleNamesItsSpecAndAKnownScenario() throws {
        #expect(ConformanceSuite.rules.count >= 16)
        #expect(Set(ConformanceSuite.rules.map(\.id)).count == ConformanceSuite.rules.count)
        for rule in ConformanceSuite.rules {
            #expect(rule.spec.hasPrefix("XEP-0"), "\(rule.id)")
            let scenario = try ConformanceSuite.scenario(rule.scenario)
            #expect(scenario.role == .initiator)
        }
        #expect(try ConformanceSuite.select(["xep0320"]).map(\.id) == ["xep0320-fingerprint", "xep0320-setup-not-actpass"])
        #expect(throws: ScenarioError.self) { try ConformanceSuite.select(["xep9999"]) }
    }
}
