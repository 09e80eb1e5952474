import CallTestSupport
import Jingle
import JingleKit
import Testing
import XMLStream
import XMPPClient
import XMPPCore

/// Calls between call managers on real XMPP sessions through the private Prosody (carbons via
/// mod_carbons): JMI with two devices, direct Jingle, decline, no answer, and a forged request.
@Suite(.serialized) struct CallProsodyTests {
    func connect(_ user: String, _ resource: String) async throws -> XMPPClient {
        let prosody = try await ProsodyFixture.shared()
        let configuration = XMPPClientConfiguration(
            jid: JID(localpart: user, domainpart: prosody.domain, resourcepart: resource), password: try prosody.password(user),
            server: .init(host: "127.0.0.1", port: prosody.port), trustedCAFile: prosody.caFile,
            connectTimeout: .seconds(5), negotiationStepTimeout: .seconds(10), requestTimeout: .seconds(10))
        let client = XMPPClient(configuration: configuration)
        try await client.connect()
        return client
    }

    func manager(_ client: XMPPClient) async throws -> CallManager {
        let m = try await CallManager.forClient(client)
        let carbons = await m.start()
        #expect(carbons, "Prosody enables XEP-0280 carbons")
        return m
    }

    /// alice and bob logged in as `resource`, each with a started call manager, bob's presence
    /// settled by a round trip through the server before anyone calls him.
    func aliceAndBob(_ resource: String) async throws -> (clients: [XMPPClient], alice: CallManager, bob: CallManager) {
        let clients = [try await connect("alice", resource), try await connect("bob", resource)]
        do {
            let alice = try await manager(clients[0])
            let bob = try await manager(clients[1])
            _ = try await clients[1].ping(nil, timeout: .seconds(10))
            return (clients, alice, bob)
        } catch {
            disconnect(clients)
            throw error
        }
    }

    func disconnect(_ clients: [XMPPClient]) {
        Task {
            for client in clients { await client.disconnect() }
        }
    }

    @Test func jmiCallToTwoDevicesIsAnsweredOnOneAndTheOtherStopsRinging() async throws {
        let aliceClient = try await connect("alice", "call-a")
        let deskClient = try await connect("bob", "call-desk")
        let phoneClient = try await connect("bob", "call-phone")
        defer {
            Task {
                await aliceClient.disconnect(); await deskClient.disconnect(); await phoneClient.disconnect()
            }
        }
        let alice = try await manager(aliceClient)
        let desk = try await manager(deskClient)
        let phone = try await manager(phoneClient)
        // Both of bob's resources must be available before the proposal goes to his bare JID:
        // a round trip through the server after their presence settles it.
        _ = try await deskClient.ping(nil, timeout: .seconds(10))
        _ = try await phoneClient.ping(nil, timeout: .seconds(10))

        let outgoing = try await alice.placeCall(to: JID("bob@localhost")!, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let onDesk = try await nextIncoming(desk)
        let onPhone = try await nextIncoming(phone)
        let phoneEvents = EventReader(onPhone)
        let deskEvents = EventReader(onDesk)
        _ = try await aliceEvents.next("ringing") { if case .ringing = $0 { true } else { false } }
        try await onDesk.accept()
        #expect(try await phoneEvents.ended() == .answeredElsewhere)
        _ = try await aliceEvents.next("accepted") { $0 == .accepted }
        _ = try await deskEvents.next("accepted") { $0 == .accepted }
        #expect(await outgoing.remoteDevice == JID("bob@localhost/call-desk"))
        let stats = await outgoing.statistics
        #expect(stats.proposeToRinging != nil && stats.proposeToProceed != nil && stats.initiateToAccept != nil)
        print(
            "JMI call setup through Prosody: propose->ringing \(stats.proposeToRinging!), propose->proceed \(stats.proposeToProceed!), initiate->accept \(stats.initiateToAccept!), total \(stats.setup!)"
        )

        await onDesk.hangUp()
        #expect(try await aliceEvents.ended() == .completed(byPeer: true))
    }

    @Test func directCallIsDeclinedAndAForgedTerminateIsRefused() async throws {
        let aliceClient = try await connect("alice", "call-d")
        let bobClient = try await connect("bob", "call-d")
        let carolClient = try await connect("carol", "call-d")
        defer {
            Task {
                await aliceClient.disconnect(); await bobClient.disconnect(); await carolClient.disconnect()
            }
        }
        let alice = try await manager(aliceClient)
        let bob = try await manager(bobClient)
        let bobJID = JID("bob@localhost/call-d")!

        // Declined.
        let first = try await alice.placeCall(to: bobJID, useJMI: false, timeout: .seconds(30))
        let firstEvents = EventReader(first)
        try await nextIncoming(bob).reject()
        #expect(try await firstEvents.ended() == .declined(byPeer: true))

        // Answered; carol's terminate for the same sid is refused and the call goes on.
        let second = try await alice.placeCall(to: bobJID, useJMI: false, timeout: .seconds(30))
        let secondEvents = EventReader(second)
        let incoming = try await nextIncoming(bob)
        try await incoming.accept()
        _ = try await secondEvents.next("accepted") { $0 == .accepted }
        let forged = JingleElement(action: .sessionTerminate, sid: second.sid, reason: Reason(.success))
            .iq(id: await carolClient.makeID(), to: JID("alice@localhost/call-d")!)
        do {
            _ = try await carolClient.sendIQ(forged, timeout: .seconds(10))
            Issue.record("a terminate from a non-peer was accepted")
        } catch {
            guard case .stanza(let e) = error else { Issue.record("unexpected \(error)"); return }
            #expect(e.condition == .itemNotFound)
        }
        #expect(await second.state == .active)
        await second.hangUp()
        #expect(try await EventReader(incoming).ended() == .completed(byPeer: true))
    }

    @Test func unansweredJMICallIsRetractedOnTimeout() async throws {
        let (clients, alice, bob) = try await aliceAndBob("call-t")
        defer { disconnect(clients) }
        let outgoing = try await alice.placeCall(to: JID("bob@localhost")!, timeout: .milliseconds(800))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bob)
        let bobEvents = EventReader(incoming)
        #expect(try await aliceEvents.ended() == .noAnswer)
        #expect(try await bobEvents.ended() == .noAnswer)
    }

    @Test func busyRejectAndCancelWhileRingingOverJMI() async throws {
        let (clients, alice, bob) = try await aliceAndBob("call-b")
        defer { disconnect(clients) }

        let busy = try await alice.placeCall(to: JID("bob@localhost")!, timeout: .seconds(30))
        let busyEvents = EventReader(busy)
        try await nextIncoming(bob).reject(reason: Reason(.busy))
        #expect(try await busyEvents.ended() == .busy(byPeer: true))

        let cancelled = try await alice.placeCall(to: JID("bob@localhost")!, timeout: .seconds(30))
        let cancelledEvents = EventReader(cancelled)
        let incoming = try await nextIncoming(bob)
        let bobEvents = EventReader(incoming)
        _ = try await cancelledEvents.next("ringing") { if case .ringing = $0 { true } else { false } }
        await cancelled.hangUp()
        #expect(try await bobEvents.ended() == .cancelled(byPeer: true))
        #expect(await cancelled.state == .ended(.cancelled(byPeer: false)))
    }
}
