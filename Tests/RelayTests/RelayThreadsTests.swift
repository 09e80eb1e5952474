import Foundation
import Testing
import STUN
import TURNClientEngine
import TURNServer
@testable import RelayServer

/// Several UDP data-plane threads (`threads = 2`): `SO_REUSEPORT` listener sockets share the
/// port, the kernel spreads clients over them, and every allocation keeps working on the
/// thread that received its Allocate.
@Suite struct RelayThreadsTests {
    @Test func allocationsSpreadOverThreadsAndRelayBothWays() async throws {
        var configuration = RelayUDPTests.configuration()
        configuration.threads = 2
        let server = try RelayServer(configuration: configuration)
        try await server.start()
        defer { Task { try? await server.stop() } }
        let listen = try #require(server.udpAddresses.first)
        let peer = try UDPTestSocket()
        let harness = RelayUDPTests()
        // 20 client ports: the chance the kernel's hash puts all on one socket is 2^-19.
        var relays: Set<TransportAddress> = []
        // Every client socket stays open to the end: a closed one's port could be handed to the
        // next, whose Allocate would then meet the first one's allocation (437).
        var sockets: [UDPTestSocket] = []
        for i in 0..<20 {
            let socket = try UDPTestSocket()
            sockets.append(socket)
            var client = TURNClient(configuration: .init(username: "alice", password: "secret"))
            let allocated = harness.drive(&client, socket, server: listen, client.allocate(now: currentTime())) {
                if case .allocated = $0 { true } else if case .failed = $0 { true } else { false }
            }
            guard case .allocated(let addresses, _, _, _)? = allocated.last, let relay = addresses.first else {
                Issue.record("client \(i): no allocation: \(allocated)")
                return
            }
            #expect(configuration.portRange.contains(relay.port))
            relays.insert(relay)
            let bound = harness.drive(&client, socket, server: listen, client.bindChannel(peer.address, now: currentTime())) {
                if case .channelBound = $0 { true } else if case .failed = $0 { true } else { false }
            }
            guard case .channelBound? = bound.last else { Issue.record("client \(i): no channel: \(bound)"); return }
            // Client to peer over the channel, from this allocation's relayed address.
            socket.send(client.frame([UInt8(i), 1, 2, 3], to: peer.address), to: listen)
            let toPeer = try #require(peer.receive(timeout: 5))
            #expect(toPeer.bytes == [UInt8(i), 1, 2, 3])
            #expect(toPeer.from == relay)
            // Peer to client, back through the same thread's listener socket.
            peer.send([UInt8(i), 9], to: relay)
            let back = harness.drive(&client, socket, server: listen, []) { if case .data = $0 { true } else { false } }
            #expect(back.last == .data(from: peer.address, [UInt8(i), 9]))
        }
        #expect(relays.count == 20)
        #expect(Set(sockets.map(\.address)).count == 20, "twenty distinct client ports")
        let perThread = try await server.allocationCountsPerThread()
        #expect(perThread.count == 2)
        #expect(perThread.reduce(0, +) == 20)
        #expect(perThread.allSatisfy { $0 > 0 }, "the kernel spread 20 clients over both sockets: \(perThread)")
        let metrics = try await server.metricsText()
        #expect(metrics.contains("turn_allocations 20"))
        #expect(metrics.contains("turn_packets_total{direction=\"to_peer\"} 20"))
        #expect(metrics.contains("turn_packets_total{direction=\"to_client\"} 20"))
        let sizes = try await server.runtimeSizes()
        #expect(sizes.relaySockets == 20)
        #expect(sizes.engine.allocations == 20)
    }

    @Test func threadsSplitThePortRangeAndAllocationLimit() throws {
        var configuration = RelayConfiguration()
        configuration.portRange = 50000...50999
        configuration.maxAllocations = 101
        configuration.threads = 2
        let first = configuration.engineConfiguration(shard: 0)
        let second = configuration.engineConfiguration(shard: 1)
        #expect(first.portRange == 50000...50499)
        #expect(second.portRange == 50500...50999)
        #expect(first.maxAllocations == 51)
        #expect(second.maxAllocations == 51)
        configuration.threads = 1
        #expect(configuration.engineConfiguration(shard: 0).portRange == 50000...50999)
        #expect(throws: RelayConfigurationError(key: "threads", line: 1, reason: "expected an integer in 1...64, got \"0\"")) {
            try RelayConfiguration.parse("threads = 0")
        }
        #expect(try RelayConfiguration.parse("threads = 4").threads == 4)
    }
}
