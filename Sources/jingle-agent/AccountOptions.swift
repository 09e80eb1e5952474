import Foundation
import ArgumentParser
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import XMPPClient
import XMPPCore

/// How to reach and log in to the account: flags, or the `[account]` section of `--config FILE`
/// (flags win over the file). The password comes from `--password-file`, the configuration file,
/// or the `JINGLE_AGENT_PASSWORD` environment variable (`JINGLE_PASSWORD` is also read), never
/// from a command-line flag: it would show in `ps`.
struct AccountOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "A configuration file with an [account] section (and optionally [media]).",
            valueName: "file"))
    var config: String?

    @Option(name: .long, help: "The account's JID, e.g. alice@example.com or alice@example.com/agent.")
    var jid: String?

    @Option(
        name: .customLong("password-file"),
        help: ArgumentHelp("A file whose first line is the password (else JINGLE_AGENT_PASSWORD is used).", valueName: "file"))
    var passwordFile: String?

    @Option(name: .long, help: ArgumentHelp("Connect to HOST:PORT instead of looking up DNS SRV records.", valueName: "host:port"))
    var server: String?

    @Option(
        name: .customLong("ca-file"),
        help: ArgumentHelp("PEM file of CA certificates to trust (for a self-signed server).", valueName: "file"))
    var caFile: String?

    @Option(name: .customLong("dns-server"), help: ArgumentHelp("Resolver for the SRV lookup, IP[:PORT] (testing).", visibility: .hidden))
    var dnsServer: String?

    func validate() throws {
        if let jid, !Self.isAccountJID(jid) {
            throw ValidationError("'\(jid)' is not a valid account JID (expected user@domain[/resource])")
        }
        if let server, XMPPClientConfiguration.ServerAddress(server) == nil {
            throw ValidationError("'\(server)' is not HOST:PORT")
        }
    }

    static func isAccountJID(_ text: String) -> Bool { JID(text)?.localpart != nil }

    /// The configuration file, when `--config` was given.
    func configFile() throws(AgentFailure) -> ConfigFile? {
        guard let config else { return nil }
        do { return try ConfigFile.load(config) } catch { throw AgentFailure(usage: "\(error)") }
    }

    /// The client configuration, or a one-line reason why it cannot be built.
    func clientConfiguration(_ given: ConfigFile? = nil) throws(AgentFailure) -> XMPPClientConfiguration {
        var file = given
        if file == nil { file = try configFile() }
        let jidEntry = file?.value("account", "jid")
        guard let jidText = jid ?? jidEntry?.value else {
            throw AgentFailure(usage: "no account: give --jid JID or a configuration file with 'jid' in [account]")
        }
        guard let account = JID(jidText), account.localpart != nil else {
            if jid == nil, let file, let jidEntry {
                throw AgentFailure(
                    usage:
                        "\(ConfigFileError(path: file.path, line: jidEntry.line, key: "jid", problem: "'\(jidText)' is not user@domain[/resource]"))"
                )
            }
            throw AgentFailure(usage: "'\(jidText)' is not a valid account JID")
        }
        var address: XMPPClientConfiguration.ServerAddress? = nil
        if let server {
            address = XMPPClientConfiguration.ServerAddress(server)
        } else if let file, let entry = file.value("account", "server") {
            guard let parsed = XMPPClientConfiguration.ServerAddress(entry.value) else {
                throw AgentFailure(
                    usage:
                        "\(ConfigFileError(path: file.path, line: entry.line, key: "server", problem: "'\(entry.value)' is not HOST:PORT"))"
                )
            }
            address = parsed
        }
        let ca = caFile ?? file.flatMap { f in f.value("account", "ca-file").map { f.resolvePath($0.value) } }
        if let ca, !FileManager.default.isReadableFile(atPath: ca) {
            throw AgentFailure(usage: "--ca-file '\(ca)': no such readable file")
        }
        return XMPPClientConfiguration(
            jid: account, password: try password(file), server: address,
            trustedCAFile: ca, dnsServer: dnsServer)
    }

    /// The password from `--password-file`, the configuration file, or the environment.
    func password(_ file: ConfigFile? = nil) throws(AgentFailure) -> String {
        if let passwordFile {
            guard let password = readSecretFile(passwordFile) else {
                throw AgentFailure(usage: "cannot read a password from '\(passwordFile)' (missing, unreadable or empty)")
            }
            return password
        }
        if let file {
            if let entry = file.value("account", "password") { return entry.value }
            if let entry = file.value("account", "password-file") {
                let path = file.resolvePath(entry.value)
                guard let password = readSecretFile(path) else {
                    throw AgentFailure(
                        usage:
                            "\(ConfigFileError(path: file.path, line: entry.line, key: "password-file", problem: "cannot read a password from '\(path)'"))"
                    )
                }
                return password
            }
        }
        for name in ["JINGLE_AGENT_PASSWORD", "JINGLE_PASSWORD"] {
            if let value = getenv(name) {
                let password = String(cString: value)
                if !password.isEmpty { return password }
            }
        }
        throw AgentFailure(
            usage: "no password: use --password-file FILE, 'password-file' in the configuration file, or set JINGLE_AGENT_PASSWORD")
    }
}

/// A failure reported as one line on stderr with a non-zero exit status.
struct AgentFailure: Error, CustomStringConvertible {
    var description: String
    var exitCode: AgentExitCode
    init(_ description: String, exitCode: AgentExitCode = .failure) {
        self.description = description
        self.exitCode = exitCode
    }
    /// A usage or configuration problem (exit 64).
    init(usage description: String) { self.init(description, exitCode: .usage) }
}

/// Prints `message` to stderr.
func printError(_ message: String) {
    Console.shared.error(message)
}
