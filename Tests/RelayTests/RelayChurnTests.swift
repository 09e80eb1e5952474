import Foundation
import Testing
import STUN
import TURNClientEngine
import TURNServer
@testable import RelayServer

/// Allocation churn through the real driver: allocate, use, refresh, delete, a thousand times
/// over UDP. The engine's tables and the driver's relay sockets return to zero; the process
/// RSS before and after is reported (other suites share the process, so it is not asserted).
@Suite struct RelayChurnTests {
    /// Resident set size of this process in KiB, from /proc/self/statm.
    static func residentKiB() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
    }

    @Test func churnThroughTheDriverLeavesNoState() async throws {
        var configuration = RelayUDPTests.configuration()
        configuration.metrics = nil
        let server = try RelayServer(configuration: configuration)
        try await server.start()
        defer { Task { try? await server.stop() } }
        let listen = try #require(server.udpAddresses.first)
        let socket = try UDPTestSocket()
        let peer = try UDPTestSocket()
        let driver = RelayUDPTests()
        let cycles = 1000
        let rssBefore = Self.residentKiB()
        for i in 0..<cycles {
            var client = TURNClient(configuration: .init(username: "alice", password: "secret"))
            var events = driver.drive(&client, socket, server: listen, client.allocate(now: currentTime())) {
                if case .allocated = $0 { true } else if case .failed = $0 { true } else { false }
            }
            guard case .allocated? = events.last else { Issue.record("cycle \(i): \(events)"); return }
            if i % 10 == 0 {
                // Now and then use it: a channel and a relayed datagram.
                events = driver.drive(&client, socket, server: listen, client.bindChannel(peer.address, now: currentTime())) {
                    if case .channelBound = $0 { true } else if case .failed = $0 { true } else { false }
                }
                socket.send(client.frame([UInt8(i & 0xFF)], to: peer.address), to: listen)
                #expect(peer.receive(timeout: 5)?.bytes == [UInt8(i & 0xFF)], "cycle \(i)")
            }
            events = driver.drive(&client, socket, server: listen, client.refresh(lifetime: 600, now: currentTime())) {
                if case .refreshed = $0 { true } else if case .failed = $0 { true } else { false }
            }
            events = driver.drive(&client, socket, server: listen, client.refresh(lifetime: 0, now: currentTime())) {
                $0 == .deallocated || { if case .failed = $0 { true } else { false } }($0)
            }
            guard events.last == .deallocated else { Issue.record("cycle \(i): delete failed: \(events)"); return }
        }
        let sizes = try await server.runtimeSizes()
        let rssAfter = Self.residentKiB()
        print("RelayChurnTests: \(cycles) allocations through the driver; RSS \(rssBefore) KiB -> \(rssAfter) KiB; \(sizes.engine)")
        #expect(sizes.engine.isEmpty, "\(sizes.engine)")
        #expect(sizes.relaySockets == 0)
        #expect(try await server.statistics().allocationsCreated == UInt64(cycles))
        #expect(try await server.statistics().allocationsDeleted == UInt64(cycles))
    }

    /// A relayed port held by another socket: the allocation moves to the free one.
    @Test func relayPortHeldElsewhereIsSkipped() async throws {
        var holder: UDPTestSocket?
        var base: UInt16 = 0
        for _ in 0..<50 {
            let candidate = UInt16.random(in: 20000...24998)
            if let held = try? UDPTestSocket(port: candidate), (try? UDPTestSocket(port: candidate + 1)) != nil {
                holder = held
                base = candidate
                break
            }
        }
        let held = try #require(holder, "no two free consecutive ports")
        var configuration = RelayUDPTests.configuration()
        configuration.metrics = nil
        configuration.portRange = base...base + 1
        let server = try RelayServer(configuration: configuration)
        try await server.start()
        defer { Task { try? await server.stop() } }
        let listen = try #require(server.udpAddresses.first)
        let socket = try UDPTestSocket()
        var client = TURNClient(configuration: .init(username: "alice", password: "secret"))
        let events = RelayUDPTests().drive(&client, socket, server: listen, client.allocate(now: currentTime())) {
            if case .allocated = $0 { true } else if case .failed = $0 { true } else { false }
        }
        guard case .allocated(let relays, _, _, _)? = events.last else { Issue.record("allocation failed: \(events)"); return }
        #expect(relays == [TransportAddress(ip: .v4(0x7F00_0001), port: base + 1)])
        #expect(held.address.port == base)
        #expect(try await server.runtimeSizes().engine.usedPorts == 1)
    }
}
