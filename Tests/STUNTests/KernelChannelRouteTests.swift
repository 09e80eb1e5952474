import Testing
import STUN
@testable import TURNServer

/// What the allocation engine lets the kernel fast path relay (`kernelChannelRoutes`): bound
/// channels with a live permission, for UDP clients only, with the earlier end of the two.
@Suite struct KernelChannelRouteTests {
    static let peer = TransportAddress("203.0.113.5:7000")!

    static func bound(_ h: TURNHarness, _ t: FiveTuple) throws -> TransportAddress {
        h.client(t) { $0.allocate(now: $1) }
        let relay = try #require(h.relay(t))
        h.client(t) { $0.bindChannel(Self.peer, now: $1) }
        #expect(h.lastEvent(t) == .channelBound(0x4000, Self.peer))
        return relay
    }

    @Test func aBoundChannelIsARouteUntilItsPermissionEnds() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        #expect(h.server.kernelChannelRoutes(now: h.now).isEmpty)
        let relay = try Self.bound(h, t)
        let routes = h.server.kernelChannelRoutes(now: h.now)
        #expect(
            routes == [
                KernelChannelRoute(
                    client: t.client, server: t.server, channel: 0x4000, peer: Self.peer, relay: relay,
                    expires: h.now + .seconds(300))
            ], "the permission (300 s) ends before the channel (600 s)")
        // After the permission's end without a refresh (the engine's clock only), nothing for
        // the kernel.
        h.now = h.now + .seconds(301)
        #expect(h.server.kernelChannelRoutes(now: h.now).isEmpty)
    }

    @Test func aRefreshMovesTheEndOn() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        _ = try Self.bound(h, t)
        h.now = h.now + .seconds(200)
        h.client(t) { $0.bindChannel(Self.peer, now: $1) }
        #expect(h.server.kernelChannelRoutes(now: h.now).first?.expires == h.now + .seconds(300))
    }

    @Test func aBandwidthCapKeepsEverythingInUserSpace() throws {
        let h = TURNHarness(configuration: TURNHarness.configuration { $0.bandwidthBytesPerSecond = 100_000 })
        let t = h.addClient(TURNHarness.tuple(1))
        _ = try Self.bound(h, t)
        #expect(h.server.kernelChannelRoutes(now: h.now).isEmpty)
    }

    @Test func streamClientsStayInUserSpace() throws {
        let h = TURNHarness()
        var tcp = TURNHarness.tuple(2)
        tcp.transport = .tcp
        let t = h.addClient(tcp) { $0.reliable = true }
        _ = try Self.bound(h, t)
        #expect(h.server.kernelChannelRoutes(now: h.now).isEmpty)
    }

    /// An IPv6 client given an IPv4 relayed address (it asked for no family, RFC 8656 §7.2): the
    /// client's leg and the peer's differ in family, and the kernel takes it (it replaces the
    /// IP header).
    @Test func legsOfDifferentFamiliesAreARoute() throws {
        let h = TURNHarness()
        let t = h.addClient(
            FiveTuple(
                client: TransportAddress("[2001:db8::77]:4000")!, server: TransportAddress("[2001:db8::1]:3478")!,
                transport: .udp))
        let relay = try Self.bound(h, t)
        #expect(relay.ip.family == .ipv4)
        #expect(h.server.kernelChannelRoutes(now: h.now).map(\.relay) == [relay])
    }

    @Test func aListenerOnTheUnspecifiedAddressIsNotTaken() throws {
        let h = TURNHarness()
        let t = h.addClient(
            FiveTuple(
                client: TransportAddress("203.0.113.77:4000")!, server: TransportAddress("0.0.0.0:3478")!,
                transport: .udp))
        _ = try Self.bound(h, t)
        #expect(h.server.kernelChannelRoutes(now: h.now).isEmpty)
    }
}
