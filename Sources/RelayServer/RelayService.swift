#if canImport(Glibc)
    import Glibc
#endif
import Dispatch
import Logging
import ServiceLifecycle
import Synchronization

/// Runs a `RelayServer` under swift-service-lifecycle: starts it, tells systemd it is ready
/// (`READY=1`, then `WATCHDOG=1` at half the `WATCHDOG_USEC` interval while the data-plane
/// threads answer), waits for graceful shutdown (SIGTERM/SIGINT via the service group), tells
/// systemd it is stopping (`STOPPING=1`), then drains and stops.
public struct RelayService: Service {
    public let server: RelayServer
    public let notifier: SystemdNotifier

    public init(server: RelayServer, notifier: SystemdNotifier = SystemdNotifier(environment: [:])) {
        self.server = server
        self.notifier = notifier
    }

    public func run() async throws {
        try await server.start()
        notifier.ready(status: "serving")
        let watchdog = notifier.watchdogInterval.map { interval in
            Task { [server, notifier] in
                while !Task.isCancelled {
                    // A data-plane thread that stopped answering stops the pings: systemd restarts us.
                    _ = try? await server.allocationCount()
                    notifier.watchdog()
                    try? await Task.sleep(for: interval / 2)
                }
            }
        }
        defer { watchdog?.cancel() }
        try? await gracefulShutdown()
        notifier.stopping(status: "draining")
        try await server.drainAndStop()
    }
}

/// A second SIGTERM or SIGINT while draining ends the process at once (by that signal, with
/// its default action), for an operator who does not want to wait for `drain-timeout`.
public final class SecondSignalExit: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    private final class Count: Sendable { let value = Atomic<Int>(0) }

    /// Watches `signals` alongside whatever else handles them (the service group's graceful
    /// shutdown sees the first one).
    public init(signals: [Int32] = [SIGTERM, SIGINT], logger: Logger) {
        let seen = Count()
        sources = signals.map { number in
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                guard seen.value.add(1, ordering: .relaxed).newValue >= 2 else { return }
                logger.warning("second signal: exiting without waiting for the drain", metadata: ["signal": "\(number)"])
                signal(number, SIG_DFL)
                kill(getpid(), number)
            }
            return source
        }
        for signal in signals { Glibc.signal(signal, SIG_IGN) }
        for source in sources { source.resume() }
    }

    deinit {
        for source in sources { source.cancel() }
    }
}
