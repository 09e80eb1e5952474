import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import XMPPClient
import XMPPCore

/// How to reach and log in to the account. The password comes from a file or from the
/// `JINGLE_PASSWORD` environment variable, never from a command-line flag (it would show in `ps`).
struct AccountOptions: ParsableArguments {
    @Option(name: .long, help: "The account's JID, e.g. alice@example.com or alice@example.com/agent.")
    var jid: String

    @Option(name: .customLong("password-file"), help: "A file whose first line is the password (else JINGLE_PASSWORD is used).")
    var passwordFile: String?

    @Option(name: .long, help: "Connect to HOST:PORT instead of looking up DNS SRV records.")
    var server: String?

    @Option(name: .customLong("ca-file"), help: "PEM file of CA certificates to trust (for a self-signed server).")
    var caFile: String?

    @Option(name: .customLong("dns-server"), help: ArgumentHelp("Resolver for the SRV lookup, IP[:PORT] (testing).", visibility: .hidden))
    var dnsServer: String?

    func validate() throws {
        guard JID(jid) != nil, JID(jid)?.localpart != nil else {
            throw ValidationError("'\(jid)' is not a valid account JID (expected user@domain[/resource])")
        }
        if let server, XMPPClientConfiguration.ServerAddress(server) == nil {
            throw ValidationError("'\(server)' is not HOST:PORT")
        }
    }

    /// The client configuration, or a one-line reason why it cannot be built.
    func clientConfiguration() throws(AgentFailure) -> XMPPClientConfiguration {
        guard let account = JID(jid) else { throw AgentFailure("invalid JID '\(jid)'") }
        return XMPPClientConfiguration(jid: account, password: try password(),
                                       server: server.flatMap(XMPPClientConfiguration.ServerAddress.init),
                                       trustedCAFile: caFile, dnsServer: dnsServer)
    }

    func password() throws(AgentFailure) -> String {
        if let passwordFile {
            guard let text = readFile(passwordFile) else { throw AgentFailure("cannot read password file '\(passwordFile)'") }
            let firstLine = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let password = firstLine.hasSuffix("\r") ? String(firstLine.dropLast()) : firstLine
            guard !password.isEmpty else { throw AgentFailure("password file '\(passwordFile)' is empty") }
            return password
        }
        if let value = getenv("JINGLE_PASSWORD") {
            let password = String(cString: value)
            if !password.isEmpty { return password }
        }
        throw AgentFailure("no password: use --password-file FILE or set JINGLE_PASSWORD")
    }

    private func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n <= 0 { break }
            bytes += chunk[0..<n]
            if bytes.count > 65536 { return nil }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A failure reported as one line on stderr with a non-zero exit status.
struct AgentFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Prints `message` to stderr.
func printError(_ message: String) {
    let line = Array((message + "\n").utf8)
    _ = line.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count) }
}
