#if canImport(Glibc)
    import Glibc
#endif
import Testing
import STUN
import TURNServer
@testable import RelayFastPath

/// The kernel fast path's program run by the kernel on frames built here (BPF_PROG_TEST_RUN):
/// what it rewrites, byte for byte with both checksums checked independently, and what it
/// leaves to user space (an expired entry, an unknown channel, trailing bytes). Needs root, as
/// loading any BPF program does; CI runs as root.
@Suite(.serialized) struct ChannelRelayProgramTests {
    static let client = TransportAddress("192.0.2.10:40000")!
    static let server = TransportAddress("192.0.2.1:3478")!
    /// A peer on this host (loopback), so the rewritten frame is delivered locally: verdict OK.
    static let peer = TransportAddress("127.0.0.1:7000")!
    static let relay = TransportAddress("127.0.0.1:50000")!
    static let channel: UInt16 = 0x4001

    static func program() throws -> ChannelRelayProgram {
        try RelayTestNetwork.requireRoot()
        return try ChannelRelayProgram()
    }

    static func route(
        expiresIn seconds: Double, client: TransportAddress = client, server: TransportAddress = server,
        peer: TransportAddress = peer, relay: TransportAddress = relay
    ) -> KernelChannelRoute {
        KernelChannelRoute(
            client: client, server: server, channel: channel, peer: peer, relay: relay,
            expires: currentTime() + .seconds(seconds))
    }

    // MARK: Frames and checksums, written here without the program's code

    static func sum(_ bytes: [UInt8]) -> UInt32 {
        var s: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count { s += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { s += UInt32(bytes[i]) << 8 }
        return s
    }

    static func fold(_ s: UInt32) -> UInt16 {
        var s = s
        while s >> 16 != 0 { s = (s & 0xFFFF) + (s >> 16) }
        return UInt16(s)
    }

    static func ipBytes(_ ip: IPAddress) -> [UInt8] {
        switch ip {
        case .v4(let a): (0..<4).map { UInt8(truncatingIfNeeded: a >> (24 - 8 * $0)) }
        case .v6(let hi, let lo):
            (0..<8).map { UInt8(truncatingIfNeeded: hi >> (56 - 8 * $0)) }
                + (0..<8).map { UInt8(truncatingIfNeeded: lo >> (56 - 8 * $0)) }
        }
    }

    static func be16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }

    /// An Ethernet frame carrying one UDP datagram; `checksum: false` leaves it zero (IPv4).
    static func frame(
        from source: TransportAddress, to destination: TransportAddress, payload: [UInt8],
        checksum: Bool = true
    ) -> [UInt8] {
        let v6 = source.ip.family == .ipv6
        let udpLength = 8 + payload.count
        var udp = be16(Int(source.port)) + be16(Int(destination.port)) + be16(udpLength) + [0, 0] + payload
        if checksum || v6 {
            let pseudo =
                ipBytes(source.ip) + ipBytes(destination.ip)
                + (v6
                    ? [0, 0] + be16(udpLength) + [0, 0, 0, 17]
                    : [0, 17] + be16(udpLength))
            var c = ~fold(sum(pseudo) + sum(udp))
            if c == 0 { c = 0xFFFF }
            udp[6] = UInt8(c >> 8); udp[7] = UInt8(c & 0xFF)
        }
        var ip: [UInt8]
        if v6 {
            ip = [0x60, 0, 0, 0] + be16(udpLength) + [17, 64] + ipBytes(source.ip) + ipBytes(destination.ip)
        } else {
            ip = [0x45, 0] + be16(20 + udpLength) + [0, 0, 0x40, 0, 64, 17, 0, 0] + ipBytes(source.ip) + ipBytes(destination.ip)
            let c = ~fold(sum(ip))
            ip[10] = UInt8(c >> 8); ip[11] = UInt8(c & 0xFF)
        }
        return [UInt8](repeating: 0, count: 12) + (v6 ? [0x86, 0xDD] : [0x08, 0x00]) + ip + udp
    }

    /// Checks a frame's IPv4 header checksum and UDP checksum (zero allowed for IPv4 when
    /// `zeroAllowed`), and returns its addresses and payload.
    static func parse(_ frame: [UInt8], zeroAllowed: Bool = false) -> (
        source: TransportAddress, destination: TransportAddress,
        payload: [UInt8], checksumsGood: Bool
    )? {
        guard frame.count >= 14 + 28 else { return nil }
        let v6 = frame[12] == 0x86
        let ipLength = v6 ? 40 : 20
        let ip = Array(frame[14..<(14 + ipLength)])
        let udp = Array(frame[(14 + ipLength)...])
        guard udp.count >= 8 else { return nil }
        let sourceIP: IPAddress, destinationIP: IPAddress
        var good = true
        if v6 {
            func v6(_ b: ArraySlice<UInt8>) -> IPAddress {
                let a = Array(b)
                return .v6(a[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, a[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
            }
            sourceIP = v6(ip[8..<24]); destinationIP = v6(ip[24..<40])
            good = good && Int(ip[4]) << 8 | Int(ip[5]) == udp.count
        } else {
            sourceIP = .v4(ip[12..<16].reduce(0) { $0 << 8 | UInt32($1) })
            destinationIP = .v4(ip[16..<20].reduce(0) { $0 << 8 | UInt32($1) })
            good = good && fold(sum(ip)) == 0xFFFF && Int(ip[2]) << 8 | Int(ip[3]) == 20 + udp.count
        }
        let udpLength = Int(udp[4]) << 8 | Int(udp[5])
        good = good && udpLength == udp.count
        if !(zeroAllowed && !v6 && udp[6] == 0 && udp[7] == 0) {
            let pseudo =
                ipBytes(sourceIP) + ipBytes(destinationIP)
                + (v6
                    ? [0, 0] + be16(udp.count) + [0, 0, 0, 17]
                    : [0, 17] + be16(udp.count))
            good = good && fold(sum(pseudo) + sum(udp)) == 0xFFFF
        }
        return (
            TransportAddress(ip: sourceIP, port: UInt16(udp[0]) << 8 | UInt16(udp[1])),
            TransportAddress(ip: destinationIP, port: UInt16(udp[2]) << 8 | UInt16(udp[3])), Array(udp[8...]), good
        )
    }

    static func channelData(_ payload: [UInt8], padded: Bool = false) -> [UInt8] {
        var bytes = be16(Int(channel)) + be16(payload.count) + payload
        if padded { bytes += [UInt8](repeating: 0, count: (4 - payload.count % 4) % 4) }
        return bytes
    }

    static let TC_ACT_OK: UInt32 = 0
    static let TC_ACT_REDIRECT: UInt32 = 7
    /// Not this program's: the next filter, or the stack, takes it (-1).
    static let TC_ACT_UNSPEC = UInt32(bitPattern: -1)

    // MARK: Tests

    @Test(arguments: [false, true])
    func channelDataBecomesTheDatagramToThePeer(ipv6: Bool) throws {
        let program = try Self.program()
        let (client, server, peer, relay) =
            ipv6
            ? (
                TransportAddress("[2001:db8::10]:40000")!, TransportAddress("[2001:db8::1]:3478")!,
                TransportAddress("[::1]:7000")!, TransportAddress("[::1]:50000")!
            )
            : (Self.client, Self.server, Self.peer, Self.relay)
        var table = KernelChannelTable(program: program)
        _ = table.sync([Self.route(expiresIn: 60, client: client, server: server, peer: peer, relay: relay)], now: currentTime())
        defer { _ = table.removeAll() }
        // Every length from 1 to 1500 bytes, unpadded with a checksum; then padding and a zero
        // checksum (IPv4) at a few.
        let cases = (1...1500).map { ($0, false, true) } + [(5, true, true), (333, true, true), (7, false, false), (1000, false, false)]
        var wrong: [Int] = []
        for (length, padded, checksum) in cases {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 7 + length) }
            let input = Self.frame(from: client, to: server, payload: Self.channelData(payload, padded: padded), checksum: checksum)
            let (verdict, output) = try program.testRun(frame: input)
            #expect(verdict == Self.TC_ACT_OK, "a local peer: delivered by the stack")
            guard let out = Self.parse(output, zeroAllowed: true), out.source == relay, out.destination == peer,
                out.payload == payload, out.checksumsGood
            else { wrong.append(length); continue }
            if !ipv6 && !checksum { #expect(output[14 + 20 + 6] == 0 && output[14 + 20 + 7] == 0, "a zero checksum stays zero") }
        }
        #expect(wrong.isEmpty, "lengths rewritten wrongly: \(wrong.prefix(20))")
        let relayed = table.sync(
            [Self.route(expiresIn: 60, client: client, server: server, peer: peer, relay: relay)], now: currentTime())
        #expect(
            relayed[FiveTuple(client: client, server: server, transport: .udp)]?.packetsToPeer == UInt64(cases.count), "per-route counters")
    }

    @Test(arguments: [false, true])
    func thePeersDatagramBecomesChannelDataToTheClient(ipv6: Bool) throws {
        let program = try Self.program()
        // Here the client is the local one, so the frame toward it is delivered by the stack.
        let (client, server, peer, relay) =
            ipv6
            ? (
                TransportAddress("[::1]:40000")!, TransportAddress("[::1]:3478")!,
                TransportAddress("[2001:db8::77]:7000")!, TransportAddress("[2001:db8::1]:50000")!
            )
            : (
                TransportAddress("127.0.0.1:40000")!, TransportAddress("127.0.0.1:3478")!,
                TransportAddress("198.51.100.77:7000")!, TransportAddress("192.0.2.1:50000")!
            )
        var table = KernelChannelTable(program: program)
        _ = table.sync([Self.route(expiresIn: 60, client: client, server: server, peer: peer, relay: relay)], now: currentTime())
        defer { _ = table.removeAll() }
        for length in [1, 3, 160, 1200] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 13 + 1) }
            let (verdict, output) = try program.testRun(frame: Self.frame(from: peer, to: relay, payload: payload))
            #expect(verdict == Self.TC_ACT_OK)
            let out = try #require(Self.parse(output))
            #expect(out.source == server && out.destination == client)
            #expect(out.payload == Self.channelData(payload), "ChannelData, unpadded over UDP")
            #expect(out.checksumsGood)
        }
    }

    /// An IPv6 client with an IPv4 relayed address (what libnice over IPv6 gets, asking for no
    /// family), and the reverse: the IP header is replaced by one of the other family, both
    /// ways, the checksum carried over to the new pseudo-header, and the packet sent out of the
    /// interface toward its destination. Toward an address of this host it is left to user
    /// space (the stack would drop a looped-back packet turned from IPv6 to IPv4).
    @Test(arguments: [false, true])
    func theClientsAndThePeersLegsMayBeOfDifferentFamilies(clientIPv6: Bool) throws {
        let program = try Self.program()
        let (client, server) =
            clientIPv6
            ? (TransportAddress("[2001:db8::10]:40000")!, TransportAddress("[2001:db8::1]:3478")!)
            : (Self.client, Self.server)
        let (peer, relay) =
            clientIPv6
            ? (TransportAddress("198.51.100.77:7000")!, TransportAddress("192.0.2.1:50000")!)
            : (TransportAddress("[2001:db8::77]:7000")!, TransportAddress("[2001:db8::1]:50000")!)
        var table = KernelChannelTable(program: program)
        _ = table.sync([Self.route(expiresIn: 60, client: client, server: server, peer: peer, relay: relay)], now: currentTime())
        defer { _ = table.removeAll() }
        var wrong: [Int] = []
        for (length, padded) in [(1, false), (2, true), (3, false), (160, true), (333, true), (1200, false), (1500, false)] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 3 + length) }
            let input = Self.frame(from: client, to: server, payload: Self.channelData(payload, padded: padded))
            let (verdict, output) = try program.testRun(frame: input)
            guard verdict == Self.TC_ACT_REDIRECT, let out = Self.parse(output), out.source == relay, out.destination == peer,
                out.payload == payload, out.checksumsGood
            else { wrong.append(length); continue }
        }
        #expect(wrong.isEmpty, "to the peer, lengths rewritten wrongly: \(wrong)")
        for length in [1, 3, 160, 1200, 1500] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 13 + 1) }
            let (verdict, output) = try program.testRun(frame: Self.frame(from: peer, to: relay, payload: payload))
            #expect(verdict == Self.TC_ACT_REDIRECT)
            let out = try #require(Self.parse(output))
            #expect(out.source == server && out.destination == client)
            #expect(out.payload == Self.channelData(payload) && out.checksumsGood, "length \(length)")
        }

        // A peer on this host in the other family: user space.
        let localPeer = clientIPv6 ? TransportAddress("127.0.0.1:7000")! : TransportAddress("[::1]:7000")!
        let localRelay = clientIPv6 ? TransportAddress("127.0.0.1:50000")! : TransportAddress("[::1]:50000")!
        _ = table.sync(
            [Self.route(expiresIn: 60, client: client, server: server, peer: localPeer, relay: localRelay)],
            now: currentTime())
        let input = Self.frame(from: client, to: server, payload: Self.channelData([1, 2, 3]))
        let (verdict, output) = try program.testRun(frame: input)
        #expect(verdict == Self.TC_ACT_UNSPEC && output == input)
    }

    /// The checksum is carried over, not recomputed: padding of any content is taken out of it
    /// (RFC 8656 §12.5 leaves the padding's bytes unspecified), and a datagram that arrived
    /// corrupted leaves with a checksum that still fails, so the peer drops it as it would have.
    @Test func theChecksumIsCarriedOverNotRecomputed() throws {
        let program = try Self.program()
        var table = KernelChannelTable(program: program)
        _ = table.sync([Self.route(expiresIn: 60)], now: currentTime())
        defer { _ = table.removeAll() }
        var wrong: [Int] = []
        for length in Array(1...12) + [159, 1001, 1002, 1003] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 11 + 5) }
            var data = Self.channelData(payload)
            data += [0xAB, 0xCD, 0xEF].prefix((4 - length % 4) % 4)
            let (_, output) = try program.testRun(frame: Self.frame(from: Self.client, to: Self.server, payload: data))
            guard let out = Self.parse(output), out.payload == payload, out.checksumsGood else { wrong.append(length); continue }
        }
        #expect(wrong.isEmpty, "lengths with non-zero padding rewritten wrongly: \(wrong)")

        let payload: [UInt8] = Array(repeating: 0x42, count: 100)
        var corrupted = Self.frame(from: Self.client, to: Self.server, payload: Self.channelData(payload))
        corrupted[14 + 20 + 7] ^= 0x01
        let (_, output) = try program.testRun(frame: corrupted)
        let out = try #require(Self.parse(output))
        #expect(out.payload == payload && !out.checksumsGood, "a corrupted datagram stays detectably corrupted")
    }

    /// Both parties on this relay (two clients of one XMPP server's TURN service, relay-only):
    /// A's ChannelData to B's relayed address comes out as ChannelData to B on B's channel, in
    /// one pass, counted as A's packet to its peer and B's from its peer.
    @Test(arguments: [false, true])
    func aChannelToAnotherAllocationOfThisRelayIsRelayedOnAtOnce(padded: Bool) throws {
        let program = try Self.program()
        let server = TransportAddress("127.0.0.1:3478")!
        let (clientA, relayA) = (TransportAddress("127.0.0.1:40000")!, TransportAddress("127.0.0.1:50000")!)
        let (clientB, relayB) = (TransportAddress("127.0.0.1:40002")!, TransportAddress("127.0.0.1:50002")!)
        let routes = [
            KernelChannelRoute(
                client: clientA, server: server, channel: 0x4001, peer: relayB, relay: relayA, expires: currentTime() + .seconds(60)),
            KernelChannelRoute(
                client: clientB, server: server, channel: 0x4ABC, peer: relayA, relay: relayB, expires: currentTime() + .seconds(60)),
        ]
        var table = KernelChannelTable(program: program)
        _ = table.sync(routes, now: currentTime())
        defer { _ = table.removeAll() }
        for length in [1, 2, 160, 1200] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 * 5 + 3) }
            var data = Self.channelData(payload, padded: padded)
            data[0] = 0x40
            data[1] = 0x01
            let (verdict, output) = try program.testRun(frame: Self.frame(from: clientA, to: server, payload: data))
            #expect(verdict == Self.TC_ACT_OK)
            let out = try #require(Self.parse(output))
            #expect(out.source == server && out.destination == clientB)
            var expected = Self.channelData(payload)
            expected[0] = 0x4A
            expected[1] = 0xBC
            #expect(out.payload == expected, "ChannelData on B's channel")
            #expect(out.checksumsGood)
        }
        let relayed = table.sync(routes, now: currentTime())
        #expect(relayed[FiveTuple(client: clientA, server: server, transport: .udp)]?.packetsToPeer == 4)
        #expect(relayed[FiveTuple(client: clientB, server: server, transport: .udp)]?.packetsToClient == 4)
    }

    /// The entry's expiry stamp is checked by the program: once it has passed, the frame is
    /// passed on untouched (TC_ACT_UNSPEC: the next filter or user space), whatever the maps
    /// still hold. Frames for an unknown channel,
    /// with bytes after the ChannelData message, or that are not ChannelData, too.
    @Test func whatTheProgramLeavesToUserSpace() throws {
        let program = try Self.program()
        var table = KernelChannelTable(program: program)
        defer { _ = table.removeAll() }
        let payload: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        _ = table.sync([Self.route(expiresIn: -1)], now: currentTime())
        for input in [
            Self.frame(from: Self.client, to: Self.server, payload: Self.channelData(payload)),
            Self.frame(from: Self.peer, to: Self.relay, payload: payload),
        ] {
            let (verdict, output) = try program.testRun(frame: input)
            #expect(verdict == Self.TC_ACT_UNSPEC && output == input, "expired: untouched, passed on")
        }
        _ = table.sync([Self.route(expiresIn: 60)], now: currentTime())
        var unknown = Self.channelData(payload)
        unknown[1] = 0x02
        let trailing = Self.channelData(payload) + [0, 0, 0, 0, 9]
        let stun: [UInt8] = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42] + [UInt8](repeating: 7, count: 12)
        for body in [unknown, trailing, stun] {
            let input = Self.frame(from: Self.client, to: Self.server, payload: body)
            let (verdict, output) = try program.testRun(frame: input)
            #expect(verdict == Self.TC_ACT_UNSPEC && output == input, "\(body.prefix(4))")
        }
        // And the same channel, live, is rewritten.
        let (_, live) = try program.testRun(frame: Self.frame(from: Self.client, to: Self.server, payload: Self.channelData(payload)))
        #expect(Self.parse(live)?.payload == payload)
    }
}
