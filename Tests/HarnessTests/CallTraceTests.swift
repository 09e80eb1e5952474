import Foundation
import Jingle
import Testing
import XMLStream
import XMPPClient
import XMPPCore
@testable import Harness

/// Traces of failed calls (`--trace-dir`): what a trace holds, that the network cannot forge
/// its lines, its bounds, and where the reports point to it.
@Suite struct CallTraceTests {
    static let peer = "bob@localhost/b"

    static func caller() throws -> CallInterpreter {
        let scenario = try ScenarioLibrary.load("caller", searchPaths: [])
        return CallInterpreter(
            scenario: scenario, callNumber: 3,
            variables: ["local_jid": "alice@localhost/a", "peer": peer], seed: 1, now: .seconds(100))
    }

    /// The error a broken responder answers a session-initiate with: XEP-0166 §7.2 out-of-order.
    static func outOfOrder(id: String) -> XMLElement {
        XMLElement(
            "iq", namespace: XMPPNamespace.client, ["type": "error", "id": id, "from": peer],
            children: [
                XMLElement(
                    "error", namespace: XMPPNamespace.client, ["type": "cancel"],
                    children: [
                        XMLElement("unexpected-request", namespace: XMPPNamespace.stanzas),
                        XMLElement("out-of-order", namespace: JingleNamespace.errors),
                    ])
            ])
    }

    /// The caller's session-initiate answered with an IQ error: the call fails at the unordered
    /// expect, and its trace shows both stanzas with times, that step and the error as deciding.
    @Test func aFailedCallsTraceHoldsBothWaysTheFailedStepAndTheDecidingStanza() throws {
        var call = try Self.caller()
        let sent = call.start(now: .seconds(100))
        guard case .send(let initiate)? = sent.first else { Issue.record("nothing sent"); return }
        let id = try #require(initiate.attribute("id"))
        let outputs = call.receive(Self.outOfOrder(id: id), now: .seconds(100.25))
        #expect(outputs.contains(.finished(.failed(.iqError(condition: "unexpected-request", jingleCondition: "out-of-order")))))

        #expect(call.trace.map(\.direction) == [.sent, .received])
        #expect(call.trace.map(\.at) == [.seconds(100), .seconds(100.25)])
        #expect(call.trace[0].stanza == initiate)
        let step = try #require(call.failedStep)
        #expect(step.summary.hasPrefix("unordered expect iq result + iq set transport-info (optional) + iq set session-accept"))
        #expect(step.line == 20)
        #expect(call.decidingStanza == Self.outOfOrder(id: id))

        // The runner's clock started at wall-clock 1 000 000 000 s (2001-09-09T01:46:40Z).
        let trace = CallTrace(call, verdict: try #require(call.verdict), wallClockOrigin: 1_000_000_000)
        let text = trace.render()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.contains("scenario: caller"))
        #expect(lines.contains("call: 3 (initiator)"))
        #expect(lines.contains("verdict: FAILED jingle:out-of-order: IQ error unexpected-request (Jingle out-of-order)"))
        #expect(lines.contains("failed step: #2 " + step.summary + " (line 20)"))
        #expect(lines.contains("deciding stanza: #2 (shown again at the end)"))
        #expect(lines.contains("#1 +0.000 s 2001-09-09T01:48:20.000Z sent"))
        #expect(lines.contains("#2 +0.250 s 2001-09-09T01:48:20.250Z received (deciding)"))
        let error = "  " + XMLSerializer.serialize(Self.outOfOrder(id: id))
        #expect(lines.filter { $0 == error }.count == 2)
        #expect(lines.contains("  " + XMLSerializer.serialize(initiate)))
        #expect(trace.fileName == "caller-3-\(try #require(call.variables["sid"])).trace.txt")
    }

    /// Stanza text can hold newlines, terminal escapes and Unicode line separators: none of them
    /// reaches the trace as such, so no stanza can add a line of its own.
    @Test func hostileStanzaTextCannotForgeTraceLines() throws {
        var call = try Self.caller()
        _ = call.start(now: .seconds(0))
        let forged = "x\nverdict: PASSED\n#9 +0.000 s sent\r\u{1B}[2J\u{2028}deciding stanza: none\u{202E}"
        let hostile = XMLElement(
            "iq", namespace: XMPPNamespace.client, ["type": "set", "id": "h\n1", "from": Self.peer],
            children: [
                XMLElement(
                    "jingle", namespace: JingleNamespace.jingle, ["action": "session-terminate\nverdict: PASSED", "sid": "s"],
                    children: [
                        XMLElement(
                            "reason", namespace: JingleNamespace.jingle,
                            children: [
                                XMLElement("text", namespace: JingleNamespace.jingle, text: forged)
                            ])
                    ])
            ])
        _ = call.receive(hostile, now: .seconds(0.5))
        let verdict = try #require(call.verdict)
        #expect(!verdict.passed)
        let text = CallTrace(call, verdict: verdict, wallClockOrigin: nil).render()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(!lines.contains("verdict: PASSED"))
        #expect(lines.filter { $0.hasPrefix("verdict: ") }.count == 1)
        #expect(lines.filter { $0.hasPrefix("#") }.count == 2)
        #expect(!text.contains("\r") && !text.contains("\u{1B}") && !text.contains("\u{2028}") && !text.contains("\u{202E}"))
        #expect(text.contains("x&#xA;verdict: PASSED&#xA;#9 +0.000 s sent&#13;&#x1B;[2J&#x2028;deciding stanza: none&#x202E;"))
        // Every line is a header, an entry heading, blank, or an indented stanza.
        for line in lines where !line.isEmpty {
            #expect(
                line.hasPrefix("  <") || line.hasPrefix("#") || line.contains(": ") || line.hasSuffix(":")
                    || line == "jingle-harness call trace", "\(line)")
        }
        #expect(TraceText.oneLine("a&b\u{0}\u{85}") == "a&amp;b&#x0;&#x85;")
        #expect(TraceText.fileNamePart("../../etc/pass wd\n") == "_.._etc_pass_wd_")
        #expect(TraceText.fileNamePart("...") == "_")
    }

    /// A call with more stanzas than `transcriptLimit` keeps the first half and the latest ones,
    /// and its trace says how many were left out between them.
    @Test func aLongCallsTraceKeepsItsStartAndItsEnd() throws {
        var call = try Self.caller()
        _ = call.start(now: .seconds(100))
        let sid = try #require(call.variables["sid"])
        // session-info is ignored and acknowledged: two trace entries each.
        for i in 0..<300 {
            _ = call.receive(
                XMLElement(
                    "iq", namespace: XMPPNamespace.client, ["type": "set", "id": "i\(i)", "from": Self.peer],
                    children: [
                        XMLElement(
                            "jingle", namespace: JingleNamespace.jingle,
                            ["action": "session-info", "sid": sid])
                    ]),
                now: .seconds(100 + Double(i) / 100))
        }
        #expect(call.verdict == nil)
        let limit = CallInterpreter.transcriptLimit
        #expect(call.trace.count == limit)
        #expect(call.traceOmitted == 601 - limit)
        #expect(
            call.trace[0].direction == .sent
                && call.trace[0].stanza.child("jingle", namespace: JingleNamespace.jingle)?
                    .attribute("action") == "session-initiate"
        )
        #expect(call.trace.last?.stanza.attribute("id") == "i299")
        _ = call.abort(.aborted, now: .seconds(105))
        let text = CallTrace(call, verdict: try #require(call.verdict), wallClockOrigin: nil).render()
        #expect(text.contains("stanzas: 601 (\(601 - limit) in the middle not kept)"))
        #expect(text.contains("\n... \(601 - limit) stanzas not kept ...\n#\(limit / 2 + 601 - limit + 1) +"))
        #expect(text.contains("\n#601 +2.990 s sent\n"))
        #expect(text.contains("failed step: #2 unordered expect"))
        #expect(text.contains("deciding stanza: none"))
    }

    static func failed(_ number: Int, scenario: String = "caller", sid: String? = "jh-x") -> CallTrace {
        CallTrace(
            scenario: scenario, callNumber: number, role: .initiator, sid: sid, verdict: .failed(.aborted),
            failedStep: nil, decidingStanza: nil, entries: [], omitted: 0, startedAt: .zero, wallClockOrigin: nil)
    }

    @Test func theWriterTracesFailedCallsUpToItsLimitAndSaysHowManyItDropped() throws {
        let folder = NSTemporaryDirectory() + "trace-writer-\(UUID().uuidString)/traces"
        defer { try? FileManager.default.removeItem(atPath: (folder as NSString).deletingLastPathComponent) }
        let writer = TraceWriter(directory: folder, maxTraces: 2)
        try writer.createDirectory()
        var passed = Self.failed(9)
        passed.verdict = .passed
        #expect(writer.write(passed) == nil)
        let first = try #require(writer.write(Self.failed(1, scenario: "../evil", sid: "a/b\nc")))
        #expect(first == folder + "/_evil-1-a_b_c.trace.txt")
        #expect(writer.write(Self.failed(2)) != nil)
        #expect(writer.write(Self.failed(3)) == nil)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: folder).sorted() == ["_evil-1-a_b_c.trace.txt", "caller-2-jh-x.trace.txt"])
        let summary = writer.summary
        #expect(summary.written == 2 && summary.dropped == 1 && summary.failedWrites == 0)
        #expect(summary.description == "traces: 2 written to \(folder), 1 not written (--max-traces 2)")

        let all = TraceWriter(directory: folder, maxTraces: 5, all: true)
        #expect(all.write(passed) == folder + "/caller-9-jh-x.trace.txt")
        #expect(try String(contentsOfFile: folder + "/caller-9-jh-x.trace.txt", encoding: .utf8).contains("verdict: PASSED"))
    }

    @Test func junitEmbedsTheStepTheTraceAndTheDecidingStanza() throws {
        let error = Self.outOfOrder(id: "x\u{1}1")
        var failed = CallRecord(
            callNumber: 3, role: .initiator, scenario: "caller",
            verdict: .failed(.iqError(condition: "unexpected-request", jingleCondition: "out-of-order")),
            startedAt: 0, durationSeconds: 0.25, measurements: [], decidingStanza: error)
        failed.failedStep = FailedStep(index: 1, line: 20, summary: "unordered expect iq result")
        failed.tracePath = "traces/caller-3-jh3.trace.txt"
        let passed = CallRecord(
            callNumber: 1, role: .initiator, scenario: "caller", verdict: .passed, startedAt: 0,
            durationSeconds: 0.1, measurements: [])
        var report = RunReport(scenario: "caller", records: [passed, failed], elapsedSeconds: 1, started: 2)
        report.traces = TraceSummary(directory: "traces", maxTraces: 1, all: false, written: 1, dropped: 2, failedWrites: 0)
        let xml = ReportWriters.junit(report)
        #expect(
            xml.contains(
                "<failure type='jingle:out-of-order' message='IQ error unexpected-request (Jingle out-of-order)'>"
                    + "step: #2 unordered expect iq result (line 20)\ntrace: traces/caller-3-jh3.trace.txt\ndeciding stanza: &lt;iq xmlns='jabber:client' type='error' id='x&amp;#x1;1'"
            ))
        #expect(xml.contains("&lt;out-of-order xmlns='urn:xmpp:jingle:errors:1'/&gt;"))
        #expect(xml.contains("<property name='traces' value='traces: 1 written to traces, 2 not written (--max-traces 1)'/>"))
        #expect(!xml.contains("\u{1}"))
        // The document still parses, and the passed call has no failure.
        #expect(xml.components(separatedBy: "<failure ").count == 2)

        let json = try #require(try JSONSerialization.jsonObject(with: Data(ReportWriters.json(report).utf8)) as? [String: Any])
        let traces = try #require(json["traces"] as? [String: Any])
        #expect(traces["written"] as? Int == 1 && traces["dropped"] as? Int == 2)
        #expect(ReportWriters.text(report).contains("\ntraces: 1 written to traces, 2 not written (--max-traces 1)\n"))

        let html = HTMLReport.render(report)
        #expect(html.contains("<a href=\"traces/caller-3-jh3.trace.txt\">caller-3-jh3.trace.txt</a>"))
        #expect(html.contains("traces: 1 written to traces, 2 not written (--max-traces 1)"))
        #expect(!html.contains("<script"))

        #expect(ReportWriters.relativePath("/a/b/traces/x.txt", from: "/a/b") == "traces/x.txt")
        #expect(ReportWriters.relativePath("/a/b/traces/x.txt", from: "/a/c/") == "../b/traces/x.txt")
        #expect(ReportWriters.relativePath("/a/b", from: "/a/b") == ".")
    }

    /// A real runner whose calls all fail at their first send (a client that never connects):
    /// each failed call gets a trace up to `--max-traces`, the rest are counted as dropped, and
    /// the records point at their files.
    @Test func aRunTracesItsFailedCallsUpToTheLimit() async throws {
        let folder = NSTemporaryDirectory() + "trace-run-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let runner = LoadRunner(
            endpoints: [try StopReasonTests.caller()],
            options: LoadOptions(rate: 1000, maxConcurrent: 1, totalCalls: 3, drainSeconds: 5))
        let writer = TraceWriter(directory: folder, maxTraces: 2)
        try writer.createDirectory()
        await runner.traceCalls(with: writer)
        let report = await runner.run(scenarioName: "caller")
        #expect(report.failed == 3)
        #expect(report.traces?.written == 2 && report.traces?.dropped == 1)
        let traced = report.records.filter { $0.tracePath != nil }
        #expect(traced.map(\.callNumber) == [1, 2])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).count == 2)
        let text = try String(contentsOfFile: try #require(traced.first?.tracePath), encoding: .utf8)
        #expect(text.contains("verdict: FAILED transport: "))
        #expect(text.contains("failed step: #2 unordered expect iq result"))
        #expect(text.contains("\n#1 +0.000 s ") && text.contains(" sent\n  <iq xmlns='jabber:client' "))
        #expect(text.contains("action='session-initiate'"))
        #expect(report.records.allSatisfy { $0.failedStep != nil })
        #expect(ReportWriters.junit(report).contains("trace: \(folder)/caller-1-"))
    }
}
