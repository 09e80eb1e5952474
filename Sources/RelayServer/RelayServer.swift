import Logging
import NIOCore
import NIOPosix
import STUN
import TLS
import TURNServer

/// The TURN relay daemon's runtime (RFC 8656): UDP listeners and one UDP socket per relayed
/// address on the core's own epoll data-plane thread (vectored receives and sends), TCP and TLS
/// listeners with stream framing and a Prometheus endpoint on NIO, credential reload and
/// graceful drain. All relay state lives on the data-plane thread.
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
        core = try RelayCore(engine: engine, logger: logger, socketBufferBytes: configuration.socketBufferBytes)
    }

    /// Binds every listener and starts the data plane. Throws if any cannot be bound.
    public func start() async throws {
        let core = self.core
        let buffer = configuration.socketBufferBytes
        var sockets: [DirectUDPSocket] = []
        for address in configuration.listen {
            let socket = try DirectUDPSocket(binding: address, bufferBytes: buffer, reuseAddress: true, batched: true)
            sockets.append(socket)
            udpAddresses.append(socket.local)
        }
        let bound = sockets
        core.post { for socket in bound { core.addListener(socket) } }
        core.start()
        for boundUDP in udpAddresses {
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
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler { reply in
                            core.post {
                                reply(metrics.render(statistics: core.engine.statistics, allocationCount: core.engine.allocationCount,
                                                     receiveErrorCount: core.receiveErrors, sendErrorCount: core.sendErrors))
                            }
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
        return ServerBootstrap(group: group)
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
        await core.submit {
            core.engine.replaceCredentials(users: users, secrets: secrets)
            core.logger.info("credentials reloaded", metadata: ["users": "\(users.count)", "secrets": "\(secrets.count)"])
        }
    }

    /// Number of live allocations.
    public func allocationCount() async throws -> Int {
        let core = self.core
        return await core.submit { core.engine.allocationCount }
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
        return await core.submit {
            RuntimeSizes(engine: core.engine.stateSizes, relaySockets: core.relays.count, streamConnections: core.connections.count)
        }
    }

    /// The engine's counters.
    public func statistics() async throws -> TURNStatistics {
        let core = self.core
        return await core.submit { core.engine.statistics }
    }

    /// The Prometheus text exposition, as the metrics endpoint would serve it.
    public func metricsText() async throws -> String {
        let core = self.core
        let metrics = self.metrics
        return await core.submit {
            metrics.render(statistics: core.engine.statistics, allocationCount: core.engine.allocationCount,
                           receiveErrorCount: core.receiveErrors, sendErrorCount: core.sendErrors)
        }
    }

    /// Refuses new allocations from now on; existing ones keep working.
    public func beginDrain() async throws {
        let core = self.core
        await core.submit { core.engine.startDraining() }
    }

    /// Graceful drain (SIGTERM): refuse new allocations, wait for existing ones to end or for
    /// `timeout` seconds, then close everything.
    public func drainAndStop(timeout: Double? = nil) async throws {
        let core = self.core
        let limit = timeout ?? configuration.drainTimeout
        await core.submit { core.engine.startDraining() }
        core.logger.info("draining", metadata: ["timeout": "\(limit)"])
        let deadline = ContinuousClock.now + .milliseconds(Int64(limit * 1000))
        while ContinuousClock.now < deadline, try await allocationCount() > 0 {
            try await Task.sleep(for: .milliseconds(200))
        }
        try await stop()
    }

    /// Closes every socket and stops the data plane and the event loop.
    public func stop() async throws {
        let core = self.core
        if core.isRunning {
            await core.submit { core.closeAll() }
            core.stopThread()
        } else {
            core.closeAll()
        }
        for channel in channels { try? await channel.close() }
        channels.removeAll()
        if ownsGroup { try await group.shutdownGracefully() }
        core.logger.info("relay stopped")
    }
}
