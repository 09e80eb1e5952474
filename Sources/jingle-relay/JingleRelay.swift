import ArgumentParser
import Dispatch
import Foundation
import JingleKitVersion
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
        abstract: "A TURN relay (RFC 8656), secure by default.",
        discussion: manualDiscussion,
        version: JingleKitVersion.string)

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
    @Option(help: "TURN REST shared secret (repeatable, for rotation; visible in ps: prefer --secret-file or JINGLE_RELAY_SECRET).")
    var secret: [String] = []
    @Option(name: .customLong("user-file"), help: "File of long-term users, one NAME:PASSWORD a line (repeatable).")
    var userFile: [String] = []
    @Option(name: .customLong("secret-file"), help: "File of TURN REST shared secrets, one a line (repeatable).")
    var secretFile: [String] = []
    @Option(
        name: .customLong("external-ip"),
        help: "Behind NAT: PUBLIC or PUBLIC/PRIVATE, PUBLIC advertised for allocations relayed on PRIVATE (one per family).")
    var externalIP: [String] = []
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
    @Option(
        name: .customLong("fast-path"),
        help: "Kernel fast path for UDP channels (eBPF): auto, on or off (default auto).")
    var fastPath: String?
    @Option(name: .customLong("max-lifetime"), help: "Longest allocation lifetime granted, seconds (600-86400).")
    var maxLifetime: String?
    @Option(name: .customLong("nonce-lifetime"), help: "Nonce lifetime, seconds.")
    var nonceLifetime: String?
    @Option(name: .customLong("permission-lifetime"), help: "Permission lifetime, seconds (RFC 8656: 300; others for tests).")
    var permissionLifetime: String?
    @Option(name: .customLong("channel-lifetime"), help: "Channel binding lifetime, seconds (RFC 8656: 600; others for tests).")
    var channelLifetime: String?
    @Option(help: "SOFTWARE attribute in Allocate responses (empty to omit).")
    var software: String?
    @Option(name: .customLong("socket-buffer"), help: "Listener socket buffer bytes (0 = system default).")
    var socketBuffer: String?
    @Option(name: .customLong("tcp-relay"), help: "TCP allocations (RFC 6062): true or false.")
    var tcpRelay: String?
    @Option(name: .customLong("tcp-connections-per-allocation"), help: "Peer TCP connections one TCP allocation may hold.")
    var tcpConnectionsPerAllocation: String?
    @Option(name: .customLong("permissions-per-allocation"), help: "Permissions (peer IPs) one allocation may hold (beyond: 508).")
    var permissionsPerAllocation: String?
    @Option(name: .customLong("channels-per-allocation"), help: "Channels one allocation may hold (beyond: 508).")
    var channelsPerAllocation: String?
    @Option(
        name: .customLong("unauthenticated-replies-per-second"),
        help: "Answers to unauthenticated requests per second per source (0 = no limit).")
    var unauthenticatedRepliesPerSecond: String?
    @Option(name: .customLong("max-connections"), help: "TCP+TLS client connections at once (0 = half the descriptor limit).")
    var maxConnections: String?
    @Option(name: .customLong("max-connections-per-ip"), help: "TCP+TLS client connections at once from one address.")
    var maxConnectionsPerIP: String?
    @Option(name: .customLong("tls-handshake-timeout"), help: "Seconds a TLS client has to complete its handshake.")
    var tlsHandshakeTimeout: String?
    @Option(name: .customLong("first-message-timeout"), help: "Seconds a TCP/TLS connection has to send a valid STUN message.")
    var firstMessageTimeout: String?
    @Option(name: .customLong("idle-timeout"), help: "Seconds a TCP/TLS connection without an allocation may stay silent.")
    var idleTimeout: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    /// The environment variable holding a TURN REST secret (kept out of `ps`).
    static let secretVariable = "JINGLE_RELAY_SECRET"

    /// A configuration error: one line on standard error, exit status 64 (EX_USAGE).
    struct ConfigurationFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// File settings, then command-line overrides.
    func loadConfiguration() throws -> RelayConfiguration {
        var configuration = RelayConfiguration()
        if let path = config {
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ConfigurationFailure(
                    description: "cannot read configuration file \(path): \(RelayConfiguration.describeFileError(error))")
            }
            do {
                configuration = try RelayConfiguration.parse(text, directory: URL(fileURLWithPath: path).deletingLastPathComponent().path)
            } catch {
                throw ConfigurationFailure(description: "\(path): \(error)")
            }
        }
        // Repeatable flags replace the file's list when given.
        if !listen.isEmpty { configuration.listen = [] }
        if !tlsListen.isEmpty { configuration.tlsListen = [] }
        var overrides: [(String, String)] = []
        overrides += listen.map { ("listen", $0) } + tlsListen.map { ("tls-listen", $0) }
        overrides += relayIP.map { ("relay-ip", $0) } + user.map { ("user", $0) } + secret.map { ("secret", $0) }
        overrides += allowPeer.map { ("allow-peer", $0) }
        overrides += userFile.map { ("user-file", $0) } + secretFile.map { ("secret-file", $0) }
        overrides += externalIP.map { ("external-ip", $0) }
        if let secret = ProcessInfo.processInfo.environment[Self.secretVariable], !secret.isEmpty { overrides.append(("secret", secret)) }
        let singles: [(String, String?)] = [
            ("tls-certificate", tlsCertificate), ("tls-private-key", tlsPrivateKey), ("realm", realm), ("metrics", metrics),
            ("ports", ports), ("max-allocations", maxAllocations), ("user-quota", userQuota), ("bandwidth", bandwidth),
            ("alternate-server", alternateServer), ("drain-timeout", drainTimeout), ("threads", threads), ("fast-path", fastPath),
            ("max-lifetime", maxLifetime), ("nonce-lifetime", nonceLifetime),
            ("permission-lifetime", permissionLifetime), ("channel-lifetime", channelLifetime), ("software", software),
            ("socket-buffer", socketBuffer),
            ("tcp-relay", tcpRelay), ("tcp-connections-per-allocation", tcpConnectionsPerAllocation),
            ("permissions-per-allocation", permissionsPerAllocation), ("channels-per-allocation", channelsPerAllocation),
            ("unauthenticated-replies-per-second", unauthenticatedRepliesPerSecond),
            ("max-connections", maxConnections), ("max-connections-per-ip", maxConnectionsPerIP),
            ("tls-handshake-timeout", tlsHandshakeTimeout), ("first-message-timeout", firstMessageTimeout), ("idle-timeout", idleTimeout),
        ]
        for (key, value) in singles { if let value { overrides.append((key, value)) } }
        for (key, value) in overrides {
            do {
                try configuration.apply(key: key, value: value)
            } catch {
                throw ConfigurationFailure(description: "--\(error)")
            }
        }
        if allowLoopbackPeers { configuration.allowLoopbackPeers = true }
        if rfc5766Channels { configuration.rfc5766Channels = true }
        do {
            try configuration.validate()
            try configuration.checkRelayAddresses()
        } catch {
            throw ConfigurationFailure(description: "\(error)")
        }
        return configuration
    }

    /// Writes one line to standard error and exits with `code`.
    static func exit(_ message: String, code: Int32) -> ExitCode {
        FileHandle.standardError.write(Data("jingle-relay: \(message)\n".utf8))
        return ExitCode(code)
    }

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw Self.exit("--log-level: unknown level \"\(logLevel)\" (trace, debug, info, notice, warning, error, critical)", code: 64)
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "jingle-relay")
        let configuration: RelayConfiguration
        let server: RelayServer
        do {
            configuration = try loadConfiguration()
            server = try RelayServer(configuration: configuration, logger: logger)
        } catch {
            throw Self.exit("\(error)", code: 64)
        }
        let descriptors = RelayServer.raiseDescriptorLimit()
        logger.info(
            "descriptor limit",
            metadata: [
                "soft": "\(descriptors.soft)", "hard": "\(descriptors.hard)",
                "was": "\(descriptors.previous)",
            ])

        // SIGHUP: re-read users and secrets from the file and the flags.
        signal(SIGHUP, SIG_IGN)
        let hangup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        let command = self
        hangup.setEventHandler {
            do {
                let fresh = try command.loadConfiguration()
                Task {
                    try? await server.reloadCredentials(users: fresh.users, secrets: fresh.secrets)
                    server.reloadTLS(certificateChainFile: fresh.tlsCertificateFile, privateKeyFile: fresh.tlsPrivateKeyFile)
                }
            } catch {
                logger.error("reload failed; keeping current credentials", metadata: ["error": "\(error)"])
            }
        }
        hangup.resume()

        // The first SIGTERM/SIGINT drains (the service group); a second exits at once.
        let secondSignal = SecondSignalExit(logger: logger)
        defer { withExtendedLifetime(secondSignal) {} }
        server.buildVersion = JingleKitVersion.string
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: RelayService(server: server, notifier: .fromEnvironment()))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch {
            hangup.cancel()
            throw Self.exit("\(error)", code: 1)
        }
        hangup.cancel()
    }
}
