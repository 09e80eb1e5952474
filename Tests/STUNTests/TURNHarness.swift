import EngineTime
import STUN
import TURNClientEngine
import TURNServer

/// A simulated network and virtual clock joining TURN client engines to one allocation engine.
/// Relay sockets "open" at once; peers are recorded datagrams.
final class TURNHarness {
    var server: TURNServerEngine
    var clients: [FiveTuple: TURNClient] = [:]
    var events: [FiveTuple: [TURNClient.Event]] = [:]
    var toClient: [FiveTuple: [[UInt8]]] = [:]
    var peerReceived: [(from: TransportAddress, to: TransportAddress, data: [UInt8])] = []
    var serverEvents: [TURNServerEvent] = []
    var openRelays: Set<TransportAddress> = []
    /// RFC 6062: relayed addresses listening for TCP, Connects asked of the driver, joins and
    /// closes of peer connections.
    var tcpRelays: Set<TransportAddress> = []
    var peerConnects: [(id: PeerConnectionID, from: TransportAddress, to: TransportAddress)] = []
    var joined: [(id: PeerConnectionID, tuple: FiveTuple)] = []
    var closedPeerConnections: [PeerConnectionID] = []
    var failRelayOpen = false
    /// How many more relay binds report "address in use".
    var relayPortsInUse = 0
    /// The engines' virtual monotonic clock, and beside it the wall clock (for TURN REST
    /// usernames' expiry), which moves with it from its own origin.
    var now: EngineInstant = .seconds(1000)
    var wallClock: UnixTime { UnixTime(seconds: 1_700_000_000 + (now - .seconds(1000)).inSeconds) }
    static let serverAddress = TransportAddress("192.0.2.10:3478")!
    static let relayIP = IPAddress("198.51.100.1")!
    static let relayIPv6 = IPAddress("2001:db8::1")!

    static func configuration(_ edit: (inout TURNServerConfiguration) -> Void = { _ in }) -> TURNServerConfiguration {
        var c = TURNServerConfiguration(realm: "example.org", relayIPv4: relayIP)
        c.portRange = 50000...50999
        // Test addresses come from documentation ranges; allow them explicitly.
        c.peerFilter = PeerFilter(allowList: [CIDR("203.0.113.0/24")!, CIDR("2001:db8:ffff::/48")!])
        edit(&c)
        return c
    }

    init(
        configuration: TURNServerConfiguration = TURNHarness.configuration(),
        users: [String: String] = ["alice": "secret", "bob": "hunter2"], secrets: [String] = []
    ) {
        server = TURNServerEngine(
            configuration: configuration,
            credentials: CredentialStore(realm: configuration.realm, users: users, secrets: secrets))
    }

    static func tuple(_ n: Int) -> FiveTuple {
        FiveTuple(client: TransportAddress(ip: .v4(0xCB00_7100 | UInt32(n)), port: 40000), server: serverAddress, transport: .udp)
    }

    @discardableResult
    func addClient(
        _ tuple: FiveTuple, username: String = "alice", password: String = "secret",
        _ edit: (inout TURNClient.Configuration) -> Void = { _ in }
    ) -> FiveTuple {
        var c = TURNClient.Configuration(username: username, password: password)
        edit(&c)
        clients[tuple] = TURNClient(configuration: c)
        return tuple
    }

    /// Runs a client operation and delivers everything that follows until the network is quiet.
    func client(_ tuple: FiveTuple, _ op: (inout TURNClient, EngineInstant) -> [TURNClient.Action]) {
        guard var c = clients[tuple] else { return }
        let actions = op(&c, now)
        clients[tuple] = c
        process(tuple, actions)
    }

    func process(_ tuple: FiveTuple, _ actions: [TURNClient.Action]) {
        for action in actions {
            switch action {
            case .send(let bytes):
                serve(server.handleClientDatagram(bytes, from: tuple, now: now, wallClock: wallClock))
            case .event(let e):
                events[tuple, default: []].append(e)
            }
        }
    }

    /// Sends raw bytes from a 5-tuple and returns what the server answered to it.
    func raw(_ bytes: [UInt8], from tuple: FiveTuple) -> [[UInt8]] {
        let before = toClient[tuple]?.count ?? 0
        serve(server.handleClientDatagram(bytes, from: tuple, now: now, wallClock: wallClock))
        return Array((toClient[tuple] ?? []).dropFirst(before))
    }

    func serve(_ actions: [TURNServerAction]) {
        for action in actions {
            switch action {
            case .sendToClient(let tuple, let bytes):
                toClient[tuple, default: []].append(bytes)
                if var c = clients[tuple] {
                    let next = c.handle(bytes, now: now)
                    clients[tuple] = c
                    process(tuple, next)
                }
            case .sendToPeer(let from, let to, let data):
                peerReceived.append((from, to, data))
            case .openRelay(let relay):
                if failRelayOpen {
                    serve(server.relayFailed(relay, now: now))
                } else if relayPortsInUse > 0 {
                    relayPortsInUse -= 1
                    serve(server.relayAddressInUse(relay, now: now))
                } else {
                    openRelays.insert(relay)
                    serve(server.relayOpened(relay, now: now))
                }
            case .openTCPRelay(let relay):
                tcpRelays.insert(relay)
                serve(server.relayOpened(relay, now: now))
            case .closeRelay(let relay):
                openRelays.remove(relay)
                tcpRelays.remove(relay)
            case .connectToPeer(let id, let from, let to):
                peerConnects.append((id, from, to))
            case .joinDataConnection(let id, let tuple):
                joined.append((id, tuple))
            case .closePeerConnection(let id):
                closedPeerConnections.append(id)
            case .event(let e):
                serverEvents.append(e)
            }
        }
    }

    /// A peer sends to a relayed address.
    func peerSend(_ data: [UInt8], from peer: TransportAddress, to relay: TransportAddress) {
        serve(server.handlePeerDatagram(data, from: peer, to: relay, now: now))
    }

    /// Advances the virtual clock to `target`, firing every client and server deadline on the way.
    func advance(by seconds: Double) {
        let target = now + .seconds(seconds)
        while true {
            var next = server.nextDeadline
            for c in clients.values { if let d = c.nextDeadline, next.map({ d < $0 }) ?? true { next = d } }
            guard let due = next, due <= target else { break }
            now = max(now, due)
            serve(server.handleTimeout(now: now))
            for tuple in Array(clients.keys) {
                guard var c = clients[tuple], let d = c.nextDeadline, d <= now else { continue }
                let actions = c.handleTimeout(now: now)
                clients[tuple] = c
                process(tuple, actions)
            }
        }
        now = target
        serve(server.handleTimeout(now: now))
    }

    func lastEvent(_ tuple: FiveTuple) -> TURNClient.Event? { events[tuple]?.last }

    func relay(_ tuple: FiveTuple) -> TransportAddress? { clients[tuple]?.relayedAddresses.first }

    /// A request signed with long-term credentials after fetching a nonce (for raw tests).
    func signedRequest(
        _ method: STUNMethod, _ attributes: [STUNAttribute], from tuple: FiveTuple,
        username: String = "alice", password: String = "secret", nonce: String? = nil
    ) -> [UInt8] {
        let n = nonce ?? fetchNonce(from: tuple)
        let key = STUNKey.longTerm(username: username, realm: "example.org", password: password)
        return STUNMessage(method, .request, attributes: attributes + [.username(username), .realm("example.org"), .nonce(n)])
            .encode(key: key)
    }

    func fetchNonce(from tuple: FiveTuple) -> String {
        let reply = raw(STUNMessage(.allocate, .request, attributes: [.requestedTransport(17)]).encode(), from: tuple)
        return (reply.last.flatMap { try? STUNMessage.decode($0) }?.nonce) ?? ""
    }

    /// The error code of the last thing the server sent to `tuple`.
    func lastErrorCode(_ tuple: FiveTuple) -> Int? {
        toClient[tuple]?.last.flatMap { try? STUNMessage.decode($0) }?.errorCode?.code
    }
}

extension EngineInstant {
    /// The duration in seconds.
    var inSeconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
