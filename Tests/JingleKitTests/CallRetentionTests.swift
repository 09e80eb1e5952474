import CallTestSupport
import Jingle
@testable import JingleKit
import Testing
import XMPPCore

/// An ended call is dropped once `endedCallRetention` is over, so a manager that lives for weeks
/// holds only its recent calls; the `Call` handle keeps the figures it ended with.
@Suite struct CallRetentionTests {
    @Test func anEndedCallIsDroppedAfterItsRetentionAndItsHandleKeepsItsFigures() async throws {
        let (_, alice, bobs) = await makeManagers(configuration: CallConfiguration(endedCallRetention: .milliseconds(200)))
        let outgoing = try await alice.placeCall(to: JID("bob@localhost")!, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bobs[0])
        let bobEvents = EventReader(incoming)
        try await incoming.accept()
        _ = try await aliceEvents.next("accepted") { $0 == .accepted }
        #expect(await alice.retainedCallCounts() == (1, 1, 1))
        await outgoing.hangUp()
        #expect(try await bobEvents.ended() == .completed(byPeer: true))
        let statistics = await outgoing.statistics
        #expect(statistics.setup != nil)

        for manager in [alice, bobs[0]] {
            try await within(.seconds(10), "the ended call to be dropped") {
                while await manager.retainedCallCounts() != (0, 0, 0) { try await Task.sleep(for: .milliseconds(20)) }
            }
        }
        #expect(await outgoing.state == .ended(.completed(byPeer: false)))
        #expect(await outgoing.statistics == statistics)
        #expect(await outgoing.remoteDevice == JID("bob@localhost/desk"))
        #expect(await incoming.state == .ended(.completed(byPeer: true)))

        // The managers take the next call as they took the first.
        let second = try await alice.placeCall(to: JID("bob@localhost")!, timeout: .seconds(30))
        let secondEvents = EventReader(second)
        try await nextIncoming(bobs[0]).accept()
        _ = try await secondEvents.next("accepted") { $0 == .accepted }
        await second.hangUp()
    }
}
