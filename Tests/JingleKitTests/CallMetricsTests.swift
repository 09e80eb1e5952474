import CallTestSupport
import Jingle
import JingleKit
import MetricsTestKit
import Testing
import XMPPCore

/// Calls report through swift-metrics: a completed JMI call counts once per side with its
/// direction and outcome, and its setup time is recorded; a declined one counts as declined.
@Suite struct CallMetricsTests {
    @Test func callsAreCountedWithDirectionOutcomeAndSetupTime() async throws {
        let metrics = TestMetrics()
        let router = InMemoryRouter()
        let ac = await router.client("alice@localhost/desk"), bc = await router.client("bob@localhost/desk")
        let configuration = CallConfiguration(mediaTransports: RecordingProvider(), metricsFactory: metrics)
        let alice = CallManager(transport: ac, local: ac.jid, configuration: configuration)
        let bob = CallManager(transport: bc, local: bc.jid, configuration: configuration)
        await alice.start()
        await bob.start()

        let outgoing = try await alice.placeCall(to: bc.jid, useJMI: false, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bob)
        try await incoming.accept()
        _ = try await aliceEvents.next("accepted") { $0 == .accepted }
        await outgoing.hangUp()
        _ = try await aliceEvents.ended()
        _ = try await EventReader(incoming).ended()

        let second = try await alice.placeCall(to: bc.jid, useJMI: false, timeout: .seconds(30))
        let secondEvents = EventReader(second)
        try await nextIncoming(bob).reject()
        _ = try await secondEvents.ended()

        #expect(try metrics.expectCounter("jinglekit_calls_total", [("direction", "outgoing"), ("outcome", "completed")]).totalValue == 1)
        #expect(try metrics.expectCounter("jinglekit_calls_total", [("direction", "incoming"), ("outcome", "completed")]).totalValue == 1)
        #expect(try metrics.expectCounter("jinglekit_calls_total", [("direction", "outgoing"), ("outcome", "declined")]).totalValue == 1)
        #expect(try metrics.expectTimer("jinglekit_call_setup_seconds", [("direction", "outgoing")]).values.count == 1)
    }
}
