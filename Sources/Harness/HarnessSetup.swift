import Foundation
import XMPPClient
import XMPPCore

/// Finds scenarios by file path or built-in name (`caller` -> `<dir>/caller.xml`).
public enum ScenarioLibrary {
    /// Where built-in scenarios are looked for: `$JINGLE_HARNESS_SCENARIOS`, `./Samples/harness`,
    /// then the repository this was built from.
    public static var searchPaths: [String] {
        var paths: [String] = []
        if let env = ProcessInfo.processInfo.environment["JINGLE_HARNESS_SCENARIOS"] { paths.append(env) }
        paths.append(FileManager.default.currentDirectoryPath + "/Samples/harness")
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        paths.append(url.path + "/Samples/harness")
        return paths
    }

    public static func load(_ nameOrPath: String, searchPaths: [String] = searchPaths) throws(ScenarioError) -> Scenario {
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".xml") {
            return try ScenarioParser.parse(contentsOf: nameOrPath)
        }
        for dir in searchPaths where FileManager.default.fileExists(atPath: "\(dir)/\(nameOrPath).xml") {
            return try ScenarioParser.parse(contentsOf: "\(dir)/\(nameOrPath).xml")
        }
        throw ScenarioError(line: 0, element: nil,
                            message: "no scenario '\(nameOrPath)' (looked in \(searchPaths.joined(separator: ", ")))")
    }
}

/// Where and how to log in.
public struct ServerSettings: Sendable {
    public var host: String?
    public var port: Int
    public var caFile: String?

    public init(host: String? = nil, port: Int = 5222, caFile: String? = nil) {
        self.host = host
        self.port = port
        self.caFile = caFile
    }
}

/// Logs accounts in and pairs them into endpoints for a run.
public enum HarnessSetup {
    /// Connects `account` with a resource unique to this process and sends initial presence.
    public static func connect(_ account: HarnessAccount, index: Int, server: ServerSettings) async throws -> (XMPPClient, JID) {
        var jid = account.jid
        if jid.resourcepart == nil {
            jid = JID(localpart: jid.localpart, domainpart: jid.domainpart,
                      resourcepart: "harness-\(ProcessInfo.processInfo.processIdentifier)-\(index)")
        }
        let configuration = XMPPClientConfiguration(
            jid: jid, password: account.password,
            server: server.host.map { .init(host: $0, port: server.port) },
            trustedCAFile: server.caFile, connectTimeout: .seconds(10), negotiationStepTimeout: .seconds(15),
            requestTimeout: .seconds(60))
        let client = XMPPClient(configuration: configuration)
        let info = try await client.connect()
        try await client.sendPresence()
        return (client, info.boundJID)
    }

    /// Role `both`: accounts pair up (1st calls 2nd, 3rd calls 4th, ...); the initiator scenario
    /// runs on the first of each pair and `responder` on the second. When `responder` is itself an
    /// initiator scenario (two-sided glare), both of a pair call each other.
    public static func pairs(_ accounts: [HarnessAccount], initiator: Scenario, responder: Scenario,
                             server: ServerSettings) async throws -> [HarnessEndpoint] {
        var endpoints: [HarnessEndpoint] = []
        var index = 0
        while index + 1 < accounts.count {
            let (callee, calleeJID) = try await connect(accounts[index + 1], index: index + 1, server: server)
            let (caller, callerJID) = try await connect(accounts[index], index: index, server: server)
            endpoints.append(HarnessEndpoint(client: caller, localJID: callerJID, scenario: initiator, peer: calleeJID))
            endpoints.append(HarnessEndpoint(client: callee, localJID: calleeJID, scenario: responder,
                                             peer: responder.role == .initiator ? callerJID : nil))
            index += 2
        }
        return endpoints
    }

    public static func disconnect(_ endpoints: [HarnessEndpoint]) async {
        for endpoint in endpoints { await endpoint.client.disconnect() }
    }
}

extension ServerSettings {
    /// From a `host[:port]` option (IPv6 literals in brackets); nil when `text` is not one.
    /// Without `text` the JID's domain is used at login.
    public init?(server text: String?, caFile: String?) {
        self.init(caFile: caFile)
        guard let text else { return }
        var host: String
        var port: Int
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            port = rest.isEmpty ? 5222 : (rest.hasPrefix(":") ? Int(rest.dropFirst()) ?? -1 : -1)
        } else if let colon = text.lastIndex(of: ":") {
            host = String(text[..<colon])
            port = Int(text[text.index(after: colon)...]) ?? -1
        } else {
            host = text
            port = 5222
        }
        guard !host.isEmpty, (1...65535).contains(port) else { return nil }
        self.host = host
        self.port = port
    }
}

extension HarnessAccount {
    /// Reads an accounts CSV file; errors name the file and the line.
    public static func load(_ path: String) throws(AccountsError) -> [HarnessAccount] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path)
        }
        do { return try parseCSV(text) } catch { throw .inFile(path, error) }
    }
}
