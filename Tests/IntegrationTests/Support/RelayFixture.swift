import Foundation
import RelayServer
import STUN

/// One jingle-relay per test process, on the address and shared secret the shared Prosody
/// advertises through `turn_external` (XEP-0215), relaying between loopback peers.
enum RelayFixture {
    static func shared(for prosody: ProsodyFixture) async throws -> RelayServer {
        try await RelayStarter.instance.relay(for: prosody)
    }
}

private actor RelayStarter {
    static let instance = RelayStarter()
    private var starting: Task<RelayServer, any Error>?

    /// One start, however many suites ask at once (the actor is re-entered while it awaits).
    func relay(for prosody: ProsodyFixture) async throws -> RelayServer {
        if let starting { return try await starting.value }
        let task = Task { try await Self.start(for: prosody) }
        starting = task
        return try await task.value
    }

    private static func start(for prosody: ProsodyFixture) async throws -> RelayServer {
        var configuration = RelayConfiguration()
        guard let listen = TransportAddress("127.0.0.1:\(prosody.turnPort)") else {
            throw FixtureError(description: "bad relay listen address for port \(prosody.turnPort)")
        }
        configuration.listen = [listen]
        configuration.relayIPv4 = IPAddress("127.0.0.1")
        configuration.realm = "localhost"
        configuration.secrets = [prosody.turnSecret]
        configuration.allowLoopbackPeers = true // the ICE agents of these tests live on 127.0.0.1
        let base = UInt16(25_000 + Int(getpid() % 40) * 100)
        configuration.portRange = base...(base + 99)
        configuration.socketBufferBytes = 0
        let server = try RelayServer(configuration: configuration)
        try await server.start()
        return server
    }
}
