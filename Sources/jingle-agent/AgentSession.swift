import Jingle
import JingleKit
import Logging
import Synchronization
import XMPPClient
import XMPPCore

/// One logged-in agent: the XMPP client, the call manager on it, and an orderly way out.
final class AgentSession: Sendable {
    let client: XMPPClient
    let transport: DrainingTransport
    let manager: CallManager
    let boundJID: JID
    let media: MediaWiring
    /// Offline or not, for the status line.
    let connection: ConnectionNote
    private let reports: PendingReports
    private let watch: Task<Void, Never>

    private init(
        client: XMPPClient, transport: DrainingTransport, manager: CallManager, boundJID: JID, media: MediaWiring,
        connection: ConnectionNote, reports: PendingReports, watch: Task<Void, Never>
    ) {
        self.connection = connection
        self.reports = reports
        self.watch = watch
        self.client = client
        self.transport = transport
        self.manager = manager
        self.boundJID = boundJID
        self.media = media
    }

    /// Logs in and starts the call manager (presence, carbons, the Jingle handler).
    /// - Parameter concurrentCalls: calls at once before a JMI proposal is answered busy by the runtime.
    /// - Parameter connectionOptions: reconnecting (or exiting 6) when the connection is lost, and keep-alive pings.
    static func connect(
        _ given: XMPPClientConfiguration, options: CallOptions, media: MediaWiring,
        connectionOptions: ConnectionOptions = ConnectionOptions(),
        concurrentCalls: Int = 1
    ) async throws(AgentFailure) -> AgentSession {
        let configuration = connectionOptions.apply(to: given)
        AgentLogging.setVerbose(options.verbose)
        var logger = Logger(label: "jingle-agent")
        logger.logLevel = options.verbose ? .debug : .critical
        let client = XMPPClient(configuration: configuration, logger: logger)
        let info: ConnectionInfo
        do { info = try await client.connect() } catch {
            throw AgentFailure("cannot log in as \(configuration.jid): \(error)", exitCode: .signallingFailure)
        }
        let transport = DrainingTransport(client: client)
        var callLogger = Logger(label: "jingle-agent.calls")
        callLogger.logLevel = options.verbose ? .debug : .critical
        let manager = CallManager(
            transport: transport, local: info.boundJID,
            configuration: CallConfiguration(
                mediaTransports: media.transportProvider(client: client),
                maximumConcurrentCalls: concurrentCalls),
            logger: callLogger)
        await manager.start()
        Console.shared.progress(
            "connected as \(info.boundJID)"
                + (info.streamManagement ? " (stream management on)" : ""))
        let note = ConnectionNote()
        let reports = PendingReports()
        let watch = ConnectionWatch.start(client: client, manager: manager, note: note, exitOnLoss: connectionOptions.noReconnect) { why in
            // The calls going on cannot continue: each ends as failed (general-error, saying why)
            // and its report is written before the exit.
            for call in await manager.activeCalls { await call.hangUp(reason: Reason(.generalError, text: why)) }
            await reports.waitUntilWritten(limit: .seconds(5))
        }
        return AgentSession(
            client: client, transport: transport, manager: manager, boundJID: info.boundJID, media: media,
            connection: note, reports: reports, watch: watch)
    }

    /// Runs a call to its end and report; an exit for a lost connection waits for the report.
    func run(_ runner: CallRunner) async -> CallReport {
        reports.begin()
        defer { reports.end() }
        return await runner.run()
    }

    /// Hangs up every call still going.
    func hangUpAll() async {
        for call in await manager.activeCalls { await call.hangUp() }
    }

    /// Ends the calls still going, lets the last stanzas leave, and logs out.
    func close() async {
        watch.cancel()
        await hangUpAll()
        await transport.drain()
        await manager.stop()
        await client.disconnect()
    }
}

/// The calls whose reports are not written yet.
final class PendingReports: Sendable {
    private let state = Mutex<(count: Int, waiters: [AsyncStream<Void>.Continuation])>((0, []))

    func begin() { state.withLock { $0.count += 1 } }

    func end() {
        let waiters = state.withLock { s -> [AsyncStream<Void>.Continuation] in
            s.count -= 1
            guard s.count == 0 else { return [] }
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.finish() }
    }

    /// Returns once no report is pending, or after `limit`.
    func waitUntilWritten(limit: Duration) async {
        let (stream, sink) = AsyncStream.makeStream(of: Void.self)
        let pending = state.withLock { s -> Bool in
            guard s.count > 0 else { return false }
            s.waiters.append(sink)
            return true
        }
        guard pending else { return }
        let timer = Task {
            try? await Task.sleep(for: limit)
            sink.finish()
        }
        for await _ in stream {}
        timer.cancel()
    }
}
