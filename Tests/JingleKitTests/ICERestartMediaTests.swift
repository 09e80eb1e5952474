import CallTestSupport
import Jingle
import JingleKit
import Testing
import XMPPCore

/// ICE restart (RFC 8445 §9, XEP-0176 §2.4) on a real call: libnice on 127.0.0.1, DTLS-SRTP and
/// Opus between two call managers over the in-memory router. One side calls `restartICE()`, the
/// other answers through its CallManager; both get new ufrags, ICE connects again, and the tone
/// keeps arriving over the same DTLS-SRTP association. Real time ("RealTime" in the name).
@Suite struct RealTimeICERestartTests {
    static let loopback = CallMediaSettings(localAddresses: ["127.0.0.1"], discoverServers: false)

    /// A direct call alice -> bob with alice's tone heard at bob; the managers are returned so
    /// the test keeps them alive.
    func connectedCall() async throws -> (
        managers: [CallManager], outgoing: Call, incoming: Call, callerEvents: EventReader,
        calleeEvents: EventReader, watcher: LevelWatcher
    ) {
        let router = InMemoryRouter()
        let ac = await router.client("alice@localhost/desk"), bc = await router.client("bob@localhost/desk")
        let alice = CallManager(
            transport: ac, local: ac.jid,
            configuration: CallConfiguration(
                mediaTransports: ICEMediaTransportProvider(settings: Self.loopback)))
        let bob = CallManager(
            transport: bc, local: bc.jid,
            configuration: CallConfiguration(
                mediaTransports: ICEMediaTransportProvider(settings: Self.loopback)))
        await alice.start()
        await bob.start()
        let outgoing = try await alice.placeCall(to: bc.jid, useJMI: false, timeout: .seconds(30))
        outgoing.setAudioSource(ToneSource(frequency: 1000))
        let callerEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bob)
        let watcher = LevelWatcher()
        incoming.setAudioSink(watcher)
        let calleeEvents = EventReader(incoming)
        try await incoming.accept()
        _ = try await callerEvents.next("caller ICE connected") { if case .iceConnected = $0 { true } else { false } }
        _ = try await calleeEvents.next("callee ICE connected") { if case .iceConnected = $0 { true } else { false } }
        _ = try await calleeEvents.next("first audio") { $0 == .firstAudio }
        try await within(.seconds(15), "the tone before the restart") { await watcher.wait(consecutive: 10) { $0 > -40 } }
        return ([alice, bob], outgoing, incoming, callerEvents, calleeEvents, watcher)
    }

    @Test(arguments: [true, false]) func audioKeepsFlowingAcrossARestart(callerRestarts: Bool) async throws {
        let (managers, outgoing, incoming, callerEvents, calleeEvents, watcher) = try await connectedCall()
        let (restarter, restarterEvents, answererEvents) =
            callerRestarts
            ? (outgoing, callerEvents, calleeEvents) : (incoming, calleeEvents, callerEvents)
        let before = try #require(await incoming.mediaStatistics).packetsReceived

        try await restarter.restartICE()
        let mine = try await restarterEvents.next("ICE restarted here") { if case .iceRestarted = $0 { true } else { false } }
        let theirs = try await answererEvents.next("ICE restarted by the peer") { if case .iceRestarted = $0 { true } else { false } }
        guard case .iceRestarted(let local) = mine, case .iceRestarted(let peer) = theirs else { return }
        #expect(!local.byPeer && peer.byPeer)
        #expect(local.previousLocalUfrag != nil && local.localUfrag != local.previousLocalUfrag, "new ufrag here")
        #expect(local.previousRemoteUfrag != nil && local.remoteUfrag != local.previousRemoteUfrag, "new ufrag at the peer")
        #expect(local.localUfrag == peer.remoteUfrag && local.remoteUfrag == peer.localUfrag, "each side has the other's new ufrag")

        // ICE runs again on the new generation and reports a selected pair on both sides.
        _ = try await restarterEvents.next("ICE connected again here") { if case .iceConnected = $0 { true } else { false } }
        _ = try await answererEvents.next("ICE connected again at the peer") { if case .iceConnected = $0 { true } else { false } }

        // The tone keeps arriving: a second of it after reconnecting, over the same DTLS-SRTP keys
        // (a few of the frames played may come from packets the jitter buffer already held).
        let atReconnect = try #require(await incoming.mediaStatistics).packetsReceived
        try await within(.seconds(15), "the tone after the restart") { await watcher.wait(consecutive: 50) { $0 > -40 } }
        let after = try #require(await incoming.mediaStatistics)
        #expect(
            atReconnect >= before && after.packetsReceived >= atReconnect + 30,
            "packets: \(before) at the restart, \(atReconnect) at reconnection, \(after.packetsReceived) after")
        #expect(after.packetsRejected == 0, "SRTP kept its keys: no packet failed to unprotect")
        let states = (await outgoing.state, await incoming.state)
        #expect(states.0 == .active && states.1 == .active)

        await outgoing.hangUp()
        #expect(try await calleeEvents.ended() == .completed(byPeer: true))
        withExtendedLifetime(managers) {}
    }
}
