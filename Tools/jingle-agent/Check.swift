import ArgumentParser
import Logging
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
        do {
            let services = try await client.fetchExternalServices()
            print("external services: \(services.isEmpty ? "none" : "\(services.count)")")
            for service in services { print("  \(service.summary(redacted: !showCredentials))") }
        } catch {
            print("external services: unavailable (\(error))")
        }
        await client.disconnect()
    }
}
