import Foundation
import NIOCore
import NIOPosix
import XMPPClient
import XMLStream
import XMPPCore

/// Finds scenarios by file path or built-in name (`caller`). The built-ins are compiled into the
/// binary (`BuiltInScenarios`, generated from Samples/harness/), so a copied executable keeps them.
public enum ScenarioLibrary {
    /// Directories looked in before the built-ins: `$JINGLE_HARNESS_SCENARIOS`, when set (a name
    /// found there as `<dir>/<name>.xml` overrides the built-in of that name).
    public static var searchPaths: [String] {
        ProcessInfo.processInfo.environment["JINGLE_HARNESS_SCENARIOS"].map { [$0] } ?? []
    }

    /// The text of built-in scenario `name` and the name it is reported under in errors
    /// (`caller.xml (built-in)`), or nil.
    public static func builtIn(_ name: String) -> (text: String, file: String)? {
        BuiltInScenarios.texts[name].map { ($0, "\(name).xml (built-in)") }
    }

    /// Whether `nameOrPath` names a file rather than a scenario (it has a `/` or ends in `.xml`).
    public static func isPath(_ nameOrPath: String) -> Bool {
        nameOrPath.contains("/") || nameOrPath.hasSuffix(".xml")
    }

    public static func load(_ nameOrPath: String, searchPaths: [String] = searchPaths) throws(ScenarioError) -> Scenario {
        if isPath(nameOrPath) {
            return try ScenarioParser.parse(contentsOf: nameOrPath)
        }
        for dir in searchPaths where FileManager.default.fileExists(atPath: "\(dir)/\(nameOrPath).xml") {
            return try ScenarioParser.parse(contentsOf: "\(dir)/\(nameOrPath).xml")
        }
        if let (text, file) = builtIn(nameOrPath) {
            do { return try ScenarioParser.parse(text) } catch {
                var located = error
                located.file = file
                throw located
            }
        }
        let looked = searchPaths.isEmpty ? "" : " in \(searchPaths.joined(separator: ", ")) or"
        throw ScenarioError(
            line: 0, element: nil,
            message: "no scenario '\(nameOrPath)'\(looked) among the built-ins (jingle-harness scenarios list)")
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
    /// The one event loop of the harness's XMPP connections and its runners (their actor
    /// executor): a stanza goes from the socket to the scenario and its answer back to the socket
    /// on one thread, with no hand-off between threads.
    public static let eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()

    /// Connects `account` with a resource unique to this process (and to `device`, for one of
    /// several devices of the account) and sends initial presence; with `carbons`, enables
    /// XEP-0280 carbons first (a server that refuses them fails the login).
    public static func connect(
        _ account: HarnessAccount, index: Int, server: ServerSettings,
        device: Int? = nil, carbons: Bool = false
    ) async throws -> (XMPPClient, JID) {
        var jid = account.jid
        if jid.resourcepart == nil || device != nil {
            jid = JID(
                localpart: jid.localpart, domainpart: jid.domainpart,
                resourcepart: (jid.resourcepart ?? "harness-\(ProcessInfo.processInfo.processIdentifier)-\(index)")
                    + (device.map { "-d\($0)" } ?? ""))
        }
        let configuration = XMPPClientConfiguration(
            jid: jid, password: account.password,
            server: server.host.map { .init(host: $0, port: server.port) },
            trustedCAFile: server.caFile, connectTimeout: .seconds(10), negotiationStepTimeout: .seconds(15),
            requestTimeout: .seconds(60))
        let client = XMPPClient(configuration: configuration, eventLoopGroup: eventLoop)
        let info = try await client.connect()
        if carbons {
            let enable = IQ(
                type: .set, id: await client.makeID(), payload: XMLStream.XMLElement("enable", namespace: XMPPNamespace.carbons))
            let answer = try await client.sendIQ(enable)
            guard answer.type == .result else {
                await client.disconnect()
                throw HarnessSetupError.carbonsRefused(info.boundJID)
            }
        }
        try await client.sendPresence()
        return (client, info.boundJID)
    }

    /// The endpoints of one account answering with `scenario`: one, or `devices` resources of it
    /// (variables `device` = 1...N and `devices` = N), as several devices of one user are.
    public static func responders(
        _ account: HarnessAccount, index: Int, scenario: Scenario, devices: Int,
        server: ServerSettings
    ) async throws -> [HarnessEndpoint] {
        var endpoints: [HarnessEndpoint] = []
        do {
            for device in 1...max(1, devices) {
                let (client, jid) = try await connect(
                    account, index: index, server: server,
                    device: devices > 1 ? device : nil, carbons: scenario.carbons)
                endpoints.append(
                    HarnessEndpoint(
                        client: client, localJID: jid, scenario: scenario,
                        variables: ["device": "\(device)", "devices": "\(max(1, devices))"]))
            }
        } catch {
            await disconnect(endpoints)
            throw error
        }
        return endpoints
    }

    /// Role `both`: accounts pair up (1st calls 2nd, 3rd calls 4th, ...); the initiator scenario
    /// runs on the first of each pair and `responder` on the second. When `responder` is itself an
    /// initiator scenario (two-sided glare), both of a pair call each other.
    ///
    /// With `devices` above 1 the second of each pair logs in that many times (the responder
    /// scenario runs on each device) and the initiator calls its bare JID.
    public static func pairs(
        _ accounts: [HarnessAccount], initiator: Scenario, responder: Scenario, devices: Int = 1,
        server: ServerSettings
    ) async throws -> [HarnessEndpoint] {
        var endpoints: [HarnessEndpoint] = []
        var index = 0
        do {
            while index + 1 < accounts.count {
                if responder.role == .initiator {
                    let (callee, calleeJID) = try await connect(accounts[index + 1], index: index + 1, server: server)
                    let (caller, callerJID) = try await connect(accounts[index], index: index, server: server)
                    endpoints.append(HarnessEndpoint(client: caller, localJID: callerJID, scenario: initiator, peer: calleeJID))
                    endpoints.append(HarnessEndpoint(client: callee, localJID: calleeJID, scenario: responder, peer: callerJID))
                } else {
                    let callees = try await responders(
                        accounts[index + 1], index: index + 1, scenario: responder,
                        devices: devices, server: server)
                    let caller: XMPPClient, callerJID: JID
                    do {
                        (caller, callerJID) = try await connect(accounts[index], index: index, server: server, carbons: initiator.carbons)
                    } catch {
                        await disconnect(callees)
                        throw error
                    }
                    let calleeJID = devices > 1 ? callees[0].localJID.bare : callees[0].localJID
                    endpoints.append(HarnessEndpoint(client: caller, localJID: callerJID, scenario: initiator, peer: calleeJID))
                    endpoints += callees
                }
                index += 2
            }
        } catch {
            await disconnect(endpoints)
            throw error
        }
        return endpoints
    }

    public static func disconnect(_ endpoints: [HarnessEndpoint]) async {
        for endpoint in endpoints { await endpoint.client.disconnect() }
    }
}

/// Why logging an endpoint in failed, beyond the XMPP errors themselves.
public enum HarnessSetupError: Error, Sendable, CustomStringConvertible {
    /// The scenario needs XEP-0280 carbons and the server answered the enable request with an error.
    case carbonsRefused(JID)

    public var description: String {
        switch self {
        case .carbonsRefused(let jid): "the server refused to enable XEP-0280 carbons for \(jid) (the scenario sets carbons=\"true\")"
        }
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
