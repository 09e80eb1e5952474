import Foundation
import Synchronization
import Testing
import STUN
import TURNServer
@testable import RelayServer

/// TCP allocations (RFC 6062) through the running relay with our own bytes: Connect to a real
/// TCP peer and a megabyte echoed back unchanged, Connect to a closed port (447), a peer
/// connecting to the relayed address (refused without a permission, announced with
/// ConnectionAttempt with one, its early bytes held until the bind), and closes carried across.
@Suite struct RelayTCPAllocationTests {
    static let key = STUNKey.longTerm(username: "alice", realm: "relay.test", password: "secret")

    struct Control {
        let stream: TCPTestStream
        let nonce: String
        let relay: TransportAddress
    }

    static func request(_ stream: TCPTestStream, _ method: STUNMethod, _ attributes: [STUNAttribute], nonce: String) -> STUNMessage? {
        stream.send(
            STUNMessage(method, .request, attributes: attributes + [.username("alice"), .realm("relay.test"), .nonce(nonce)])
                .encode(key: key))
        return stream.message(timeout: 10)
    }

    /// A control connection with a TCP allocation.
    static func allocateTCP(_ server: RelayServer) throws -> Control {
        let listen = try #require(server.tcpAddresses.first)
        let stream = try #require(TCPTestStream.connect(to: listen))
        stream.send(STUNMessage(.allocate, .request, attributes: [.requestedTransport(6)]).encode())
        let nonce = try #require(stream.message(timeout: 10)?.nonce)
        let response = try #require(request(stream, .allocate, [.requestedTransport(6)], nonce: nonce))
        #expect(response.type.messageClass == .successResponse, "\(response)")
        let relay = try #require(response.attributes.compactMap { if case .xorRelayedAddress(let a) = $0 { a } else { nil } }.first)
        return Control(stream: stream, nonce: nonce, relay: relay)
    }

    /// A new connection bound to `id`; nil if the bind was refused.
    static func bind(_ server: RelayServer, _ control: Control, id: PeerConnectionID) throws -> (TCPTestStream, STUNMessage) {
        let listen = try #require(server.tcpAddresses.first)
        let data = try #require(TCPTestStream.connect(to: listen))
        let response = try #require(request(data, .connectionBind, [.connectionID(id)], nonce: control.nonce))
        return (data, response)
    }

    /// Polls (bounded) until the relay holds no peer connection.
    static func waitForNoPeerConnections(_ server: RelayServer) async throws -> RelayServer.RuntimeSizes {
        var sizes = try await server.runtimeSizes()
        for _ in 0..<100 where sizes.engine.peerConnections + sizes.peerConnectionChannels > 0 {
            try await Task.sleep(for: .milliseconds(50))
            sizes = try await server.runtimeSizes()
        }
        return sizes
    }

    @Test func connectRelaysAMegabyteBothWaysUnchanged() async throws {
        let server = try await CoturnInteropTests.relay()
        defer { Task { try? await server.stop() } }
        let (listener, peerPort) = try TCPTestStream.listen()
        // The peer echoes until its connection ends.
        let echo = Thread {
            guard let connection = listener.accept(timeout: 20) else { return }
            while let chunk = connection.read(timeout: 20), !chunk.isEmpty { connection.send(chunk) }
        }
        echo.start()
        let control = try Self.allocateTCP(server)
        let peer = TransportAddress(ip: .v4(0x7F00_0001), port: peerPort)
        let connected = try #require(Self.request(control.stream, .connect, [.xorPeerAddress(peer)], nonce: control.nonce))
        #expect(connected.type == STUNMessageType(method: .connect, messageClass: .successResponse))
        let id = try #require(connected.connectionID)
        let (data, bound) = try Self.bind(server, control, id: id)
        #expect(bound.type == STUNMessageType(method: .connectionBind, messageClass: .successResponse))
        // 1 MiB of a deterministic pattern, written on another thread while this one reads.
        var state: UInt32 = 12345
        let payload = (0..<1_048_576).map { _ -> UInt8 in
            state = state &* 1_103_515_245 &+ 12345
            return UInt8(truncatingIfNeeded: state >> 16)
        }
        let writer = Thread { data.send(payload) }
        writer.start()
        let echoed = data.read(exactly: payload.count, timeout: 30)
        #expect(echoed.count == payload.count)
        #expect(echoed == payload)
        let statistics = try await server.statistics()
        #expect(statistics.peerConnectionsConnected == 1 && statistics.peerConnectionsJoined == 1)
        let metrics = try await server.metricsText()
        #expect(metrics.contains("turn_tcp_bytes_total{direction=\"to_peer\"} 1048576"), "\(metrics)")
        #expect(metrics.contains("turn_tcp_bytes_total{direction=\"to_client\"} 1048576"))
        #expect(metrics.contains("turn_tcp_peer_connections_total{outcome=\"connected\"} 1"))
        #expect(metrics.contains("turn_tcp_peer_connections_total{outcome=\"joined\"} 1"))
        #expect(metrics.contains("turn_tcp_peer_connections 1"))
        // The client's data connection ends: the peer connection goes, the allocation stays.
        data.shutdownBoth()
        let sizes = try await Self.waitForNoPeerConnections(server)
        #expect(sizes.engine.peerConnections == 0 && sizes.peerConnectionChannels == 0)
        #expect(try await server.allocationCount() == 1)
        // Connect to a port nobody listens on: 447.
        let (closed, closedPort) = try TCPTestStream.listen()
        closed.shutdownBoth()
        let refused = try #require(
            Self.request(
                control.stream, .connect,
                [.xorPeerAddress(TransportAddress(ip: .v4(0x7F00_0001), port: closedPort))],
                nonce: control.nonce))
        #expect(refused.errorCode?.code == 447)
        #expect(try await server.statistics().peerConnectionsFailed == 1)
    }

    @Test func aPeerConnectingIsAnnouncedAndItsBytesWaitForTheBind() async throws {
        let server = try await CoturnInteropTests.relay()
        defer { Task { try? await server.stop() } }
        let control = try Self.allocateTCP(server)
        // No permission yet: the relay closes the peer's connection at once.
        let early = try #require(TCPTestStream.connect(to: control.relay))
        #expect(early.closedByPeer(timeout: 10))
        let permitted = try #require(
            Self.request(
                control.stream, .createPermission,
                [.xorPeerAddress(TransportAddress(ip: .v4(0x7F00_0001), port: 0))], nonce: control.nonce))
        #expect(permitted.type.messageClass == .successResponse)
        let peer = try #require(TCPTestStream.connect(to: control.relay))
        let hello = Array("hello before the bind".utf8)
        peer.send(hello)
        let attempt = try #require(control.stream.message(timeout: 10))
        #expect(attempt.type == STUNMessageType(method: .connectionAttempt, messageClass: .indication))
        #expect(attempt.xorPeerAddresses == [peer.local])
        let id = try #require(attempt.connectionID)
        // A bind naming no such connection is refused and the connection goes back to STUN.
        let (stray, refused) = try Self.bind(server, control, id: id &+ 1)
        #expect(refused.errorCode?.code == 400)
        stray.send(STUNMessage(.binding, .request).encode())
        #expect(stray.message(timeout: 10)?.type == STUNMessageType(method: .binding, messageClass: .successResponse))
        // The right bind: the bytes the peer sent before it arrive first, then both ways.
        let (data, bound) = try Self.bind(server, control, id: id)
        #expect(bound.type == STUNMessageType(method: .connectionBind, messageClass: .successResponse))
        #expect(data.read(exactly: hello.count, timeout: 10) == hello)
        data.send(Array("and back".utf8))
        #expect(peer.read(exactly: 8, timeout: 10) == Array("and back".utf8))
        // The peer ends: its FIN reaches the client; when the client ends too, all is gone.
        peer.shutdownBoth()
        #expect(data.closedByPeer(timeout: 10))
        data.shutdownBoth()
        let sizes = try await Self.waitForNoPeerConnections(server)
        #expect(sizes.engine.peerConnections == 0 && sizes.peerConnectionChannels == 0)
        #expect(try await server.statistics().peerConnectionsAccepted == 1)
    }

    /// A relayed port where another process already listens on TCP is skipped, although the
    /// relay's own listeners use SO_REUSEPORT (which would otherwise share the port).
    @Test func aTCPRelayedPortSomeoneListensOnIsSkipped() async throws {
        let range = TestPorts.relayRange()
        let taken = range.lowerBound
        let (occupant, _) = try TCPTestStream.listen(port: taken)
        var c = RelayConfiguration()
        c.listen = [TransportAddress("127.0.0.1:\(try TestPorts.freeUDPPort())")!]
        c.relayIPv4 = IPAddress("127.0.0.1")
        c.realm = "relay.test"
        c.users = ["alice": "secret"]
        c.allowLoopbackPeers = true
        c.portRange = taken...taken + 1
        let server = try RelayServer(configuration: c)
        try await server.start()
        defer { Task { try? await server.stop() } }
        for _ in 0..<4 {
            let control = try Self.allocateTCP(server)
            #expect(control.relay.port == taken + 1)
            control.stream.shutdownBoth()
            var count = try await server.allocationCount()
            for _ in 0..<100 where count > 0 {
                try await Task.sleep(for: .milliseconds(20))
                count = try await server.allocationCount()
            }
        }
        _ = occupant
    }

    /// A half-close crosses the relay in both directions (RFC 6062 relays a byte stream): the
    /// client sends a request and its FIN; the peer reads to the end, answers and closes; the
    /// client reads the whole answer and then the end of the stream.
    @Test func aHalfCloseCrossesTheRelay() async throws {
        let server = try await CoturnInteropTests.relay()
        defer { Task { try? await server.stop() } }
        let (listener, peerPort) = try TCPTestStream.listen()
        let answer = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let peerSaw = Mutex<[UInt8]?>(nil)
        let peerThread = Thread {
            guard let connection = listener.accept(timeout: 20) else { return }
            var request: [UInt8] = []
            while let chunk = connection.read(timeout: 20), !chunk.isEmpty { request += chunk }
            peerSaw.withLock { $0 = request }
            connection.send(answer)
            connection.shutdownBoth()
        }
        peerThread.start()
        let control = try Self.allocateTCP(server)
        let connected = try #require(
            Self.request(
                control.stream, .connect,
                [.xorPeerAddress(TransportAddress(ip: .v4(0x7F00_0001), port: peerPort))],
                nonce: control.nonce))
        let id = try #require(connected.connectionID)
        let (data, bound) = try Self.bind(server, control, id: id)
        #expect(bound.type == STUNMessageType(method: .connectionBind, messageClass: .successResponse))
        let request = Array("GET / HTTP/1.0\r\n\r\n".utf8)
        data.send(request)
        data.shutdownWrite()
        #expect(data.read(exactly: answer.count, timeout: 20) == answer)
        #expect(data.closedByPeer(timeout: 10))
        #expect(peerSaw.withLock { $0 } == request, "the peer read the request and then the client's FIN")
        let sizes = try await Self.waitForNoPeerConnections(server)
        #expect(sizes.engine.peerConnections == 0 && sizes.peerConnectionChannels == 0)
    }
}
