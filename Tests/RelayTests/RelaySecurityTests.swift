import Foundation
import Testing
import STUN
import TURNClientEngine
import TURNServer
@testable import RelayServer

/// The running relay as a way into its own host (RFC 8656 §21.1.2): with `allow-loopback-peers`
/// (test peers on 127.0.0.1 keep working) a client still cannot reach the relay's own
/// listeners or metrics endpoint through a relayed address, over UDP or by RFC 6062 Connect,
/// while two relay-only clients reach each other's relayed addresses (the hairpin).
@Suite struct RelaySecurityTests {
    static func relay() async throws -> RelayServer {
        var c = RelayUDPTests.configuration()
        c.listen = [TransportAddress("127.0.0.1:\(try TestPorts.freeUDPPort())")!]
        let server = try RelayServer(configuration: c)
        try await server.start()
        return server
    }

    /// A UDP client with an allocation and a permission for 127.0.0.1.
    static func client(_ server: RelayServer) throws -> (UDPTestSocket, TURNClient, TransportAddress) {
        let listen = try #require(server.udpAddresses.first)
        let socket = try UDPTestSocket()
        var client = TURNClient(configuration: .init(username: "alice", password: "secret"))
        var events = RelayUDPTests().drive(&client, socket, server: listen, client.allocate(now: currentTime())) {
            if case .allocated = $0 { true } else if case .failed = $0 { true } else { false }
        }
        guard case .allocated(let relays, _, _, _)? = events.last, let relay = relays.first else {
            Issue.record("no allocation: \(events)")
            throw POSIXError(.EIO)
        }
        events = RelayUDPTests().drive(
            &client, socket, server: listen, client.createPermission([IPAddress("127.0.0.1")!], now: currentTime())
        ) {
            if case .permissionCreated = $0 { true } else if case .failed = $0 { true } else { false }
        }
        #expect(events.last == .permissionCreated([IPAddress("127.0.0.1")!]))
        return (socket, client, relay)
    }

    /// Whatever reaches the client within `timeout` seconds, decoded as Data indications.
    static func dataIndications(_ socket: UDPTestSocket, timeout: Double) -> [STUNMessage] {
        var found: [STUNMessage] = []
        let limit = Date().addingTimeInterval(timeout)
        while Date() < limit {
            guard let (bytes, _) = socket.receive(timeout: 0.2) else { continue }
            if let m = try? STUNMessage.decode(bytes), m.type.method == .data { found.append(m) }
        }
        return found
    }

    @Test func aSendToTheRelaysOwnListenerIsDroppedAndTheHairpinWorks() async throws {
        let server = try await Self.relay()
        defer { Task { try? await server.stop() } }
        let listen = try #require(server.udpAddresses.first)
        let (socket, client, relay) = try Self.client(server)
        let before = try await server.statistics().drops[.peerDenied, default: 0]

        // A Binding request sent through the relay to its own listener: the listener would
        // answer the relayed address, and the answer would come back as a Data indication.
        let binding = STUNMessage(.binding, .request).encode()
        socket.send(client.frame(binding, to: listen), to: listen)
        if let metrics = server.metricsAddress {
            socket.send(client.frame(Array("GET /metrics HTTP/1.0\r\n\r\n".utf8), to: metrics), to: listen)
        }
        #expect(Self.dataIndications(socket, timeout: 1).isEmpty, "the relay's own listener answered through the relay")
        let after = try await server.statistics().drops[.peerDenied, default: 0]
        #expect(after - before == (server.metricsAddress == nil ? 1 : 2))

        // A test peer on 127.0.0.1 is still reached (allow-loopback-peers).
        let peer = try UDPTestSocket()
        socket.send(client.frame([1, 2, 3], to: peer.address), to: listen)
        #expect(peer.receive(timeout: 5)?.bytes == [1, 2, 3])

        // Two relay-only clients on the same relay reach each other's relayed addresses.
        let (otherSocket, other, otherRelay) = try Self.client(server)
        socket.send(client.frame([4, 5, 6], to: otherRelay), to: listen)
        let arrived = Self.dataIndications(otherSocket, timeout: 2)
        #expect(arrived.first?.data == [4, 5, 6])
        #expect(arrived.first?.xorPeerAddresses.first == relay)
        otherSocket.send(other.frame([7], to: relay), to: listen)
        #expect(Self.dataIndications(socket, timeout: 2).first?.data == [7])
    }

    @Test func connectToTheMetricsEndpointIsForbidden() async throws {
        let server = try await Self.relay()
        defer { Task { try? await server.stop() } }
        let metrics = try #require(server.metricsAddress)
        let control = try RelayTCPAllocationTests.allocateTCP(server)
        for target in [metrics, try #require(server.tcpAddresses.first)] {
            let response = try #require(
                RelayTCPAllocationTests.request(
                    control.stream, .connect, [.xorPeerAddress(target)],
                    nonce: control.nonce))
            #expect(response.errorCode?.code == 403, "Connect to \(target): \(response)")
        }
        // A TCP peer on 127.0.0.1 is still reached.
        let (listener, port) = try TCPTestStream.listen()
        let response = try #require(
            RelayTCPAllocationTests.request(
                control.stream, .connect,
                [.xorPeerAddress(TransportAddress("127.0.0.1:\(port)")!)],
                nonce: control.nonce))
        #expect(response.connectionID != nil, "\(response)")
        #expect(listener.accept(timeout: 5) != nil)
    }
}
