import ArgumentParser
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import JingleKit
import Synchronization
import XMPPClient
import XMPPCore

/// What the agent does when the server goes away: reconnect (the default, exponential back-off
/// with jitter, resuming the XMPP session with XEP-0198 where the server still has it) or, with
/// `--no-reconnect`, exit 6 at once so a supervisor restarts it.
struct ConnectionOptions: ParsableArguments {
    @Flag(
        name: .customLong("no-reconnect"),
        help: "Exit 6 at once when the connection to the server is lost, instead of reconnecting.")
    var noReconnect = false

    @Option(
        name: .customLong("ping-interval"),
        help: ArgumentHelp("Ping the server after this many seconds of silence (testing).", visibility: .hidden))
    var pingInterval: Double = 30

    @Option(
        name: .customLong("ping-timeout"),
        help: ArgumentHelp("A ping unanswered this long means the connection is dead (testing).", visibility: .hidden))
    var pingTimeout: Double = 10

    @Option(
        name: .customLong("reconnect-max-delay"),
        help: ArgumentHelp("Longest wait between reconnect attempts, in seconds (testing).", visibility: .hidden))
    var reconnectMaxDelay: Double = 60

    func validate() throws {
        guard pingInterval >= 0.1, pingInterval <= 3600 else { throw ValidationError("--ping-interval: 0.1 to 3600 seconds") }
        guard pingTimeout >= 0.1, pingTimeout <= 3600 else { throw ValidationError("--ping-timeout: 0.1 to 3600 seconds") }
        guard reconnectMaxDelay >= 0.1, reconnectMaxDelay <= 3600 else {
            throw ValidationError("--reconnect-max-delay: 0.1 to 3600 seconds")
        }
    }

    /// The client configuration with these settings applied.
    func apply(to configuration: XMPPClientConfiguration) -> XMPPClientConfiguration {
        var c = configuration
        c.reconnect =
            noReconnect
            ? nil
            : ReconnectPolicy(
                initialDelay: .seconds(1), multiplier: 2,
                maxDelay: Self.duration(reconnectMaxDelay), jitter: 0.5)
        c.pingInterval = Self.duration(pingInterval)
        c.pingTimeout = Self.duration(pingTimeout)
        c.streamManagement = true
        return c
    }

    static func duration(_ seconds: Double) -> Duration { .milliseconds(Int64((seconds * 1000).rounded())) }
}

/// Whether the agent is online, for the status line: nil when online, else what to show.
final class ConnectionNote: Sendable {
    private let note = Mutex<String?>(nil)
    var offline: String? { note.withLock { $0 } }
    func set(_ text: String?) { note.withLock { $0 = text } }
}

/// Follows the client's connection events: progress lines when the agent goes offline and comes
/// back, presence and carbons again after a new session, and with `--no-reconnect` an exit 6 as
/// soon as the connection is lost (after `beforeExit`: the calls going on end as failed and
/// their reports are written).
enum ConnectionWatch {
    static func start(
        client: XMPPClient, manager: CallManager, note: ConnectionNote, exitOnLoss: Bool,
        beforeExit: @escaping @Sendable (String) async -> Void = { _ in }
    ) -> Task<Void, Never> {
        let events = client.connectionEvents
        return Task {
            var lastReason = "connection lost"
            var offline = false
            for await event in events {
                switch event {
                case .connected(let info):
                    guard offline else { continue }
                    offline = false
                    note.set(nil)
                    Console.shared.progress("online again (\(info.resumed ? "stream resumed" : "new session")) as \(info.boundJID)")
                    if !info.resumed { await manager.reannounce() }
                case .disconnected(let error):
                    guard let error else { continue }
                    lastReason = describe(error)
                    if exitOnLoss {
                        Console.shared.error("jingle-agent: offline: \(lastReason); exiting (--no-reconnect)")
                        await beforeExit("offline: \(lastReason); exiting (--no-reconnect)")
                        exit(AgentExitCode.signallingFailure.rawValue)
                    }
                    offline = true
                    note.set("offline: \(lastReason)")
                case .reconnecting(let attempt, let delay):
                    let line =
                        "offline: \(lastReason); reconnecting in \(seconds(delay)) s"
                        + (attempt > 1 ? " (attempt \(attempt))" : "")
                    note.set(line)
                    Console.shared.progress(line)
                }
            }
        }
    }

    /// "connection lost (the server closed the stream)".
    static func describe(_ error: XMPPError) -> String {
        if case .connectionLost(let reason) = error { return "connection lost (\(reason))" }
        return "connection lost (\(error))"
    }

    /// "2.1" for 2.08 s.
    static func seconds(_ d: Duration) -> String {
        let tenths = d.components.seconds * 10 + d.components.attoseconds / 100_000_000_000_000_000
        return "\(tenths / 10).\(tenths % 10)"
    }
}
