import Testing
import STUN
@testable import TURNServer

/// Allocation churn soak at engine level (RFC 8656 §7-§12 state): thousands of allocations
/// created, used, refreshed and deleted or left to expire, over the simulated network and a
/// virtual clock. Every table the engine keeps must be empty again afterwards.
@Suite struct TURNChurnTests {
    static let peer = TransportAddress("203.0.113.7:7000")!

    static func tuple(_ i: Int) -> FiveTuple {
        FiveTuple(
            client: TransportAddress(ip: .v4(0xCB00_7100 | UInt32(i % 200)), port: UInt16(20000 + i % 30000)),
            server: TURNHarness.serverAddress, transport: .udp)
    }

    @Test func churnLeavesNoStateBehind() throws {
        let h = TURNHarness(
            configuration: TURNHarness.configuration {
                $0.relayIPv6 = TURNHarness.relayIPv6
                $0.maxAllocationsPerUser = 10_000
            })
        let cycles = 5000
        var expiring: [FiveTuple] = []
        for i in 0..<cycles {
            let t = Self.tuple(i)
            let kind = i % 4
            h.addClient(t) { c in
                if kind == 1 { c.evenPort = true }
                if kind == 2 { c.additionalFamily = .ipv6 }
            }
            h.client(t) { $0.allocate(now: $1) }
            guard case .allocated? = h.events[t]?.last else {
                Issue.record("cycle \(i): allocation failed: \(String(describing: h.events[t]))")
                return
            }
            switch kind {
            case 3:
                // Left to expire: the client goes away without refreshing or deleting.
                expiring.append(t)
            default:
                h.client(t) { $0.createPermission([Self.peer.ip], now: $1) }
                h.client(t) { $0.bindChannel(Self.peer, now: $1) }
                h.client(t) { $0.refresh(lifetime: 600, now: $1) }
                h.client(t) { $0.refresh(lifetime: 0, now: $1) }
                #expect(h.lastEvent(t) == .deallocated, "cycle \(i)")
            }
            h.clients[t] = nil
            h.events[t] = nil
            h.toClient[t] = nil
            // One virtual second per cycle: reservations (30 s) and idle allocations (600 s) expire along the way.
            h.advance(by: 1)
        }
        #expect(h.server.stateSizes.allocations <= 600 / 4 + 1)
        #expect(h.server.statistics.allocationsCreated == UInt64(cycles))
        // Past the longest lifetime, the channel cooldown and every reservation: nothing is left.
        h.advance(by: 4000)
        #expect(h.server.stateSizes.isEmpty, "\(h.server.stateSizes)")
        #expect(h.server.allocationCount == 0)
        #expect(h.openRelays.isEmpty)
        #expect(h.server.statistics.allocationsDeleted == UInt64(cycles))
        #expect(expiring.count == cycles / 4)
    }
}

/// A relayed port another process holds: the allocation moves to another port (bounded).
@Suite struct TURNPortInUseTests {
    @Test func allocationMovesPastPortsInUse() throws {
        let h = TURNHarness()
        h.relayPortsInUse = 3
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        guard case .allocated(let relays, _, _, _)? = h.lastEvent(t) else { Issue.record("\(String(describing: h.events[t]))"); return }
        // The response names the port that was finally bound, and only that port is held.
        #expect(h.openRelays == Set(relays))
        #expect(h.server.stateSizes.usedPorts == 1)
        #expect(h.server.stateSizes.relayOwners == 1)
        h.client(t) { $0.refresh(lifetime: 0, now: $1) }
        #expect(h.server.stateSizes.isEmpty)
    }

    @Test func allocationFailsWith508AfterTooManyPortsInUse() throws {
        let h = TURNHarness()
        h.relayPortsInUse = 100
        let t = h.addClient(TURNHarness.tuple(2))
        h.client(t) { $0.allocate(now: $1) }
        #expect(h.lastEvent(t) == .failed(.allocate, STUNErrorCode(508)))
        #expect(h.relayPortsInUse == 100 - 1 - TURNServerEngine.maximumBindRetries)
        #expect(h.server.stateSizes.isEmpty, "\(h.server.stateSizes)")
    }

    @Test func evenPortAllocationMovesToAnotherEvenPort() throws {
        let h = TURNHarness()
        h.relayPortsInUse = 2
        let t = h.addClient(TURNHarness.tuple(3)) { $0.evenPort = false }
        h.client(t) { $0.allocate(now: $1) }
        guard case .allocated(let relays, _, _, nil)? = h.lastEvent(t) else { Issue.record("\(String(describing: h.events[t]))"); return }
        #expect(relays[0].port % 2 == 0)
        #expect(h.openRelays == Set(relays))
        #expect(h.server.stateSizes.usedPorts == 1)
    }

    /// With the R bit the reserved odd port moves with the even one: the token then gets port + 1.
    @Test func evenPortReservationMovesWithItsPort() throws {
        let h = TURNHarness()
        h.relayPortsInUse = 3
        let t = h.addClient(TURNHarness.tuple(4)) { $0.evenPort = true }
        h.client(t) { $0.allocate(now: $1) }
        guard case .allocated(let relays, _, _, let token?)? = h.lastEvent(t) else {
            Issue.record("\(String(describing: h.events[t]))"); return
        }
        #expect(relays[0].port % 2 == 0)
        #expect(h.server.stateSizes.usedPorts == 2, "the even port and its reserved neighbour, nothing left behind")
        let t2 = h.addClient(TURNHarness.tuple(5)) { $0.reservationToken = token }
        h.client(t2) { $0.allocate(now: $1) }
        #expect(h.relay(t2)?.port == relays[0].port + 1)
    }

    /// A RESERVATION-TOKEN names one port: if it is taken, the allocation fails with 508.
    @Test func reservedPortDoesNotMove() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(6)) { $0.evenPort = true }
        h.client(t) { $0.allocate(now: $1) }
        guard case .allocated(_, _, _, let token?)? = h.lastEvent(t) else { Issue.record("no token"); return }
        h.relayPortsInUse = 1
        let t2 = h.addClient(TURNHarness.tuple(7)) { $0.reservationToken = token }
        h.client(t2) { $0.allocate(now: $1) }
        #expect(h.lastEvent(t2) == .failed(.allocate, STUNErrorCode(508)))
        #expect(h.server.stateSizes.usedPorts == 1, "only the first allocation's port")
    }
}
