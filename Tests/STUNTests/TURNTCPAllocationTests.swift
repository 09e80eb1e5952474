import Testing
import STUN
@testable import TURNServer

/// TCP allocations (RFC 6062) in the allocation engine: Allocate with REQUESTED-TRANSPORT TCP,
/// Connect, ConnectionAttempt, ConnectionBind, the 30 s bind timer and the ways a peer
/// connection ends.
@Suite struct TURNTCPAllocationTests {
    static let peer = TransportAddress("203.0.113.5:7000")!
    static let otherPeer = TransportAddress("203.0.113.6:7000")!

    static func tcpTuple(_ n: Int, port: UInt16 = 40000) -> FiveTuple {
        FiveTuple(
            client: TransportAddress(ip: .v4(0xCB00_7100 | UInt32(n)), port: port), server: TURNHarness.serverAddress,
            transport: .tcp)
    }

    func last(_ h: TURNHarness, _ t: FiveTuple) throws -> STUNMessage {
        try STUNMessage.decode(try #require(h.toClient[t]?.last))
    }

    /// A TCP allocation on `t`; returns its relayed address.
    func allocateTCP(_ h: TURNHarness, _ t: FiveTuple) throws -> TransportAddress {
        _ = h.raw(h.signedRequest(.allocate, [.requestedTransport(6)], from: t), from: t)
        let response = try last(h, t)
        #expect(response.type.messageClass == .successResponse)
        return try #require(response.attributes.compactMap { if case .xorRelayedAddress(let a) = $0 { a } else { nil } }.first)
    }

    /// Connect to `peer`, the driver's connection comes up: returns the CONNECTION-ID.
    func connect(_ h: TURNHarness, _ t: FiveTuple, to peer: TransportAddress) throws -> PeerConnectionID {
        _ = h.raw(h.signedRequest(.connect, [.xorPeerAddress(peer)], from: t), from: t)
        let asked = try #require(h.peerConnects.last)
        #expect(asked.to == peer)
        h.serve(h.server.peerConnectionEstablished(asked.id, now: h.now))
        let response = try last(h, t)
        #expect(response.type == STUNMessageType(method: .connect, messageClass: .successResponse))
        #expect(response.connectionID == asked.id)
        return asked.id
    }

    @Test func tcpAllocationListensAndRefusesUDPOnlyOptions() throws {
        let h = TURNHarness()
        let t = Self.tcpTuple(1)
        for extra: [STUNAttribute] in [
            [.dontFragment], [.evenPort(reserveNext: false)], [.reservationToken([1, 2, 3, 4, 5, 6, 7, 8])],
            [.additionalAddressFamily(.ipv6)],
        ] {
            _ = h.raw(h.signedRequest(.allocate, [.requestedTransport(6)] + extra, from: t), from: t)
            #expect(h.lastErrorCode(t) == 400, "\(extra)")
        }
        let relay = try allocateTCP(h, t)
        #expect(h.tcpRelays == [relay])
        #expect(h.openRelays.isEmpty, "no UDP socket for a TCP allocation")
    }

    @Test func connectAnswersWithTheConnectionIDAndRefusesASecondToTheSamePeer() throws {
        let h = TURNHarness()
        let t = Self.tcpTuple(1)
        let relay = try allocateTCP(h, t)
        _ = h.raw(h.signedRequest(.connect, [.xorPeerAddress(Self.peer)], from: t), from: t)
        let asked = try #require(h.peerConnects.first)
        #expect(asked.from == relay)
        #expect(h.toClient[t]?.count == 3, "no answer until the driver reports (401, allocate success, nothing yet)")
        // A second Connect to the same peer while the first is under way, and after it is up.
        _ = h.raw(h.signedRequest(.connect, [.xorPeerAddress(Self.peer)], from: t), from: t)
        #expect(h.lastErrorCode(t) == 446)
        h.serve(h.server.peerConnectionEstablished(asked.id, now: h.now))
        #expect(try last(h, t).connectionID == asked.id)
        _ = h.raw(h.signedRequest(.connect, [.xorPeerAddress(Self.peer)], from: t), from: t)
        #expect(h.lastErrorCode(t) == 446)
        // Another peer is fine; its connection failing answers 447.
        _ = h.raw(h.signedRequest(.connect, [.xorPeerAddress(Self.otherPeer)], from: t), from: t)
        let second = try #require(h.peerConnects.last)
        #expect(second.id != asked.id)
        h.serve(h.server.peerConnectionFailed(second.id, now: h.now))
        #expect(h.lastErrorCode(t) == 447)
        #expect(h.server.statistics.peerConnectionsConnected == 1)
        #expect(h.server.statistics.peerConnectionsFailed == 1)
        #expect(h.server.stateSizes.peerConnections == 1)
    }

    @Test func connectRefusals() throws {
        let h = TURNHarness()
        // No allocation on this connection: 437.
        let none = Self.tcpTuple(9)
        _ = h.raw(h.signedRequest(.connect, [.xorPeerAddress(Self.peer)], from: none), from: none)
        #expect(h.lastErrorCode(none) == 437)
        // A UDP allocation cannot Connect: 400.
        let udp = h.addClient(TURNHarness.tuple(1))
        h.client(udp) { $0.allocate(now: $1) }
        _ = h.raw(h.signedRequest(.connect, [.xorPeerAddress(Self.peer)], from: udp), from: udp)
        #expect(h.lastErrorCode(udp) == 400)
        let t = Self.tcpTuple(1)
        _ = try allocateTCP(h, t)
        // No peer: 400; a filtered peer: 403; an IPv6 peer with an IPv4 relay: 443.
        _ = h.raw(h.signedRequest(.connect, [], from: t), from: t)
        #expect(h.lastErrorCode(t) == 400)
        _ = h.raw(h.signedRequest(.connect, [.xorPeerAddress(TransportAddress("10.0.0.1:80")!)], from: t), from: t)
        #expect(h.lastErrorCode(t) == 403)
        _ = h.raw(h.signedRequest(.connect, [.xorPeerAddress(TransportAddress("[2001:db8:ffff::1]:80")!)], from: t), from: t)
        #expect(h.lastErrorCode(t) == 443)
        #expect(h.peerConnects.isEmpty)
    }

    @Test func connectionBindJoinsANewConnectionOfTheSameUser() throws {
        let h = TURNHarness()
        let t = Self.tcpTuple(1)
        _ = try allocateTCP(h, t)
        let id = try connect(h, t, to: Self.peer)
        // Over UDP, on the control connection itself, for an unknown ID, by another user: refused.
        let udp = TURNHarness.tuple(5)
        _ = h.raw(h.signedRequest(.connectionBind, [.connectionID(id)], from: udp), from: udp)
        #expect(h.lastErrorCode(udp) == 400)
        _ = h.raw(h.signedRequest(.connectionBind, [.connectionID(id)], from: t), from: t)
        #expect(h.lastErrorCode(t) == 400)
        let data = Self.tcpTuple(1, port: 40001)
        _ = h.raw(h.signedRequest(.connectionBind, [.connectionID(id &+ 1)], from: data), from: data)
        #expect(h.lastErrorCode(data) == 400)
        _ = h.raw(h.signedRequest(.connectionBind, [.connectionID(id)], from: data, username: "bob", password: "hunter2"), from: data)
        #expect(h.lastErrorCode(data) == 441)
        #expect(h.joined.isEmpty)
        // The right one: success, then the driver joins the two.
        _ = h.raw(h.signedRequest(.connectionBind, [.connectionID(id)], from: data), from: data)
        #expect(try last(h, data).type == STUNMessageType(method: .connectionBind, messageClass: .successResponse))
        #expect(h.joined.count == 1 && h.joined[0].id == id && h.joined[0].tuple == data)
        // Bound once only.
        let again = Self.tcpTuple(1, port: 40002)
        _ = h.raw(h.signedRequest(.connectionBind, [.connectionID(id)], from: again), from: again)
        #expect(h.lastErrorCode(again) == 400)
        #expect(h.server.statistics.peerConnectionsJoined == 1)
    }

    @Test func aPeerConnectingNeedsAPermissionAndIsAnnounced() throws {
        let h = TURNHarness()
        let t = Self.tcpTuple(1)
        let relay = try allocateTCP(h, t)
        #expect(h.server.peerConnectionAccepted(from: Self.peer, on: relay, now: h.now).id == nil, "no permission yet")
        _ = h.raw(h.signedRequest(.createPermission, [.xorPeerAddress(Self.peer)], from: t), from: t)
        let (id, actions) = h.server.peerConnectionAccepted(from: Self.peer, on: relay, now: h.now)
        let accepted = try #require(id)
        h.serve(actions)
        let attempt = try last(h, t)
        #expect(attempt.type == STUNMessageType(method: .connectionAttempt, messageClass: .indication))
        #expect(attempt.xorPeerAddresses == [Self.peer])
        #expect(attempt.connectionID == accepted)
        // A UDP allocation's relayed address takes no TCP connections.
        let udp = h.addClient(TURNHarness.tuple(1))
        h.client(udp) { $0.allocate(now: $1) }
        let udpRelay = try #require(h.relay(udp))
        #expect(h.server.peerConnectionAccepted(from: Self.peer, on: udpRelay, now: h.now).id == nil)
        // The client binds it like a Connect's connection.
        let data = Self.tcpTuple(1, port: 40001)
        _ = h.raw(h.signedRequest(.connectionBind, [.connectionID(accepted)], from: data), from: data)
        #expect(h.joined.first?.id == accepted)
        #expect(h.server.statistics.peerConnectionsAccepted == 1)
    }

    @Test func aConnectionNotBoundIn30SecondsIsClosed() throws {
        let h = TURNHarness()
        let t = Self.tcpTuple(1)
        _ = try allocateTCP(h, t)
        let unbound = try connect(h, t, to: Self.peer)
        let bound = try connect(h, t, to: Self.otherPeer)
        let data = Self.tcpTuple(1, port: 40001)
        _ = h.raw(h.signedRequest(.connectionBind, [.connectionID(bound)], from: data), from: data)
        h.advance(by: 29)
        #expect(h.closedPeerConnections.isEmpty)
        h.advance(by: 2)
        #expect(h.closedPeerConnections == [unbound])
        #expect(h.server.stateSizes.peerConnections == 1)
    }

    @Test func peerConnectionsEndWithEitherSideAndWithTheAllocation() throws {
        let h = TURNHarness()
        let t = Self.tcpTuple(1)
        _ = try allocateTCP(h, t)
        let a = try connect(h, t, to: Self.peer)
        let b = try connect(h, t, to: Self.otherPeer)
        let c = try connect(h, t, to: TransportAddress("203.0.113.7:7000")!)
        let dataA = Self.tcpTuple(1, port: 40001)
        _ = h.raw(h.signedRequest(.connectionBind, [.connectionID(a)], from: dataA), from: dataA)
        // The client's data connection closes: its peer connection goes; the allocation stays.
        h.serve(h.server.clientDisconnected(dataA, now: h.now))
        #expect(h.closedPeerConnections == [a])
        #expect(h.server.allocationCount == 1)
        // The peer closes.
        h.serve(h.server.peerConnectionClosed(b, now: h.now))
        #expect(h.closedPeerConnections == [a, b])
        // The allocation ends (the control connection closes): the rest go with it.
        h.serve(h.server.clientDisconnected(t, now: h.now))
        #expect(h.closedPeerConnections == [a, b, c])
        #expect(h.tcpRelays.isEmpty)
        #expect(h.server.stateSizes.isEmpty, "\(h.server.stateSizes)")
    }

    /// A Connect still under way when its allocation ends: the connection that comes up later is
    /// closed at once, and one that fails is forgotten quietly.
    @Test func aConnectOutlivingItsAllocationIsClosedWhenItComesUp() throws {
        let h = TURNHarness()
        let t = Self.tcpTuple(1)
        _ = try allocateTCP(h, t)
        _ = h.raw(h.signedRequest(.connect, [.xorPeerAddress(Self.peer)], from: t), from: t)
        _ = h.raw(h.signedRequest(.connect, [.xorPeerAddress(Self.otherPeer)], from: t), from: t)
        let (first, second) = (h.peerConnects[0].id, h.peerConnects[1].id)
        h.serve(h.server.clientDisconnected(t, now: h.now))
        let answered = h.toClient[t]?.count
        h.serve(h.server.peerConnectionEstablished(first, now: h.now))
        #expect(h.closedPeerConnections.last == first)
        h.serve(h.server.peerConnectionFailed(second, now: h.now))
        #expect(h.toClient[t]?.count == answered, "nothing is sent on the closed control connection")
        #expect(h.server.stateSizes.isEmpty, "\(h.server.stateSizes)")
    }

    @Test func channelsAndSendIndicationsAreRefusedOnATCPAllocation() throws {
        let h = TURNHarness()
        let t = Self.tcpTuple(1)
        _ = try allocateTCP(h, t)
        _ = h.raw(h.signedRequest(.channelBind, [.channelNumber(0x4000), .xorPeerAddress(Self.peer)], from: t), from: t)
        #expect(h.lastErrorCode(t) == 400)
        _ = h.raw(h.signedRequest(.createPermission, [.xorPeerAddress(Self.peer)], from: t), from: t)
        let send = STUNMessage(.send, .indication, attributes: [.xorPeerAddress(Self.peer), .data([1, 2, 3])]).encode()
        _ = h.raw(send, from: t)
        #expect(h.peerReceived.isEmpty)
        #expect(h.server.statistics.packetsToPeer == 0)
    }

    @Test func peerConnectionsPerAllocationAreLimitedAndTCPCanBeSwitchedOff() throws {
        let h = TURNHarness(configuration: TURNHarness.configuration { $0.maxPeerConnectionsPerAllocation = 2 })
        let t = Self.tcpTuple(1)
        let relay = try allocateTCP(h, t)
        _ = try connect(h, t, to: Self.peer)
        _ = try connect(h, t, to: Self.otherPeer)
        _ = h.raw(h.signedRequest(.connect, [.xorPeerAddress(TransportAddress("203.0.113.7:7000")!)], from: t), from: t)
        #expect(h.lastErrorCode(t) == 403)
        _ = h.raw(h.signedRequest(.createPermission, [.xorPeerAddress(Self.peer)], from: t), from: t)
        #expect(h.server.peerConnectionAccepted(from: TransportAddress("203.0.113.5:7001")!, on: relay, now: h.now).id == nil)
        #expect(h.server.statistics.drops[.quota] == 1)

        let off = TURNHarness(configuration: TURNHarness.configuration { $0.tcpAllocations = false })
        _ = off.raw(off.signedRequest(.allocate, [.requestedTransport(6)], from: t), from: t)
        #expect(off.lastErrorCode(t) == 442)
    }

    /// With several engines (one per relay thread), each engine's CONNECTION-IDs are its index
    /// modulo the count, so the relay can hand a ConnectionBind to the right one.
    @Test func connectionIDsNameTheirShard() throws {
        let h = TURNHarness(configuration: TURNHarness.configuration { $0.connectionIDShard = (2, 3) })
        let t = Self.tcpTuple(1)
        _ = try allocateTCP(h, t)
        for n in 0..<20 {
            let id = try connect(h, t, to: TransportAddress(ip: .v4(0xCB00_7100 + UInt32(n)), port: 80))
            #expect(id % 3 == 2)
        }
    }

    @Test func connectionIDAttributeRoundTrips() throws {
        let message = STUNMessage(.connectionAttempt, .indication, attributes: [.connectionID(0xDEAD_BEEF)])
        let decoded = try STUNMessage.decode(message.encode())
        #expect(decoded.connectionID == 0xDEAD_BEEF)
        #expect(decoded.unknownComprehensionRequired.isEmpty)
        #expect(STUNMethod.connect.description == "Connect")
        #expect(STUNErrorCode.connectionTimeoutOrFailure.reason == "Connection Timeout or Failure")
    }
}
