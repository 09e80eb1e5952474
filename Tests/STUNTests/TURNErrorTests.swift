import Testing
import STUN
@testable import TURNServer

/// Every error code the allocation engine produces, each from the situation that causes it.
@Suite struct TURNErrorTests {
    static let peer = TransportAddress("203.0.113.5:7000")!

    @Test func allocationMismatch437() {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        // A second Allocate on the same 5-tuple (new transaction).
        h.client(t) { $0.allocate(now: $1) }
        #expect(h.lastEvent(t) == .failed(.allocate, STUNErrorCode(437)))
        // Refresh, CreatePermission and ChannelBind with no allocation.
        let u = h.addClient(TURNHarness.tuple(2))
        h.client(u) { $0.refresh(lifetime: 600, now: $1) }
        #expect(h.lastEvent(u) == .failed(.refresh, STUNErrorCode(437)))
        h.client(u) { $0.createPermission([Self.peer.ip], now: $1) }
        #expect(h.lastEvent(u) == .failed(.createPermission, STUNErrorCode(437)))
        h.client(u) { $0.bindChannel(Self.peer, now: $1) }
        #expect(h.lastEvent(u) == .failed(.channelBind, STUNErrorCode(437)))
    }

    @Test func wrongCredentials441() {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        h.addClient(t, username: "bob", password: "hunter2")
        h.client(t) { $0.refresh(lifetime: 600, now: $1) }
        #expect(h.lastEvent(t) == .failed(.refresh, STUNErrorCode(441)))
        h.client(t) { $0.createPermission([Self.peer.ip], now: $1) }
        #expect(h.lastEvent(t) == .failed(.createPermission, STUNErrorCode(441)))
    }

    @Test func unsupportedTransport442AndMissing400() {
        let h = TURNHarness()
        let t = TURNHarness.tuple(1)
        _ = h.raw(h.signedRequest(.allocate, [.requestedTransport(132)], from: t), from: t)
        #expect(h.lastErrorCode(t) == 442)
        // TCP (6) is known, but a TCP allocation over UDP is a bad request (RFC 6062 §5.1).
        _ = h.raw(h.signedRequest(.allocate, [.requestedTransport(6)], from: t), from: t)
        #expect(h.lastErrorCode(t) == 400)
        _ = h.raw(h.signedRequest(.allocate, [], from: t), from: t)
        #expect(h.lastErrorCode(t) == 400)
        _ = h.raw(
            h.signedRequest(
                .allocate,
                [
                    .requestedTransport(17), .reservationToken([1, 2, 3, 4, 5, 6, 7, 8]),
                    .evenPort(reserveNext: false),
                ], from: t), from: t)
        #expect(h.lastErrorCode(t) == 400)
        _ = h.raw(
            h.signedRequest(
                .allocate,
                [
                    .requestedTransport(17), .requestedAddressFamily(.ipv4),
                    .additionalAddressFamily(.ipv6),
                ], from: t), from: t)
        #expect(h.lastErrorCode(t) == 400)
        _ = h.raw(h.signedRequest(.allocate, [.requestedTransport(17), .additionalAddressFamily(.ipv4)], from: t), from: t)
        #expect(h.lastErrorCode(t) == 400)
        #expect(h.server.allocationCount == 0)
    }

    @Test func unauthenticated401() throws {
        let h = TURNHarness()
        let t = TURNHarness.tuple(1)
        let first = try STUNMessage.decode(
            try #require(h.raw(STUNMessage(.allocate, .request, attributes: [.requestedTransport(17)]).encode(), from: t).last))
        #expect(first.errorCode?.code == 401)
        #expect(first.realm == "example.org")
        #expect(first.nonce != nil)
        #expect(first.passwordAlgorithms == [.md5, .sha256])
        #expect(!first.has(.messageIntegrity))
        _ = h.raw(h.signedRequest(.allocate, [.requestedTransport(17)], from: t, password: "wrong"), from: t)
        #expect(h.lastErrorCode(t) == 401)
        _ = h.raw(h.signedRequest(.allocate, [.requestedTransport(17)], from: t, username: "mallory"), from: t)
        #expect(h.lastErrorCode(t) == 401)
        #expect(h.server.statistics.authFailures == 2)
        let u = h.addClient(TURNHarness.tuple(2), password: "nope")
        h.client(u) { $0.allocate(now: $1) }
        #expect(h.lastEvent(u) == .failed(.allocate, STUNErrorCode(401)))
    }

    @Test func missingRealmOrNonceIs400() {
        let h = TURNHarness()
        let t = TURNHarness.tuple(1)
        let key = STUNKey.longTerm(username: "alice", realm: "example.org", password: "secret")
        let request = STUNMessage(.allocate, .request, attributes: [.requestedTransport(17), .username("alice")]).encode(key: key)
        _ = h.raw(request, from: t)
        #expect(h.lastErrorCode(t) == 400)
    }

    @Test func passwordAlgorithmMismatchIs400() {
        let h = TURNHarness()
        let t = TURNHarness.tuple(1)
        _ = h.raw(
            h.signedRequest(
                .allocate,
                [
                    .requestedTransport(17), .passwordAlgorithms([.sha256]),
                    .passwordAlgorithm(.sha256),
                ], from: t), from: t)
        #expect(h.lastErrorCode(t) == 400)
        _ = h.raw(h.signedRequest(.allocate, [.requestedTransport(17), .passwordAlgorithm(.md5)], from: t), from: t)
        #expect(h.lastErrorCode(t) == 400)
    }

    @Test func staleNonce438AndClientRecovers() throws {
        let h = TURNHarness()
        let t = TURNHarness.tuple(1)
        let nonce = h.fetchNonce(from: t)
        h.now = h.now + .seconds(601)
        _ = h.raw(h.signedRequest(.allocate, [.requestedTransport(17)], from: t, nonce: nonce), from: t)
        #expect(h.lastErrorCode(t) == 438)
        let fresh = try STUNMessage.decode(try #require(h.toClient[t]?.last))
        #expect(fresh.nonce != nil && fresh.nonce != nonce)
        // A nonce issued to another client address is refused too.
        let other = TURNHarness.tuple(2)
        _ = h.raw(h.signedRequest(.allocate, [.requestedTransport(17)], from: other, nonce: fresh.nonce), from: other)
        #expect(h.lastErrorCode(other) == 438)
        // The client engine retries on 438 transparently across nonce expiry during refreshes.
        let c = h.addClient(TURNHarness.tuple(3)) { $0.requestedLifetime = 3600 }
        h.client(c) { $0.allocate(now: $1) }
        h.advance(by: 4 * 3600)
        #expect(h.server.allocationCount == 1)
        #expect(h.toClient[c]?.contains { (try? STUNMessage.decode($0))?.errorCode?.code == 438 } == true)
    }

    @Test func channelBindRules400() throws {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        let other = TransportAddress("203.0.113.6:7000")!
        h.client(t) { $0.bindChannel(Self.peer, number: 0x4001, now: $1) }
        #expect(h.lastEvent(t) == .channelBound(0x4001, Self.peer))
        h.client(t) { $0.bindChannel(other, number: 0x4001, now: $1) } // number taken by another peer
        #expect(h.lastEvent(t) == .failed(.channelBind, STUNErrorCode(400)))
        h.client(t) { $0.bindChannel(Self.peer, number: 0x4002, now: $1) } // peer already on another number
        #expect(h.lastEvent(t) == .failed(.channelBind, STUNErrorCode(400)))
        h.client(t) { $0.bindChannel(other, number: 0x3FFF, now: $1) } // outside 0x4000-0x4FFF
        #expect(h.lastEvent(t) == .failed(.channelBind, STUNErrorCode(400)))
        h.client(t) { $0.bindChannel(other, number: 0x5000, now: $1) }
        #expect(h.lastEvent(t) == .failed(.channelBind, STUNErrorCode(400)))
        // RFC 5766 numbers when configured for older clients.
        let legacy = TURNHarness(configuration: TURNHarness.configuration { $0.channelNumbers = ChannelData.legacyChannelRange })
        let l = legacy.addClient(TURNHarness.tuple(1))
        legacy.client(l) { $0.allocate(now: $1) }
        legacy.client(l) { $0.bindChannel(other, number: 0x7ABC, now: $1) }
        #expect(legacy.lastEvent(l) == .channelBound(0x7ABC, other))
        h.client(t) { $0.bindChannel(Self.peer, number: 0x4001, now: $1) } // rebinding the same pair refreshes
        #expect(h.lastEvent(t) == .channelBound(0x4001, Self.peer))
    }

    @Test func capacity508AndQuota486() {
        let h = TURNHarness(
            configuration: TURNHarness.configuration {
                $0.maxAllocations = 2; $0.maxAllocationsPerUser = 1
            })
        let a = h.addClient(TURNHarness.tuple(1))
        h.client(a) { $0.allocate(now: $1) }
        let a2 = h.addClient(TURNHarness.tuple(2))
        h.client(a2) { $0.allocate(now: $1) }
        #expect(h.lastEvent(a2) == .failed(.allocate, STUNErrorCode(486)))
        let b = h.addClient(TURNHarness.tuple(3), username: "bob", password: "hunter2")
        h.client(b) { $0.allocate(now: $1) }
        #expect(h.server.allocationCount == 2)
        let b2 = h.addClient(TURNHarness.tuple(4), username: "bob", password: "hunter2")
        h.client(b2) { $0.allocate(now: $1) }
        #expect(h.lastEvent(b2) == .failed(.allocate, STUNErrorCode(508)))
        // Freed quota can be used again.
        h.client(a) { $0.refresh(lifetime: 0, now: $1) }
        h.client(a2) { $0.allocate(now: $1) }
        #expect(h.server.allocationCount == 2)
    }

    @Test func portRangeExhaustionIs508() {
        let h = TURNHarness(configuration: TURNHarness.configuration { $0.portRange = 50000...50001 })
        for i in 1...2 {
            let t = h.addClient(TURNHarness.tuple(i))
            h.client(t) { $0.allocate(now: $1) }
        }
        #expect(h.server.allocationCount == 2)
        let t = h.addClient(TURNHarness.tuple(3))
        h.client(t) { $0.allocate(now: $1) }
        #expect(h.lastEvent(t) == .failed(.allocate, STUNErrorCode(508)))
    }

    @Test func addressFamilyNotSupported440() {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1)) { $0.requestedFamily = .ipv6 }
        h.client(t) { $0.allocate(now: $1) }
        #expect(h.lastEvent(t) == .failed(.allocate, STUNErrorCode(440)))
    }

    @Test func tryAlternate300() throws {
        let alternate = TransportAddress("192.0.2.99:3478")!
        let h = TURNHarness(configuration: TURNHarness.configuration { $0.alternateServer = alternate })
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        #expect(h.lastEvent(t) == .failed(.allocate, STUNErrorCode(300)))
        let response = try STUNMessage.decode(try #require(h.toClient[t]?.last))
        #expect(response.attribute(.alternateServer) == .alternateServer(alternate))
    }

    @Test func unknownComprehensionRequired420() throws {
        let h = TURNHarness()
        let t = TURNHarness.tuple(1)
        let request = STUNMessage(.allocate, .request, attributes: [.requestedTransport(17), .unknown(type: 0x0031, value: [1, 2, 3, 4])])
            .encode()
        let reply = try STUNMessage.decode(try #require(h.raw(request, from: t).last))
        #expect(reply.errorCode?.code == 420)
        #expect(reply.attribute(.unknownAttributes) == .unknownAttributes([0x0031]))
    }

    @Test func forbidden403ForDeniedPeers() {
        let h = TURNHarness()
        let t = h.addClient(TURNHarness.tuple(1))
        h.client(t) { $0.allocate(now: $1) }
        let denied = TransportAddress("10.1.2.3:80")!
        h.client(t) { $0.createPermission([denied.ip], now: $1) }
        #expect(h.lastEvent(t) == .failed(.createPermission, STUNErrorCode(403)))
        h.client(t) { $0.createPermission([Self.peer.ip, denied.ip], now: $1) } // all or nothing
        #expect(h.lastEvent(t) == .failed(.createPermission, STUNErrorCode(403)))
        h.client(t) { $0.bindChannel(denied, now: $1) }
        #expect(h.lastEvent(t) == .failed(.channelBind, STUNErrorCode(403)))
        // Send indications to a denied peer are dropped silently and counted.
        let send = STUNMessage(.send, .indication, attributes: [.xorPeerAddress(denied), .data([1])]).encode()
        #expect(h.raw(send, from: t).isEmpty)
        #expect(h.peerReceived.isEmpty)
        #expect(h.server.statistics.drops[.peerDenied] == 1)
        #expect(h.serverEvents.contains(.peerDenied(t, peer: denied.ip)))
    }

    /// Unauthenticated Binding: response no larger than request + mapped address.
    @Test(arguments: [false, true])
    func bindingDoesNotAmplify(fingerprint: Bool) throws {
        let h = TURNHarness()
        for t in [
            TURNHarness.tuple(1),
            FiveTuple(client: TransportAddress("[2001:db8:ffff::9]:5000")!, server: TURNHarness.serverAddress, transport: .udp),
        ] {
            let request = STUNMessage(.binding, .request).encode(fingerprint: fingerprint)
            let reply = try #require(h.raw(request, from: t).last)
            let mapped = t.client.ip.family == .ipv4 ? 12 : 24
            #expect(reply.count <= request.count + mapped)
            #expect(try STUNMessage.decode(reply).xorMappedAddress == t.client)
        }
    }

    @Test func malformedInputIsCountedNotFatal() {
        let h = TURNHarness()
        let t = TURNHarness.tuple(1)
        #expect(h.raw([0, 1, 0, 4, 0x21, 0x12, 0xA4, 0x42] + Array(repeating: 0, count: 12), from: t).isEmpty)
        #expect(h.raw([0x40, 0, 0, 9], from: t).isEmpty)
        #expect(h.server.statistics.drops[.malformed] == 2)
    }
}
