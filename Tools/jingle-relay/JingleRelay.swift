import ArgumentParser
import Dispatch
import Foundation
import Logging
import RelayServer
import ServiceLifecycle
import TURNServer

/// jingle-relay: a TURN relay daemon (RFC 8656). Settings come from `--config FILE` and are
/// overridden by the flags below; SIGHUP re-reads users and secrets, SIGTERM drains.
@main
struct JingleRelay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jingle-relay",
        abstract: "A TURN relay (RFC 8656), secure by default.")

    @Option(help: "Configuration file (key = value lines; see Samples/jingle-relay/jingle-relay.conf).")
    var config: String?
    @Option(help: "UDP+TCP listening address HOST:PORT (repeatable).")
    var listen: [String] = []
    @Option(name: .customLong("tls-listen"), help: "TLS listening address HOST:PORT (repeatable).")
    var tlsListen: [String] = []
    @Option(name: .customLong("tls-certificate"), help: "PEM certificate chain for TLS.")
    var tlsCertificate: String?
    @Option(name: .customLong("tls-private-key"), help: "PEM private key for TLS.")
    var tlsPrivateKey: String?
    @Option(name: .customLong("relay-ip"), help: "Address relayed allocations bind to (IPv4 and/or IPv6; repeatable).")
    var relayIP: [String] = []
    @Option(help: "Authentication realm.")
    var realm: String?
    @Option(help: "Long-term user NAME:PASSWORD (repeatable).")
    var user: [String] = []
    @Option(help: "TURN REST shared secret (repeatable, for rotation).")
    var secret: [String] = []
    @Option(name: .customLong("allow-peer"), help: "Allow peers in this CIDR despite the default deny list (repeatable).")
    var allowPeer: [String] = []
    @Flag(name: .customLong("allow-loopback-peers"), help: "Allow loopback peers (tests only).")
    var allowLoopbackPeers = false
    @Flag(name: .customLong("rfc5766-channels"), help: "Accept RFC 5766 channel numbers 0x4000-0x7FFF (older clients).")
    var rfc5766Channels = false
    @Option(help: "Prometheus metrics endpoint HOST:PORT.")
    var metrics: String?
    @Option(help: "Relay port range MIN-MAX.")
    var ports: String?
    @Option(name: .customLong("max-allocations"), help: "Total allocation limit.")
    var maxAllocations: String?
    @Option(name: .customLong("user-quota"), help: "Allocations per user.")
    var userQuota: String?
    @Option(help: "Per-allocation bandwidth cap in bytes per second (0 = none).")
    var bandwidth: String?
    @Option(name: .customLong("alternate-server"), help: "Redirect Allocate requests here (300 Try Alternate).")
    var alternateServer: String?
    @Option(name: .customLong("drain-timeout"), help: "Seconds SIGTERM waits for allocations to end.")
    var drainTimeout: String?
    @Option(help: "UDP data-plane threads (SO_REUSEPORT listeners, allocations sharded by thread; default 1).")
    var threads: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel: String = "info"

    /// File settings, then command-line overrides.
    func loadConfiguration() throws -> RelayConfiguration {
        var configuration = RelayConfiguration()
        if let path = config {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            do {
                configuration = try RelayConfiguration.parse(text)
            } catch {
                throw ValidationError("\(path): \(error)")
            }
        }
        // Repeatable flags replace the file's list when given.
        if !listen.isEmpty { configuration.listen = [] }
        if !tlsListen.isEmpty { configuration.tlsListen = [] }
        var overrides: [(String, String)] = []
        overrides += listen.map { ("listen", $0) } + tlsListen.map { ("tls-listen", $0) }
        overrides += relayIP.map { ("relay-ip", $0) } + user.map { ("user", $0) } + secret.map { ("secret", $0) }
        overrides += allowPeer.map { ("allow-peer", $0) }
        let singles: [(String, String?)] = [
            ("tls-certificate", tlsCertificate), ("tls-private-key", tlsPrivateKey), ("realm", realm), ("metrics", metrics),
            ("ports", ports), ("max-allocations", maxAllocations), ("user-quota", userQuota), ("bandwidth", bandwidth),
            ("alternate-server", alternateServer), ("drain-timeout", drainTimeout), ("threads", threads),
        ]
        for (key, value) in singles { if let value { overrides.append((key, value)) } }
        for (key, value) in overrides {
            do {
                try configuration.apply(key: key, value: value)
            } catch {
                throw ValidationError("--\(error)")
            }
        }
        if allowLoopbackPeers { configuration.allowLoopbackPeers = true }
        if rfc5766Channels { configuration.rfc5766Channels = true }
        do {
            try configuration.validate()
        } catch {
            throw ValidationError("\(error)")
        }
        return configuration
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "jingle-relay")
        let configuration = try loadConfiguration()
        let server = try RelayServer(configuration: configuration, logger: logger)

        // SIGHUP: re-read users and secrets from the file and the flags.
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let command = self
        hangup.setEventHandler {
            do {
                let fresh = try command.loadConfiguration()
                Task { try? await server.reloadCredentials(users: fresh.users, secrets: fresh.secrets) }
            } catch {
                logger.error("reload failed; keeping current credentials", metadata: ["error": "\(error)"])
            }
        }
        hangup.resume()

        let group = ServiceGroup(configuration: .init(
            services: [.init(service: RelayService(server: server))],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        hangup.cancel()
    }
}

