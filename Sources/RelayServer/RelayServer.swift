import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import RelayFastPath
import STUN
import Synchronization
import TLS
import TURNServer

/// The TURN relay daemon's runtime (RFC 8656): UDP listeners and one UDP socket per relayed
/// address on epoll data-plane threads (vectored receives and sends), TCP and TLS listeners
/// with stream framing and a Prometheus endpoint on NIO, credential reload and graceful drain.
/// With `threads` > 1 each data-plane thread (a `RelayCore`) has its own `SO_REUSEPORT`
/// listener socket per UDP address, its own allocation engine and port slice: the kernel's
/// 5-tuple hash keeps a client on one socket, so its allocation and relay socket stay on the
/// thread that received its Allocate. All relay state lives on the data-plane threads.
public final class RelayServer: @unchecked Sendable {
    public let configuration: RelayConfiguration
    let group: MultiThreadedEventLoopGroup
    let ownsGroup: Bool
    /// One per data-plane thread; `cores[0]` also logs for the server.
    let cores: [RelayCore]
    var core: RelayCore { cores[0] }
    let metrics = RelayMetrics()
    var channels: [Channel] = []
    /// The addresses actually bound (ports resolved when 0 was asked for).
    public private(set) var udpAddresses: [TransportAddress] = []
    public private(set) var tcpAddresses: [TransportAddress] = []
    public private(set) var tlsAddresses: [TransportAddress] = []
    public private(set) var metricsAddress: TransportAddress?
    /// The certificate and key every TLS connection shares, loaded once (and again on SIGHUP).
    let tlsContext = Mutex<TLSServerContext?>(nil)
    /// Caps on TCP and TLS client connections, and how long each step may take.
    let connectionLimits: ConnectionLimits
    let streamTimeouts: StreamTimeouts
    /// The kernel fast path, when `fast-path` put it in place.
    let fastPathProgram = Mutex<ChannelRelayProgram?>(nil)

    public init(
        configuration: RelayConfiguration, logger: Logger = Logger(label: "jingle-relay"),
        group: MultiThreadedEventLoopGroup? = nil
    ) throws {
        try configuration.validate()
        try configuration.checkRelayAddresses()
        self.configuration = configuration
        connectionLimits = ConnectionLimits(total: configuration.maxConnections, perAddress: configuration.maxConnectionsPerIP)
        streamTimeouts = StreamTimeouts(configuration)
        self.ownsGroup = group == nil
        let group = group ?? MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        cores = try (0..<max(configuration.threads, 1)).map { shard in
            let engine = TURNServerEngine(
                configuration: configuration.engineConfiguration(shard: shard),
                credentials: CredentialStore(
                    realm: configuration.realm, users: configuration.users,
                    secrets: configuration.secrets))
            return try RelayCore(engine: engine, logger: logger, socketBufferBytes: configuration.socketBufferBytes, group: group)
        }
    }

    /// Runs `work` on every data-plane thread and returns the results in thread order.
    func onEveryCore<T: Sendable>(_ work: @escaping @Sendable (RelayCore) -> T) async -> [T] {
        var results: [T] = []
        for core in cores { results.append(await core.submit { work(core) }) }
        return results
    }

    /// Binds every listener and starts the data plane. Throws if any cannot be bound.
    public func start() async throws {
        let cores = self.cores
        let buffer = configuration.socketBufferBytes
        let shared = cores.count > 1
        var sockets: [[DirectUDPSocket]] = Array(repeating: [], count: cores.count)
        for address in configuration.listen {
            // The first socket resolves port 0; the other threads' sockets join its port.
            let first: DirectUDPSocket
            do {
                first = try DirectUDPSocket(binding: address, bufferBytes: buffer, reuseAddress: true, reusePort: shared, batched: true)
            } catch DirectUDPSocket.SocketError.bind(_, let code) {
                throw RelayStartError(description: "cannot listen on udp \(address): \(String(cString: strerror(code)))")
            }
            sockets[0].append(first)
            udpAddresses.append(first.local)
            for shard in cores.indices.dropFirst() {
                sockets[shard].append(
                    try DirectUDPSocket(
                        binding: first.local, bufferBytes: buffer, reuseAddress: true,
                        reusePort: true, batched: true))
            }
        }
        connectionLimits.setLimit(RelayServer.connectionLimit(configuration))
        for (core, bound) in zip(cores, sockets) {
            core.post { for socket in bound { core.addListener(socket) } }
            core.start()
        }
        for boundUDP in udpAddresses {
            // TCP on the same port as the UDP listener.
            let tcpChannel = try await bindListener(streamBootstrap(transport: .tcp, tls: false), boundUDP, kind: "tcp")
            channels.append(tcpChannel)
            tcpAddresses.append(tcpChannel.localAddress.flatMap { TransportAddress($0) } ?? boundUDP)
        }
        if !configuration.tlsListen.isEmpty, let cert = configuration.tlsCertificateFile, let key = configuration.tlsPrivateKeyFile {
            // Read once here (failing early on an unreadable certificate or key), not per connection.
            let context = try TLSServerContext(TLSServerConfiguration(certificateChainFile: cert, privateKeyFile: key))
            tlsContext.withLock { $0 = context }
            for address in configuration.tlsListen {
                let channel = try await bindListener(streamBootstrap(transport: .tls, tls: true), address, kind: "tls")
                channels.append(channel)
                tlsAddresses.append(channel.localAddress.flatMap { TransportAddress($0) } ?? address)
            }
        }
        if let metricsListen = configuration.metrics {
            let metrics = self.metrics
            let metricsBootstrap = ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(
                            MetricsHTTPHandler { route, reply in
                                metrics.answer(route, cores: cores, reply: reply)
                            })
                    }
                }
            let channel = try await bindListener(metricsBootstrap, metricsListen, kind: "metrics")
            channels.append(channel)
            metricsAddress = channel.localAddress.flatMap { TransportAddress($0) }
        }
        await protectOwnAddresses()
        try startFastPath()
        core.logger.info("relay started", metadata: ["configuration": "\(configuration.redactedSummary)"])
    }

    func streamBootstrap(transport: ClientTransport, tls: Bool) -> ServerBootstrap {
        let cores = self.cores
        let limits = connectionLimits
        let timeouts = streamTimeouts
        return ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // Plain TCP keeps a half-close (RFC 6062 data connections pass it on; a control
            // connection that half-closes is closed as before).
            .childChannelOption(.allowRemoteHalfClosure, value: !tls)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if tls {
                        guard let context = tlsContext.withLock({ $0 }) else { throw RelayStartError(description: "no TLS context") }
                        try channel.pipeline.syncOperations.addHandler(try NIOTLSHandler.server(context))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        StreamClientHandler(
                            cores: cores, transport: transport,
                            limits: limits, timeouts: timeouts))
                }
            }
    }

    /// Replaces users and REST secrets (SIGHUP); live allocations are kept.
    public func reloadCredentials(users: [String: String], secrets: [String]) async throws {
        _ = await onEveryCore { core in core.engine.replaceCredentials(users: users, secrets: secrets) }
        core.logger.info("credentials reloaded", metadata: ["users": "\(users.count)", "secrets": "\(secrets.count)"])
    }

    /// Number of live allocations.
    public func allocationCount() async throws -> Int {
        await onEveryCore { $0.engine.allocationCount }.reduce(0, +)
    }

    /// Live allocations on each data-plane thread, in thread order.
    public func allocationCountsPerThread() async throws -> [Int] {
        await onEveryCore { $0.engine.allocationCount }
    }

    /// How many entries the engine's tables and the driver's socket tables hold.
    public struct RuntimeSizes: Hashable, Sendable {
        public var engine: TURNServerEngine.StateSizes
        public var relaySockets: Int
        public var streamConnections: Int
        /// RFC 6062: TCP listeners on relayed addresses and peer connections.
        public var tcpRelayListeners = 0
        public var peerConnectionChannels = 0
    }

    /// The current table sizes (soak tests show churn leaves nothing behind).
    public func runtimeSizes() async throws -> RuntimeSizes {
        let parts = await onEveryCore {
            RuntimeSizes(
                engine: $0.engine.stateSizes, relaySockets: $0.relays.count, streamConnections: $0.connections.count,
                tcpRelayListeners: $0.tcpRelays.count, peerConnectionChannels: $0.peerChannels.count)
        }
        var total = RuntimeSizes(engine: .init(), relaySockets: 0, streamConnections: 0)
        for part in parts {
            total.engine = total.engine + part.engine
            total.relaySockets += part.relaySockets
            total.streamConnections += part.streamConnections
            total.tcpRelayListeners += part.tcpRelayListeners
            total.peerConnectionChannels += part.peerConnectionChannels
        }
        return total
    }

    /// The engines' counters, summed over threads, with what the kernel fast path relayed
    /// counted in the packets and bytes relayed (as `/metrics` counts it).
    public func statistics() async throws -> TURNStatistics {
        await RelayServer.snapshot(cores).statistics
    }

    /// Every thread's counters, summed (one metrics scrape).
    struct Snapshot: Sendable {
        var statistics = TURNStatistics()
        var allocationCount = 0
        var receiveErrors: UInt64 = 0
        var sendErrors: UInt64 = 0
        var peerConnections = 0
        var tcpBytesToPeer: UInt64 = 0
        var tcpBytesToClient: UInt64 = 0
        /// Relayed by the kernel fast path (also in `statistics`).
        var kernel = KernelChannelTable.Relayed()
        /// Channels in the fast path's maps.
        var kernelRoutes = 0
    }

    static func snapshot(_ cores: [RelayCore]) async -> Snapshot {
        await withCheckedContinuation { continuation in snapshot(cores) { continuation.resume(returning: $0) } }
    }

    /// The Prometheus text exposition, as the metrics endpoint would serve it.
    public func metricsText() async throws -> String {
        metrics.render(await RelayServer.snapshot(cores))
    }

    /// Refuses new allocations from now on; existing ones keep working.
    public func beginDrain() async throws {
        metrics.draining.store(true, ordering: .relaxed)
        _ = await onEveryCore { $0.engine.startDraining() }
    }

    /// Graceful drain (SIGTERM): refuse new allocations, wait for existing ones to end or for
    /// `timeout` seconds, then close everything.
    public func drainAndStop(timeout: Double? = nil) async throws {
        let limit = timeout ?? configuration.drainTimeout
        metrics.draining.store(true, ordering: .relaxed)
        _ = await onEveryCore { $0.engine.startDraining() }
        core.logger.info("draining", metadata: ["timeout": "\(limit)"])
        let deadline = ContinuousClock.now + .milliseconds(Int64(limit * 1000))
        while ContinuousClock.now < deadline, try await allocationCount() > 0 {
            try await Task.sleep(for: .milliseconds(200))
        }
        try await stop()
    }

    /// Closes every socket and stops the data plane and the event loop.
    public func stop() async throws {
        for core in cores {
            if core.isRunning {
                await core.submit { core.closeAll() }
                core.stopThread()
            } else {
                core.closeAll()
            }
        }
        stopFastPath()
        for channel in channels { try? await channel.close() }
        channels.removeAll()
        if ownsGroup { try await group.shutdownGracefully() }
        core.logger.info("relay stopped")
    }
}
