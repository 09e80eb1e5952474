import Logging
import NIOCore
import NIOPosix
import STUN
import TLS
import TURNServer

/// The TURN relay daemon's runtime (RFC 8656): UDP listeners read with vectored receives,
/// TCP and TLS listeners with stream framing, one UDP socket per relayed address, a Prometheus
/// endpoint, credential reload and graceful drain. All state lives on one event loop.
public final class RelayServer: @unchecked Sendable {
    public let configuration: RelayConfiguration
    let group: MultiThreadedEventLoopGroup
    let ownsGroup: Bool
    let core: RelayCore
    let metrics = RelayMetrics()
    var channels: [Channel] = []
    /// The addresses actually bound (ports resolved when 0 was asked for).
    public private(set) var udpAddresses: [TransportAddress] = []
    public private(set) var tcpAddresses: [TransportAddress] = []
    public private(set) var tlsAddresses: [TransportAddress] = []
    public private(set) var metricsAddress: TransportAddress?

    public init(configuration: RelayConfiguration, logger: Logger = Logger(label: "jingle-relay"),
                group: MultiThreadedEventLoopGroup? = nil) throws {
        try configuration.validate()
        self.configuration = configuration
        self.ownsGroup = group == nil
        self.group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let engine = TURNServerEngine(configuration: configuration.engineConfiguration,
                                      credentials: CredentialStore(realm: configuration.realm, users: configuration.users,
                                                                   secrets: configuration.secrets))
        core = RelayCore(eventLoop: self.group.next(), engine: engine, logger: logger,
                         socketBufferBytes: configuration.socketBufferBytes)
    }

    /// Binds every listener. Throws if any cannot be bound.
    public func start() async throws {
        let core = self.core
        let buffer = configuration.socketBufferBytes
        for address in configuration.listen {
            // The listener is bound here so the core can write to it directly; NIO reads it with
            // vectored receives (recvmmsg), one batch per readiness report.
            let socket = try DirectUDPSocket(binding: address, bufferBytes: buffer, reuseAddress: true, batched: true)
            let boundUDP = socket.local
            let udpChannel: Channel
            do {
                udpChannel = try await DatagramBootstrap(group: core.eventLoop)
                    .channelOption(.maxMessagesPerRead, value: 1)
                    .channelOption(.datagramVectorReadMessageCount, value: 64)
                    // The receive buffer is split between the vectored reads: 2 KiB per datagram.
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 64 * 2048))
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(ClientDatagramHandler(core: core, listener: boundUDP))
                        }
                    }
                    .withBoundSocket(socket.fd).get()
            } catch {
                socket.closeUnregistered()
                throw error
            }
            try await core.eventLoop.submit { core.addListener(UDPEndpoint(channel: udpChannel, socket: socket)) }.get()
            channels.append(udpChannel)
            udpAddresses.append(boundUDP)
            // TCP on the same port as the UDP listener.
            let tcpChannel = try await streamBootstrap(transport: .tcp, tls: nil)
                .bind(to: boundUDP.socketAddress).get()
            channels.append(tcpChannel)
            tcpAddresses.append(tcpChannel.localAddress.flatMap { TransportAddress($0) } ?? boundUDP)
        }
        if !configuration.tlsListen.isEmpty, let cert = configuration.tlsCertificateFile, let key = configuration.tlsPrivateKeyFile {
            let tls = TLSServerConfiguration(certificateChainFile: cert, privateKeyFile: key)
            // Fail early on unreadable certificate or key.
            _ = try NIOTLSHandler.server(tls)
            for address in configuration.tlsListen {
                let channel = try await streamBootstrap(transport: .tls, tls: tls).bind(to: address.socketAddress).get()
                channels.append(channel)
                tlsAddresses.append(channel.localAddress.flatMap { TransportAddress($0) } ?? address)
            }
        }
        if let metricsListen = configuration.metrics {
            let metrics = self.metrics
            let channel = try await ServerBootstrap(group: core.eventLoop)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler {
                            metrics.render(statistics: core.engine.statistics, allocationCount: core.engine.allocationCount,
                                           receiveErrorCount: core.receiveErrors, sendErrorCount: core.sendErrors)
                        })
                    }
                }
                .bind(to: metricsListen.socketAddress).get()
            channels.append(channel)
            metricsAddress = channel.localAddress.flatMap { TransportAddress($0) }
        }
        core.logger.info("relay started", metadata: ["configuration": "\(configuration.redactedSummary)"])
    }

    func streamBootstrap(transport: ClientTransport, tls: TLSServerConfiguration?) -> ServerBootstrap {
        let core = self.core
        return ServerBootstrap(group: core.eventLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try NIOTLSHandler.server(tls)) }
                    try channel.pipeline.syncOperations.addHandler(StreamClientHandler(core: core, transport: transport))
                }
            }
    }

    /// Replaces users and REST secrets (SIGHUP); live allocations are kept.
    public func reloadCredentials(users: [String: String], secrets: [String]) async throws {
        let core = self.core
        try await core.eventLoop.submit {
            core.engine.replaceCredentials(users: users, secrets: secrets)
            core.logger.info("credentials reloaded", metadata: ["users": "\(users.count)", "secrets": "\(secrets.count)"])
        }.get()
    }

    /// Number of live allocations.
    public func allocationCount() async throws -> Int {
        let core = self.core
        return try await core.eventLoop.submit { core.engine.allocationCount }.get()
    }

    /// How many entries the engine's tables and the driver's socket tables hold.
    public struct RuntimeSizes: Hashable, Sendable {
        public var engine: TURNServerEngine.StateSizes
        public var relaySockets: Int
        public var streamConnections: Int
    }

    /// The current table sizes (soak tests show churn leaves nothing behind).
    public func runtimeSizes() async throws -> RuntimeSizes {
        let core = self.core
        return try await core.eventLoop.submit {
            RuntimeSizes(engine: core.engine.stateSizes, relaySockets: core.relays.count, streamConnections: core.connections.count)
        }.get()
    }

    /// The engine's counters.
    public func statistics() async throws -> TURNStatistics {
        let core = self.core
        return try await core.eventLoop.submit { core.engine.statistics }.get()
    }

    /// The Prometheus text exposition, as the metrics endpoint would serve it.
    public func metricsText() async throws -> String {
        let core = self.core
        let metrics = self.metrics
        return try await core.eventLoop.submit {
            metrics.render(statistics: core.engine.statistics, allocationCount: core.engine.allocationCount,
                           receiveErrorCount: core.receiveErrors, sendErrorCount: core.sendErrors)
        }.get()
    }

    /// Refuses new allocations from now on; existing ones keep working.
    public func beginDrain() async throws {
        let core = self.core
        try await core.eventLoop.submit { core.engine.startDraining() }.get()
    }

    /// Graceful drain (SIGTERM): refuse new allocations, wait for existing ones to end or for
    /// `timeout` seconds, then close everything.
    public func drainAndStop(timeout: Double? = nil) async throws {
        let core = self.core
        let limit = timeout ?? configuration.drainTimeout
        try await core.eventLoop.submit { core.engine.startDraining() }.get()
        core.logger.info("draining", metadata: ["timeout": "\(limit)"])
        let deadline = ContinuousClock.now + .milliseconds(Int64(limit * 1000))
        while ContinuousClock.now < deadline, try await allocationCount() > 0 {
            try await Task.sleep(for: .milliseconds(200))
        }
        try await stop()
    }

    /// Closes every socket and stops the event loop.
    public func stop() async throws {
        let core = self.core
        try await core.eventLoop.submit {
            core.timer?.cancel()
            core.execute(core.engine.removeAll())
            for channel in core.connections.values { channel.close(promise: nil) }
            core.flush()
            for relay in Array(core.relays.keys) { core.closeRelay(relay) }
            core.listeners.removeAll()
            core.listenerList.removeAll()
        }.get()
        for channel in channels { try? await channel.close() }
        channels.removeAll()
        if ownsGroup { try await group.shutdownGracefully() }
        core.logger.info("relay stopped")
    }
}
