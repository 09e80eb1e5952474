import Jingle
import Testing
import XMLStream
import XMPPCore

/// XEP-0082 DateTime parsing and XEP-0203 delays, and how the JMI machine judges stale proposals
/// from them (XEP-0353 §3.1) with the wall clock its driver passes.
@Suite struct DelayTests {
    @Test(arguments: [
        ("2002-09-10T23:08:25Z", 1031699305.0), // XEP-0082 example
        ("2002-09-10T23:08:25.123Z", 1031699305.123),
        ("2002-09-10T23:08:25.123456789Z", 1031699305.123456789),
        ("2002-09-10T15:08:25-08:00", 1031699305.0),
        ("2002-09-11T04:38:25+05:30", 1031699305.0),
        ("2002-09-10t23:08:25z", 1031699305.0),
        ("1969-12-31T23:59:59Z", -1.0),
        ("2024-02-29T12:00:00Z", 1709208000.0),
        ("1600-03-01T00:00:00Z", -11670912000.0),
        ("2026-11-22T03:47:09Z", 1795319229.0),
    ])
    func parsesDateTimeProfile(_ text: String, _ seconds: Double) throws {
        let t = try XMPPDateTime(parsing: text)
        #expect(abs(t.secondsSince1970 - seconds) < 1e-6, "\(text) -> \(t.secondsSince1970)")
    }

    @Test(arguments: [
        ("2002-09-10T23:08:25", "missing time zone"),
        ("2002-13-10T23:08:25Z", "month 13 is out of range"),
        ("2023-02-29T00:00:00Z", "day 29 is out of range"),
        ("2002-09-10T24:00:00Z", "hour 24 is out of range"),
        ("2002-09-10T23:60:00Z", "minute 60 is out of range"),
        ("2002-09-10 23:08:25Z", "expected 'T' after the date"),
        ("2002-09-10T23:08:25.Z", "fraction without digits"),
        ("2002-09-10T23:08:25+0800", "expected ':' in the time zone"),
        ("2002-09-10T23:08:25+24:00", "time zone offset out of range"),
        ("2002-09-10T23:08:25Zjunk", "unexpected text after the time zone"),
        ("02-09-10T23:08:25Z", "year has a non-digit"),
        ("", "year is cut short"),
    ])
    func rejectsWithTheReason(_ text: String, _ reason: String) {
        #expect { try XMPPDateTime(parsing: text) } throws: { "\($0)".contains(reason) && "\($0)".contains("'\(text)'") }
    }

    @Test(arguments: ["2002-09-10T23:08:25Z", "2002-09-10T23:08:25.500Z", "1969-12-31T23:59:59.250Z", "2400-02-29T00:00:00Z"])
    func descriptionIsUTCAndParsesBack(_ text: String) throws {
        let t = try XMPPDateTime(parsing: text)
        #expect(t.description == text)
    }

    @Test func delayElementAndEarliestStamp() throws {
        let m = try TestXMLReader.parse(
            """
            <message from='a@b/c'><delay xmlns='urn:xmpp:delay' from='b' stamp='2002-09-10T23:08:25Z'>Offline</delay>\
            <delay xmlns='urn:xmpp:delay' from='relay.b' stamp='2002-09-10T23:05:00Z'/>\
            <delay xmlns='urn:xmpp:delay' stamp='garbage'/></message>
            """)
        let d = try #require(Delay.earliest(in: [m]))
        #expect(d.stamp == (try XMPPDateTime(parsing: "2002-09-10T23:05:00Z")) && d.from == JID("relay.b"))
        let first = try Delay(element: m.elements[0])
        #expect(first.reason == "Offline")
        #expect(try Delay(element: first.element) == first)
        #expect { try Delay(element: m.elements[2]) } throws: { "\($0)" == "delay has invalid 'stamp' value 'garbage'" }
    }

    // MARK: JMI

    static let romeo = JMITests.romeo
    static let phone = JMITests.phone
    static let now = try! XMPPDateTime(parsing: "2026-11-22T03:47:09Z")

    static func propose(id: String, stamp: String?) -> XMLElement {
        var m = XMLElement(
            "message", namespace: XMPPNamespace.client, ["from": romeo.description, "to": phone.bare.description],
            children: [JingleMessage(action: .propose, id: id, descriptions: JMITests.audio).element])
        if let stamp { m.append(XMLElement("delay", namespace: XMPPNamespace.delay, ["from": "capulet.example", "stamp": stamp])) }
        return m
    }

    func wrapped(_ kind: String, namespace: String, _ inner: XMLElement, stamp: String?, from: String) -> XMLElement {
        var forwarded = XMLElement("forwarded", namespace: XMPPNamespace.forward)
        if let stamp { forwarded.append(XMLElement("delay", namespace: XMPPNamespace.delay, ["stamp": stamp])) }
        forwarded.append(inner)
        return XMLElement(
            "message", namespace: XMPPNamespace.client, ["from": from, "to": Self.phone.description],
            children: [XMLElement(kind, namespace: namespace, ["id": "r1"], children: [forwarded])])
    }

    @Test func offlineProposalOlderThanItsLifetimeDoesNotRing() {
        var m = JingleMessageMachine(local: Self.phone)
        #expect(m.handle(Self.propose(id: "old", stamp: "2026-11-22T01:47:09Z"), now: .seconds(10), wallClock: Self.now).isEmpty)
        #expect(m.calls.isEmpty)
        // The same stamp in another time zone, still stale.
        #expect(m.handle(Self.propose(id: "old2", stamp: "2026-11-21T20:47:09-05:00"), now: .seconds(10), wallClock: Self.now).isEmpty)
    }

    @Test func recentOfflineProposalRingsForWhatIsLeft() {
        var m = JingleMessageMachine(local: Self.phone, proposalLifetime: .seconds(60))
        let out = m.handle(Self.propose(id: "new", stamp: "2026-11-22T03:46:59.500Z"), now: .seconds(100), wallClock: Self.now)
        #expect(out == [.event(.incoming(id: "new", from: Self.romeo, descriptions: JMITests.audio))])
        // 9.5 s old: rings until 100 + 60 - 9.5.
        #expect(m.nextDeadline == .milliseconds(150_500))
    }

    @Test func futureStampCountsAsLive() {
        var m = JingleMessageMachine(local: Self.phone)
        _ = m.handle(Self.propose(id: "skew", stamp: "2026-11-22T03:50:00Z"), now: .zero, wallClock: Self.now)
        #expect(m.calls["skew"]?.state == .incoming)
        #expect(m.nextDeadline == .seconds(60))
    }

    @Test func withoutWallClockDelaysAreNotJudgedAndAgeOverrides() {
        var m = JingleMessageMachine(local: Self.phone)
        _ = m.handle(Self.propose(id: "a", stamp: "2000-01-01T00:00:00Z"), now: .zero)
        #expect(m.calls["a"]?.state == .incoming)
        var n = JingleMessageMachine(local: Self.phone)
        #expect(n.handle(Self.propose(id: "b", stamp: nil), age: .seconds(3600), now: .zero, wallClock: Self.now).isEmpty)
    }

    @Test func carbonAndArchiveDelaysAreRead() {
        // A carbon of a proposal stamped on the <forwarded/> wrapper.
        var m = JingleMessageMachine(local: Self.phone)
        let carbon = wrapped(
            "received", namespace: XMPPNamespace.carbons, Self.propose(id: "c", stamp: nil),
            stamp: "2026-11-22T03:00:00Z", from: Self.phone.bare.description)
        #expect(m.handle(carbon, now: .zero, wallClock: Self.now).isEmpty)
        let fresh = wrapped(
            "received", namespace: XMPPNamespace.carbons, Self.propose(id: "d", stamp: nil),
            stamp: "2026-11-22T03:47:00Z", from: Self.phone.bare.description)
        #expect(
            m.handle(fresh, now: .zero, wallClock: Self.now) == [.event(.incoming(id: "d", from: Self.romeo, descriptions: JMITests.audio))]
        )

        // A XEP-0313 archive result: old is ignored, recent rings, from another account is not believed.
        var a = JingleMessageMachine(local: Self.phone)
        let old = wrapped(
            "result", namespace: "urn:xmpp:mam:2", Self.propose(id: "m1", stamp: nil),
            stamp: "2026-11-20T00:00:00Z", from: Self.phone.bare.description)
        #expect(a.handle(old, now: .zero, wallClock: Self.now).isEmpty)
        let recent = wrapped(
            "result", namespace: "urn:xmpp:mam:2", Self.propose(id: "m2", stamp: nil),
            stamp: "2026-11-22T03:47:00+00:00", from: Self.phone.bare.description)
        #expect(a.handle(recent, now: .zero, wallClock: Self.now).count == 1)
        var b = JingleMessageMachine(local: Self.phone)
        let foreign = wrapped(
            "result", namespace: "urn:xmpp:mam:2", Self.propose(id: "m3", stamp: nil),
            stamp: "2026-11-22T03:47:00Z", from: "mallory@evil.example")
        #expect(b.handle(foreign, now: .zero, wallClock: Self.now).isEmpty)
        // An invalid outer from is not taken for our own server.
        let invalid = wrapped("received", namespace: XMPPNamespace.carbons, Self.propose(id: "m4", stamp: nil), stamp: nil, from: "@@")
        #expect(b.handle(invalid, now: .zero, wallClock: Self.now).isEmpty)
    }
}
