import ServiceLifecycle

/// Runs a `RelayServer` under swift-service-lifecycle: starts it, waits for graceful shutdown
/// (SIGTERM/SIGINT via the service group), then drains and stops.
public struct RelayService: Service {
    public let server: RelayServer

    public init(server: RelayServer) {
        self.server = server
    }

    public func run() async throws {
        try await server.start()
        try? await gracefulShutdown()
        try await server.drainAndStop()
    }
}
