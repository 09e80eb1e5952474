import Testing
import XMLStream
@testable import XMPPCore

@Suite struct IQTrackerTests {
    let t0 = EngineInstant.zero
    let me = JID("juliet@example.com/balcony")!
    let romeo = JID("romeo@example.net/orchard")!

    @Test func matchesByIdAndSender() {
        var tracker = IQTracker(ownJID: me)
        tracker.register(IQ(type: .get, id: "a1", to: romeo), deadline: t0 + .seconds(10))
        let response = IQ(type: .result, id: "a1", from: romeo, to: me)
        let completion = tracker.match(response)
        #expect(completion?.id == "a1")
        #expect(tracker.count == 0)
        #expect(tracker.match(response) == nil)
    }

    @Test func spoofedSenderIsNotAMatch() {
        var tracker = IQTracker(ownJID: me)
        tracker.register(IQ(type: .get, id: "a1", to: romeo), deadline: t0 + .seconds(10))
        #expect(tracker.match(IQ(type: .result, id: "a1", from: JID("mallory@evil.example/x"), to: me)) == nil)
        #expect(tracker.match(IQ(type: .result, id: "a1", from: romeo.bare, to: me)) == nil)
        #expect(tracker.match(IQ(type: .result, id: "a1", from: nil, to: me)) == nil)
        #expect(tracker.isPending("a1"))
        #expect(tracker.match(IQ(type: .result, id: "a1", from: romeo, to: me))?.id == "a1")
    }

    @Test func requestToServerAcceptsAccountAddresses() {
        var tracker = IQTracker(ownJID: me)
        for (i, from) in [nil, me.bare, me, JID("example.com")].enumerated() {
            tracker.register(IQ(type: .get, id: "s\(i)"), deadline: t0 + .seconds(10))
            #expect(tracker.match(IQ(type: .result, id: "s\(i)", from: from))?.id == "s\(i)")
        }
        tracker.register(IQ(type: .get, id: "x"), deadline: t0 + .seconds(10))
        #expect(tracker.match(IQ(type: .result, id: "x", from: romeo)) == nil)
        #expect(tracker.match(IQ(type: .result, id: "x", from: JID("example.net"))) == nil)
    }

    @Test func requestsAreNotResponses() {
        var tracker = IQTracker(ownJID: me)
        tracker.register(IQ(type: .get, id: "a1", to: romeo), deadline: t0 + .seconds(10))
        #expect(tracker.match(IQ(type: .get, id: "a1", from: romeo)) == nil)
        #expect(tracker.match(IQ(type: .set, id: "a1", from: romeo)) == nil)
    }

    @Test func errorResponseCarriesStanzaError() {
        var tracker = IQTracker(ownJID: me)
        let request = IQ(type: .get, id: "e1", to: romeo)
        tracker.register(request, deadline: t0 + .seconds(10))
        let error = IQ(type: .error, id: "e1", from: romeo, to: me, error: StanzaError(.itemNotFound))
        let completion = tracker.match(error)
        #expect(completion?.result == .failure(StanzaError(.itemNotFound)))
    }

    @Test func timeoutsAtDeadlineInOrder() {
        var tracker = IQTracker(ownJID: me)
        tracker.register(IQ(type: .get, id: "late", to: romeo), deadline: t0 + .seconds(30))
        tracker.register(IQ(type: .get, id: "early", to: romeo), deadline: t0 + .seconds(5))
        tracker.register(IQ(type: .get, id: "mid", to: romeo), deadline: t0 + .seconds(10))
        #expect(tracker.nextDeadline == t0 + .seconds(5))
        #expect(tracker.handleTimeout(now: t0 + .seconds(4)) == [])
        #expect(tracker.handleTimeout(now: t0 + .seconds(10)) == ["early", "mid"])
        #expect(tracker.nextDeadline == t0 + .seconds(30))
        // A late answer to a timed-out request is not a match.
        #expect(tracker.match(IQ(type: .result, id: "early", from: romeo)) == nil)
        #expect(tracker.cancelAll() == ["late"])
        #expect(tracker.nextDeadline == nil)
    }
}
