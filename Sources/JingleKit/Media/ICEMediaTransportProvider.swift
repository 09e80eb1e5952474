import Jingle
import Logging
import Transport
import XMPPClient
import XMPPCore

/// Makes each call's media transport: libnice ICE (XEP-0176) with the configured STUN/TURN
/// servers plus those the XMPP server offers over XEP-0215, DTLS-SRTP (XEP-0320) and Opus.
///
/// ```swift
/// let media = ICEMediaTransportProvider(settings: CallMediaSettings(relayOnly: true), client: client)
/// let calls = try await CallManager.forClient(client, configuration: CallConfiguration(mediaTransports: media))
/// ```
public struct ICEMediaTransportProvider: MediaTransportProvider {
    public let settings: CallMediaSettings
    private let externalServices: (@Sendable () async throws -> [ExternalService])?
    private let logger: Logger

    /// - Parameters:
    ///   - settings: host addresses, STUN/TURN servers, codec and jitter-buffer settings of each call.
    ///   - client: the XMPP client whose server is asked for STUN/TURN services per call
    ///     (when `settings.discoverServers`); nil uses `settings.iceServers` only.
    ///   - logger: where ICE and DTLS progress is logged.
    public init(
        settings: CallMediaSettings = .init(), client: XMPPClient? = nil,
        logger: Logger = Logger(label: "jinglekit.media")
    ) {
        self.settings = settings
        self.logger = logger
        if let client, settings.discoverServers {
            externalServices = { try await client.fetchExternalServices(timeout: .seconds(5)) }
        } else {
            externalServices = nil
        }
    }

    /// With another source of XEP-0215 services (tests, a cache).
    public init(
        settings: CallMediaSettings, externalServices: @escaping @Sendable () async throws -> [ExternalService],
        logger: Logger = Logger(label: "jinglekit.media")
    ) {
        self.settings = settings
        self.externalServices = externalServices
        self.logger = logger
    }

    public func makeTransport(sid: String, role: Creator) async throws -> any MediaTransport {
        // Host names (e.g. `turn:turn.example.org`) are resolved now, for each call: IPv4 and IPv6.
        var servers = settings.iceServers.flatMap { server in
            let resolved = ICEServerDiscovery.resolve(server)
            if resolved.isEmpty { logger.info("ICE server \(server.address) not used: the name does not resolve") }
            return resolved
        }
        if let externalServices {
            do {
                let found = ICEServerDiscovery.iceServers(from: try await externalServices())
                servers += found.servers
                for reason in found.skipped { logger.info("XEP-0215 service not used: \(reason)") }
            } catch {
                logger.info("no STUN/TURN services from the XMPP server (XEP-0215): \(error)")
            }
        }
        servers = ICEServerDiscovery.usable(ICEServerDiscovery.reachable(servers, from: settings.localAddresses))
        if settings.relayOnly && !servers.contains(where: \.isTURN) {
            throw CallError.transportFailed(
                "relay-only needs a TURN server: none configured and none offered by the XMPP server (XEP-0215)")
        }
        let agent: ICEAgent
        do {
            agent = try ICEAgent(
                configuration: ICEConfiguration(
                    controlling: role == .initiator, localAddresses: settings.localAddresses, servers: servers,
                    relayOnly: settings.relayOnly))
        } catch {
            throw CallError.transportFailed("cannot start ICE: \(error)")
        }
        let transport = try ICEMediaTransport(agent: agent, role: role, settings: settings, cname: "jinglekit-\(sid)")
        do { try transport.gather() } catch {
            await transport.close()
            throw error
        }
        return transport
    }
}

extension ICEServer {
    var isTURN: Bool {
        switch kind {
        case .stun: false
        case .turnUDP, .turnTCP, .turnTLS: true
        }
    }
}
