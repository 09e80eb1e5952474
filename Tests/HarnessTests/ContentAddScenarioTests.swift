import Jingle
import Testing
import XMLStream
import XMPPCore
@testable import Harness

/// The built-in content-add scenario (XEP-0166 §7.2.1) played by the interpreter: it passes when
/// the peer answers content-accept or content-reject, before or after the IQ result, records
/// which answer came, and ignores the peer's ringing session-info.
@Suite struct ContentAddScenarioTests {
    static let peer = "bob@localhost/b"

    static func iq(_ type: String, id: String, jingle: (action: String, sid: String)? = nil) -> XMLElement {
        var iq = XMLElement("iq", namespace: XMPPNamespace.client, ["type": type, "id": id, "from": peer])
        if let jingle {
            iq.append(
                XMLElement(
                    "jingle", namespace: JingleNamespace.jingle, ["action": jingle.action, "sid": jingle.sid],
                    children: [
                        XMLElement(
                            "content", namespace: JingleNamespace.jingle,
                            ["creator": "initiator", "name": "video"])
                    ]))
        }
        return iq
    }

    static func acceptElement(sid: String) -> XMLElement {
        let transport = XMLElement(
            "transport", namespace: JingleNamespace.iceUDP, ["ufrag": "theirs", "pwd": "theirpassword"],
            children: [XMLElement("fingerprint", namespace: JingleNamespace.dtls, text: "AA:BB")])
        let content = XMLElement(
            "content", namespace: JingleNamespace.jingle, ["creator": "initiator", "name": "audio"],
            children: [transport])
        return XMLElement(
            "iq", namespace: XMPPNamespace.client, ["type": "set", "id": "acc", "from": peer],
            children: [
                XMLElement(
                    "jingle", namespace: JingleNamespace.jingle,
                    ["action": "session-accept", "sid": sid], children: [content])
            ])
    }

    /// Alice's call playing the built-in content-add scenario, its session-initiate sent and
    /// acknowledged.
    static func initiatedCall() throws -> CallInterpreter {
        let scenario = try ScenarioLibrary.load("content-add", searchPaths: [BuiltInScenarioTests.directory])
        var call = CallInterpreter(
            scenario: scenario, callNumber: 1,
            variables: ["local_jid": "alice@localhost/a", "peer": peer], seed: 3, now: .seconds(0))
        _ = call.start(now: .seconds(0))
        let sid = try #require(call.variables["sid"])
        _ = call.receive(iq("result", id: "\(sid)-1"), now: .seconds(0.01))
        return call
    }

    @Test(arguments: [("content-accept", true), ("content-accept", false), ("content-reject", true), ("content-reject", false)])
    func eitherAnswerInEitherOrderPasses(answer: String, answerFirst: Bool) throws {
        var call = try Self.initiatedCall()
        let sid = try #require(call.variables["sid"])
        _ = call.receive(Self.iq("set", id: "ring", jingle: ("session-info", sid)), now: .seconds(0.02)) // ignored
        var out = call.receive(Self.acceptElement(sid: sid), now: .seconds(0.03))
        let add = out.compactMap { o -> XMLElement? in if case .send(let e) = o { e } else { nil } }
            .first { $0.child("jingle", namespace: JingleNamespace.jingle)?.attribute("action") == "content-add" }
        let addID = try #require(add?.attribute("id"))

        let result = Self.iq("result", id: addID)
        let reply = Self.iq("set", id: "ans", jingle: (answer, sid))
        for stanza in answerFirst ? [reply, result] : [result, reply] { out = call.receive(stanza, now: .seconds(0.05)) }
        #expect(call.variables["content_answer"] == answer)
        let terminate = out.compactMap { o -> XMLElement? in if case .send(let e) = o { e } else { nil } }
            .first { $0.child("jingle", namespace: JingleNamespace.jingle)?.attribute("action") == "session-terminate" }
        let terminateID = try #require(terminate?.attribute("id"), "the call goes on to hang up")
        _ = call.receive(Self.iq("result", id: terminateID), now: .seconds(0.06))
        #expect(call.verdict == .passed)
        let names = Set(call.measurements.map(\.name))
        #expect(names.contains(answer == "content-accept" ? "add->accept" : "add->reject"))
        #expect(!names.contains(answer == "content-accept" ? "add->reject" : "add->accept"))
    }

    @Test func noAnswerToTheContentAddTimesOut() throws {
        var call = try Self.initiatedCall()
        let sid = try #require(call.variables["sid"])
        let out = call.receive(Self.acceptElement(sid: sid), now: .seconds(0.02))
        let add = out.compactMap { o -> XMLElement? in if case .send(let e) = o { e } else { nil } }.last
        _ = call.receive(Self.iq("result", id: try #require(add?.attribute("id"))), now: .seconds(0.03))
        var t: Duration = .seconds(0.03)
        while call.verdict == nil, let deadline = call.nextDeadline, t < .seconds(100) {
            t = deadline
            _ = call.handleTimeout(now: t)
        }
        guard case .failed(.timeout)? = call.verdict else { Issue.record("verdict \(String(describing: call.verdict))"); return }
    }
}
