import ArgumentParser
import JingleKit
import Logging
import Transport
import XMPPClient
import XMPPCore

/// `jingle-agent check`: logs in and reports what the server negotiated and which STUN/TURN
/// services it announces (XEP-0215), then disconnects.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Log in, print TLS, SASL, bound JID, server features and STUN/TURN services, and log out.")

    @OptionGroup var account: AccountOptions

    @Flag(name: .customLong("show-credentials"), help: "Show TURN passwords instead of redacting them.")
    var showCredentials = false

    @Flag(name: .long, help: "Log the protocol steps to stderr.")
    var verbose = false

    @Flag(
        name: .long,
        help: ArgumentHelp(
            "Allocate on each TURN server with its credentials (the XMPP server's XEP-0215 services and any --ice-server) and say what came of it; exit 7 when none allocates."
        ))
    var turn = false

    @Option(
        name: .customLong("turn-timeout"),
        help: ArgumentHelp("How long each TURN server may take to answer (--turn).", valueName: "seconds"))
    var turnTimeout: Double = 5

    @Option(
        name: .customLong("ice-server"),
        help: ArgumentHelp(
            "A TURN server to check too (--turn): turn:HOST[:PORT][?transport=udp|tcp], with --ice-username and --ice-password-file.",
            valueName: "url"))
    var iceServers: [String] = []

    @Option(name: .customLong("ice-username"), help: ArgumentHelp("TURN username for --ice-server.", valueName: "name"))
    var iceUsername: String?

    @Option(
        name: .customLong("ice-password-file"), help: ArgumentHelp("File holding the TURN password for --ice-server.", valueName: "path"))
    var icePasswordFile: String?

    func validate() throws {
        guard turnTimeout > 0, turnTimeout <= 120 else { throw ValidationError("--turn-timeout must be above 0 and at most 120 seconds") }
        if !iceServers.isEmpty, !turn { throw ValidationError("--ice-server is only used with --turn") }
    }

    func run() async throws {
        do throws(AgentFailure) {
            try await check()
        } catch {
            printError("jingle-agent check: \(error)")
            throw ExitCode(error.exitCode.rawValue)
        }
    }

    private func check() async throws(AgentFailure) {
        let configuration = try account.clientConfiguration()
        let explicit = try explicitTURNServers()
        var logger = Logger(label: "jingle-agent")
        logger.logLevel = verbose ? .debug : .critical
        let client = XMPPClient(configuration: configuration, logger: logger)
        let info: ConnectionInfo
        do {
            info = try await client.connect()
        } catch {
            throw AgentFailure("\(error)", exitCode: .signallingFailure)
        }
        print("server: \(info.host):\(info.port)")
        print("tls: \(info.tlsVersion ?? "none") \(info.cipherSuite ?? "")")
        if let subject = info.peerCertificateSubject { print("certificate: \(subject)") }
        print("sasl: \(info.saslMechanism)")
        print("jid: \(info.boundJID)")
        print("stream features:")
        for feature in info.features.featureNames { print("  \(feature)") }
        do {
            let server = try await client.discoInfo()
            print("server identities: \(server.identities.map(\.description).joined(separator: ", "))")
            print("server features:")
            for feature in server.features { print("  \(feature)") }
        } catch {
            print("server features: unavailable (\(error))")
        }
        var services: [ExternalService] = []
        do {
            services = try await client.fetchExternalServices()
            print("external services: \(services.isEmpty ? "none" : "\(services.count)")")
            for service in services { print("  \(service.summary(redacted: !showCredentials))") }
        } catch {
            print("external services: unavailable (\(error))")
        }
        await client.disconnect()
        if turn { try await checkTURN(services: services, explicit: explicit) }
    }

    /// `--turn`: one Allocate on each TURN server, with the credentials it came with.
    private func checkTURN(services: [ExternalService], explicit: [(String, [ICEServer])]) async throws(AgentFailure) {
        var targets: [(label: String, server: ICEServer?, problem: String?)] = []
        let found = ICEServerDiscovery.iceServers(from: services)
        for server in found.servers where !server.isSTUNOnly { targets.append((ICEServerStatus.uri(server), server, nil)) }
        for reason in found.skipped where reason.lowercased().contains("turn") { targets.append((reason, nil, "not usable")) }
        for (url, servers) in explicit {
            if servers.isEmpty { targets.append((url, nil, "cannot resolve the host name")) }
            for server in servers { targets.append(("\(url) (\(ICEServerStatus.uri(server)))", server, nil)) }
        }
        print("TURN allocations:\(targets.isEmpty ? " no TURN server to try" : "")")
        let timeout = Duration.milliseconds(Int64(turnTimeout * 1000))
        let outcomes = await withTaskGroup(of: (Int, TURNProbeOutcome?).self) { group in
            for (i, target) in targets.enumerated() {
                guard let server = target.server else { continue }
                group.addTask { (i, await TURNProbe.allocate(on: server, timeout: timeout)) }
            }
            var outcomes = [TURNProbeOutcome?](repeating: nil, count: targets.count)
            for await (i, outcome) in group { outcomes[i] = outcome }
            return outcomes
        }
        for (target, outcome) in zip(targets, outcomes) {
            print("  \(target.label): \(outcome.map(\.description) ?? target.problem ?? "not tried")")
        }
        let allocated = outcomes.filter { $0?.isAllocated == true }.count
        guard allocated > 0 else {
            throw AgentFailure(
                targets.isEmpty
                    ? "no TURN server: the XMPP server announces none (XEP-0215) and no --ice-server was given"
                    : "no TURN server allocated (\(targets.count) tried)", exitCode: .connectionFailure)
        }
    }

    /// The `--ice-server` URLs with their credentials, each resolved to its addresses.
    private func explicitTURNServers() throws(AgentFailure) -> [(String, [ICEServer])] {
        var result: [(String, [ICEServer])] = []
        var password: String?
        if let icePasswordFile {
            guard let p = readSecretFile(icePasswordFile) else {
                throw AgentFailure(usage: "cannot read a TURN password from '\(icePasswordFile)'")
            }
            password = p
        }
        for text in iceServers {
            let url: ICEServerURL
            let server: ICEServer
            do throws(ICEServerURLError) {
                url = try ICEServerURL(parsing: text)
                guard url.scheme != .stun else { throw ICEServerURLError(text, "--turn checks TURN servers, not STUN") }
                server = try url.server(username: iceUsername, password: password)
            } catch { throw AgentFailure(usage: error.description) }
            result.append((url.description, ICEServerDiscovery.resolve(server)))
        }
        return result
    }
}

extension ICEServer {
    var isSTUNOnly: Bool {
        if case .stun = kind { true } else { false }
    }
}
