import Testing
import STUN
@testable import TURNServer

/// TURN client engine against the allocation engine over the simulated network.
@Suite struct TURNPairedTests {
    static let peer = TransportAddress("203.0.113.5:7000")!

    func allocated(_ h: TURNHarness, _ tuple: FiveTuple) -> Bool {
        h.events[tuple]?.contains { if case .allocated = $0 { true } else { false } } ?? false
    }

    @Test func allocateRetriesAfter401() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        #expect(allocated(h, t))
        let replies = try (h.toClient[t] ?? []).map { try STUNMessage.decode($0) }
        #expect(replies.count == 2)
        #expect(replies[0].errorCode?.code == 401)
        #expect(replies[0].realm == "example.org")
        #expect(replies[0].nonce?.hasPrefix("obMatJos2") == true)
        #expect(replies[1].type == STUNMessageType(method: .allocate, messageClass: .successResponse))
        #expect(replies[1].xorMappedAddress == t.client)
        let relay = try #require(h.relay(t))
        #expect(relay.ip == TURNHarness.relayIP)
        #expect((50000...50999).contains(relay.port))
        #expect(h.openRelays == [relay])
        #expect(h.server.allocationCount == 1)
    }

    @Test func dataFlowsThroughChannelAndIndications() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        let relay = try #require(h.relay(t))
        // No permission yet: a Send indication is dropped, and so is peer data.
        h.client(t) { c, _ in [.send(c.frame([1, 2, 3], to: Self.peer))] }
        #expect(h.peerReceived.isEmpty)
        h.peerSend([9], from: Self.peer, to: relay)
        #expect(h.server.statistics.drops[.noPermission] == 2)
        h.client(t) { $0.createPermission([Self.peer.ip], now: $1) }
        #expect(h.lastEvent(t) == .permissionCreated([Self.peer.ip]))
        h.client(t) { c, _ in [.send(c.frame([1, 2, 3], to: Self.peer))] }
        #expect(h.peerReceived.last?.data == [1, 2, 3])
        #expect(h.peerReceived.last?.from == relay)
        h.peerSend([4, 5], from: Self.peer, to: relay)
        #expect(h.lastEvent(t) == .data(from: Self.peer, [4, 5]))
        // Channel: both directions use ChannelData.
        h.client(t) { $0.bindChannel(Self.peer, now: $1) }
        #expect(h.lastEvent(t) == .channelBound(0x4000, Self.peer))
        let framed = try #require(h.clients[t]).frame([7, 7, 7], to: Self.peer)
        #expect(ChannelData.isChannelData(framed[0]))
        h.client(t) { _, _ in [.send(framed)] }
        #expect(h.peerReceived.last?.data == [7, 7, 7])
        h.peerSend([8], from: Self.peer, to: relay)
        #expect(h.toClient[t]?.last.map { ChannelData.isChannelData($0[0]) } == true)
        #expect(h.lastEvent(t) == .data(from: Self.peer, [8]))
        #expect(h.server.statistics.packetsToPeer == 2)
        #expect(h.server.statistics.packetsToClient == 2)
    }

    /// Six hours of virtual time: refreshes of allocation, permission and channel keep
    /// everything alive, in milliseconds of real time.
    @Test func hoursOfRefreshesKeepAllocationAlive() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        let relay = try #require(h.relay(t))
        h.client(t) { $0.bindChannel(Self.peer, now: $1) }
        h.advance(by: 6 * 3600)
        #expect(h.server.allocationCount == 1)
        let refreshes = h.events[t]?.filter { if case .refreshed = $0 { true } else { false } }.count ?? 0
        #expect(refreshes >= 6 * 3600 / 600)
        let framed = try #require(h.clients[t]).frame([1], to: Self.peer)
        h.client(t) { _, _ in [.send(framed)] }
        #expect(h.peerReceived.last?.data == [1])
        h.peerSend([2], from: Self.peer, to: relay)
        #expect(h.lastEvent(t) == .data(from: Self.peer, [2]))
        #expect(h.server.statistics.authFailures == 0)
    }

    @Test func allocationExpiresWithoutRefresh() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        let relay = try #require(h.relay(t))
        h.clients[t] = nil // the client goes away without refreshing
        h.advance(by: 599)
        #expect(h.server.allocationCount == 1)
        h.advance(by: 2)
        #expect(h.server.allocationCount == 0)
        #expect(!h.openRelays.contains(relay))
        #expect(h.serverEvents.contains(.allocationDeleted(t, reason: .expired)))
        h.peerSend([1], from: Self.peer, to: relay)
        #expect(h.server.statistics.drops[.noAllocation] == 1)
    }

    @Test func permissionExpiresAfter300Seconds() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        let relay = try #require(h.relay(t))
        h.client(t) { $0.createPermission([Self.peer.ip], now: $1) }
        h.clients[t] = nil // stop the client's automatic permission refresh
        h.advance(by: 301)
        h.peerSend([1], from: Self.peer, to: relay)
        #expect(h.server.statistics.packetsToClient == 0)
        #expect(h.server.statistics.drops[.noPermission] == 1)
    }

    /// A channel outlives its permission (600 s against 300 s): past the permission's expiry
    /// ChannelData is dropped both ways, and a CreatePermission alone (no new ChannelBind)
    /// brings the channel back (RFC 8656 §9, §12).
    @Test func aChannelCarriesDataOnlyWhileItsPermissionLasts() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        let relay = try #require(h.relay(t))
        h.client(t) { $0.bindChannel(Self.peer, now: $1) }
        h.client(t) { c, _ in [.send(c.frame([1], to: Self.peer))] }
        #expect(h.peerReceived.count == 1)
        let client = h.clients[t]
        h.clients[t] = nil // no automatic refreshes meanwhile
        h.advance(by: 301)
        h.clients[t] = client
        h.client(t) { c, _ in [.send(c.frame([2], to: Self.peer))] }
        h.peerSend([3], from: Self.peer, to: relay)
        #expect(h.peerReceived.count == 1)
        #expect(h.server.statistics.drops[.noPermission] == 2)
        h.client(t) { $0.createPermission([Self.peer.ip], now: $1) }
        h.client(t) { c, _ in [.send(c.frame([4], to: Self.peer))] }
        #expect(h.peerReceived.last?.data == [4])
        let before = h.server.statistics.packetsToClient
        h.peerSend([5], from: Self.peer, to: relay)
        #expect(h.server.statistics.packetsToClient == before + 1)
        #expect(h.server.statistics.indicationsToClient == 0, "back on the channel, not a Data indication")
    }

    @Test func refreshWithZeroLifetimeDeletes() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        h.client(t) { $0.refresh(lifetime: 0, now: $1) }
        #expect(h.lastEvent(t) == .deallocated)
        #expect(h.server.allocationCount == 0)
        #expect(h.openRelays.isEmpty)
    }

    @Test func lifetimeIsClampedToConfiguredRange() throws {
        let h = TURNHarness(configuration: TURNHarness.configuration { $0.maxLifetime = 1200 })
        let t = h.addClient(TURNHarness.tuple(1)) { $0.requestedLifetime = 99_999 }
        h.client(t) { $0.allocate(now: $1) }
        guard case .allocated(_, _, let lifetime, _)? = h.events[t]?.last else { Issue.record("not allocated"); return }
        #expect(lifetime == 1200)
        let short = h.addClient(TURNHarness.tuple(2)) { $0.requestedLifetime = 30 }
        h.client(short) { $0.allocate(now: $1) }
        guard case .allocated(_, _, let lifetime2, _)? = h.events[short]?.last else { Issue.record("not allocated"); return }
        #expect(lifetime2 == 600)
    }

    @Test func sha256AndUserhash() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1)) {
            $0.preferSHA256 = true; $0.useUserhash = true
        }
        h.client(t) { $0.allocate(now: $1) }
        #expect(allocated(h, t))
        let success = try STUNMessage.decode(try #require(h.toClient[t]?.last))
        #expect(success.has(.messageIntegritySHA256))
        #expect(!success.has(.messageIntegrity))
        let key = STUNKey.longTerm(username: "alice", realm: "example.org", password: "secret", algorithm: .sha256)
        #expect(success.verifyIntegrity(key: key) == .valid(.sha256))
        #expect(h.serverEvents.contains { if case .allocationCreated(_, "alice", _, _) = $0 { true } else { false } })
    }

    @Test func evenPortWithReservation() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1)) { $0.evenPort = true }
        h.client(t) { $0.allocate(now: $1) }
        guard case .allocated(let relays, _, _, let token?)? = h.events[t]?.last else { Issue.record("no token"); return }
        #expect(relays[0].port % 2 == 0)
        let t2 = h.addClient(TURNHarness.tuple(2)) { $0.reservationToken = token }
        h.client(t2) { $0.allocate(now: $1) }
        #expect(h.relay(t2)?.port == relays[0].port + 1)
        // A token works once.
        let t3 = h.addClient(TURNHarness.tuple(3)) { $0.reservationToken = token }
        h.client(t3) { $0.allocate(now: $1) }
        #expect(h.lastEvent(t3) == .failed(.allocate, STUNErrorCode(508)))
    }

    @Test func dualAllocationWithAdditionalFamily() throws {
        let h = TURNHarness(configuration: TURNHarness.configuration { $0.relayIPv6 = TURNHarness.relayIPv6 })
        let t = h.addClient(TURNHarness.tuple(1)) { $0.additionalFamily = .ipv6 }
        h.client(t) { $0.allocate(now: $1) }
        let relays = try #require(h.clients[t]).relayedAddresses
        #expect(relays.map(\.ip.family) == [.ipv4, .ipv6])
        let v6peer = TransportAddress("[2001:db8:ffff::5]:9000")!
        h.client(t) { $0.bindChannel(v6peer, now: $1) }
        let framed = try #require(h.clients[t]).frame([6], to: v6peer)
        h.client(t) { _, _ in [.send(framed)] }
        #expect(h.peerReceived.last?.from == relays[1])
        // Without an IPv6 relay, the IPv4 allocation succeeds with ADDRESS-ERROR-CODE 440.
        let h4 = TURNHarness()
        let t4 = h4.addClient(TURNHarness.tuple(1)) { $0.additionalFamily = .ipv6 }
        h4.client(t4) { $0.allocate(now: $1) }
        let success = try STUNMessage.decode(try #require(h4.toClient[t4]?.last))
        #expect(success.xorRelayedAddresses.count == 1)
        #expect(success.attribute(.addressErrorCode) == .addressErrorCode(family: .ipv6, error: STUNErrorCode(440)))
    }

    @Test func requestedIPv6Family() throws {
        let h = TURNHarness(configuration: TURNHarness.configuration { $0.relayIPv6 = TURNHarness.relayIPv6 })
        let t = h.addClient(TURNHarness.tuple(1)) { $0.requestedFamily = .ipv6 }
        h.client(t) { $0.allocate(now: $1) }
        #expect(h.relay(t)?.ip == TURNHarness.relayIPv6)
        // Peer of the other family: 443.
        h.client(t) { $0.createPermission([Self.peer.ip], now: $1) }
        #expect(h.lastEvent(t) == .failed(.createPermission, STUNErrorCode(443)))
    }

    @Test func allocateRetransmissionGetsSameAnswer() throws {
        let h = TURNHarness()
        let t = TURNHarness.tuple(1)
        let nonce = h.fetchNonce(from: t)
        let request = h.signedRequest(.allocate, [.requestedTransport(17)], from: t, nonce: nonce)
        let first = h.raw(request, from: t)
        let second = h.raw(request, from: t)
        #expect(first == second)
        #expect(h.server.allocationCount == 1)
    }

    @Test func clientRetransmitsOverLossyStart() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        // First transmission lost: take the actions but do not deliver them.
        var c = try #require(h.clients[t])
        _ = c.allocate(now: h.now)
        h.clients[t] = c
        h.advance(by: 1)
        #expect(allocated(h, t))
    }

    @Test func serverNeverAnswersWhenRelayFails() throws {
        let h = TURNHarness()
        h.failRelayOpen = true
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        #expect(h.lastEvent(t) == .failed(.allocate, STUNErrorCode(508)))
        #expect(h.server.allocationCount == 0)
    }

    @Test func bandwidthCapDropsExcess() throws {
        let h = TURNHarness(configuration: TURNHarness.configuration { $0.bandwidthBytesPerSecond = 1000 })
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        h.client(t) { $0.bindChannel(Self.peer, now: $1) }
        let framed = try #require(h.clients[t]).frame(Array(repeating: 0, count: 400), to: Self.peer)
        for _ in 0..<5 { h.client(t) { _, _ in [.send(framed)] } }
        #expect(h.peerReceived.count == 2)
        #expect(h.server.statistics.drops[.bandwidth] == 3)
        h.advance(by: 1)
        h.client(t) { _, _ in [.send(framed)] }
        #expect(h.peerReceived.count == 3)
    }
}
