import Foundation
import Testing
import STUN
import TURNClientEngine
import TURNServer
@testable import RelayServer

/// The relay started in-process on loopback, driven by the TURN client engine over real UDP.
@Suite struct RelayUDPTests {
    static func configuration() -> RelayConfiguration {
        var c = RelayConfiguration()
        c.listen = [TransportAddress("127.0.0.1:0")!]
        c.relayIPv4 = IPAddress("127.0.0.1")
        c.realm = "relay.test"
        c.users = ["alice": "secret"]
        c.secrets = ["s3cret"]
        c.allowLoopbackPeers = true
        c.portRange = TestPorts.relayRange()
        c.metrics = TransportAddress("127.0.0.1:0")
        c.socketBufferBytes = 0
        return c
    }

    /// Drives a TURN client over a socket until `done` says so or 5 seconds pass.
    func drive(
        _ client: inout TURNClient, _ socket: UDPTestSocket, server: TransportAddress,
        _ actions: [TURNClient.Action], until done: (TURNClient.Event) -> Bool
    ) -> [TURNClient.Event] {
        var events: [TURNClient.Event] = []
        var queue = actions
        let limit = Date().addingTimeInterval(5)
        while Date() < limit {
            for action in queue {
                switch action {
                case .send(let bytes): socket.send(bytes, to: server)
                case .event(let e): events.append(e)
                }
            }
            queue = []
            if events.contains(where: done) { return events }
            if let (bytes, _) = socket.receive(timeout: 0.2) {
                queue = client.handle(bytes, now: currentTime())
            } else if let deadline = client.nextDeadline, deadline <= currentTime() {
                queue = client.handleTimeout(now: currentTime())
            }
        }
        return events
    }

    @Test func allocatePermissionChannelAndDataOverUDP() async throws {
        let server = try RelayServer(configuration: Self.configuration())
        try await server.start()
        defer { Task { try? await server.stop() } }
        let listen = try #require(server.udpAddresses.first)
        let socket = try UDPTestSocket()
        let peer = try UDPTestSocket()
        var client = TURNClient(configuration: .init(username: "alice", password: "secret"))

        var events = drive(&client, socket, server: listen, client.allocate(now: currentTime())) {
            if case .allocated = $0 { true } else if case .failed = $0 { true } else { false }
        }
        guard case .allocated(let relays, let mapped, _, _)? = events.last else { Issue.record("no allocation: \(events)"); return }
        let relay = try #require(relays.first)
        #expect(mapped == socket.address)
        #expect(Self.configuration().portRange.count == 400)
        #expect(try await server.allocationCount() == 1)

        // Send indication after a permission.
        events = drive(&client, socket, server: listen, client.createPermission([peer.address.ip], now: currentTime())) {
            if case .permissionCreated = $0 { true } else { false }
        }
        socket.send(client.frame([1, 2, 3], to: peer.address), to: listen)
        let viaIndication = try #require(peer.receive(timeout: 5))
        #expect(viaIndication.bytes == [1, 2, 3])
        #expect(viaIndication.from == relay)

        // Channel both ways.
        events = drive(&client, socket, server: listen, client.bindChannel(peer.address, now: currentTime())) {
            if case .channelBound = $0 { true } else { false }
        }
        #expect(client.channel(for: peer.address) == 0x4000)
        socket.send(client.frame(Array(repeating: 0xAB, count: 1200), to: peer.address), to: listen)
        let viaChannel = try #require(peer.receive(timeout: 5))
        #expect(viaChannel.bytes == Array(repeating: 0xAB, count: 1200))
        peer.send([9, 8, 7], to: relay)
        events = drive(&client, socket, server: listen, []) { if case .data = $0 { true } else { false } }
        #expect(events.last == .data(from: peer.address, [9, 8, 7]))

        let metrics = try await server.metricsText()
        #expect(metrics.contains("turn_packets_total{direction=\"to_peer\"} 2"))
        #expect(metrics.contains("turn_packets_total{direction=\"to_client\"} 1"))
        // One of the two went to the peer in a Send indication; the reply came back by channel.
        #expect(metrics.contains("turn_indications_total{direction=\"to_peer\"} 1"))
        #expect(metrics.contains("turn_indications_total{direction=\"to_client\"} 0"))
        #expect(metrics.contains("turn_allocations 1"))

        // Deallocate closes the relay socket.
        events = drive(&client, socket, server: listen, client.refresh(lifetime: 0, now: currentTime())) { $0 == .deallocated }
        #expect(events.last == .deallocated)
        #expect(try await server.allocationCount() == 0)
    }

    @Test func deniedPeerAndRESTRotationInProcess() async throws {
        var configuration = Self.configuration()
        configuration.allowLoopbackPeers = false
        configuration.metrics = nil
        let server = try RelayServer(configuration: configuration)
        try await server.start()
        defer { Task { try? await server.stop() } }
        let listen = try #require(server.udpAddresses.first)
        let socket = try UDPTestSocket()
        let username = CredentialStore.restUsername(expiry: Int(Date().timeIntervalSince1970) + 600, name: "carol")
        var client = TURNClient(
            configuration: .init(
                username: username,
                password: CredentialStore.restPassword(username: username, secret: "s3cret")))
        var events = drive(&client, socket, server: listen, client.allocate(now: currentTime())) {
            if case .allocated = $0 { true } else if case .failed = $0 { true } else { false }
        }
        guard case .allocated? = events.last else { Issue.record("REST allocation failed: \(events)"); return }
        events = drive(&client, socket, server: listen, client.createPermission([IPAddress("127.0.0.1")!], now: currentTime())) {
            if case .failed = $0 { true } else { false }
        }
        #expect(events.last == .failed(.createPermission, STUNErrorCode(403)))

        // Rotate the secret away: a new client with the old secret is refused.
        try await server.reloadCredentials(users: [:], secrets: ["fresh"])
        let other = try UDPTestSocket()
        var stale = TURNClient(
            configuration: .init(
                username: username,
                password: CredentialStore.restPassword(username: username, secret: "s3cret")))
        events = drive(&stale, other, server: listen, stale.allocate(now: currentTime())) {
            if case .failed = $0 { true } else { false }
        }
        #expect(events.last == .failed(.allocate, STUNErrorCode(401)))
        #expect(try await server.statistics().authFailures == 1)
    }

    @Test func drainRefusesNewAllocationsThenStops() async throws {
        var configuration = Self.configuration()
        configuration.metrics = nil
        let server = try RelayServer(configuration: configuration)
        try await server.start()
        let listen = try #require(server.udpAddresses.first)
        let socket = try UDPTestSocket()
        var client = TURNClient(configuration: .init(username: "alice", password: "secret"))
        _ = drive(&client, socket, server: listen, client.allocate(now: currentTime())) {
            if case .allocated = $0 { true } else { false }
        }
        #expect(try await server.allocationCount() == 1)
        try await server.beginDrain()
        // While draining, a new client gets 508.
        let late = try UDPTestSocket()
        var lateClient = TURNClient(configuration: .init(username: "alice", password: "secret"))
        let events = drive(&lateClient, late, server: listen, lateClient.allocate(now: currentTime())) {
            if case .failed = $0 { true } else { false }
        }
        #expect(events.last == .failed(.allocate, STUNErrorCode(508)))
        #expect(try await server.allocationCount() == 1)
        try await server.drainAndStop(timeout: 0.2)
    }

    @Test func configurationFileErrorsNameKeyAndLine() throws {
        let text = """
            # comment
            listen = 127.0.0.1:3478
            relay-ip = 127.0.0.1
            user = alice:secret
            ports = 5000-4000
            """
        #expect(throws: RelayConfigurationError(key: "ports", line: 5, reason: "expected MIN-MAX, got \"5000-4000\"")) {
            try RelayConfiguration.parse(text)
        }
        #expect(throws: RelayConfigurationError(key: "colour", line: 1, reason: "unknown key")) {
            try RelayConfiguration.parse("colour = blue")
        }
        let ok = try RelayConfiguration.parse(
            "listen = 127.0.0.1:3478\nrelay-ip = 127.0.0.1\nsecret = x # trailing\nallow-peer = 10.0.0.0/8\n")
        #expect(ok.secrets == ["x"])
        #expect(ok.allowPeers == [CIDR("10.0.0.0/8")!])
        #expect(ok.tcpRelay && ok.engineConfiguration.tcpAllocations, "TCP allocations are on by default")
        let tcp = try RelayConfiguration.parse("tcp-relay = no\ntcp-connections-per-allocation = 8\n")
        #expect(!tcp.engineConfiguration.tcpAllocations)
        #expect(tcp.engineConfiguration.maxPeerConnectionsPerAllocation == 8)
        #expect(
            throws: RelayConfigurationError(
                key: "tcp-connections-per-allocation", line: 2, reason: "expected an integer in 1...10000, got \"0\"")
        ) {
            try RelayConfiguration.parse("tcp-relay = yes\ntcp-connections-per-allocation = 0\n")
        }
        try ok.validate()
        #expect(!ok.redactedSummary.contains("x"))
        var noUsers = ok
        noUsers.secrets = []
        #expect(throws: RelayConfigurationError.self) { try noUsers.validate() }
    }

    @Test func sampleConfigurationParses() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Samples/jingle-relay/jingle-relay.conf")
        let configuration = try RelayConfiguration.parse(
            try String(contentsOf: url, encoding: .utf8),
            directory: url.deletingLastPathComponent().path)
        try configuration.validate()
        #expect(!configuration.redactedSummary.contains("change-me"))
        // Credentials come from the files next to it, not from the configuration text.
        #expect(configuration.users == ["alice": "change-me"] && configuration.secrets == ["change-me-too"])
    }
}
