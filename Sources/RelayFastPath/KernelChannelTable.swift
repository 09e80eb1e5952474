#if canImport(Glibc)
    import Glibc
#endif
internal import CBPF
import EngineTime
import STUN
import TURNServer

/// What one data-plane thread has put into the fast path's maps, kept equal to what its TURN
/// engine allows (`TURNServerEngine.kernelChannelRoutes`): `sync` adds the routes that are new,
/// rewrites every entry's expiry stamp (so a refreshed channel or permission goes on, and one
/// that was not refreshed stops in the kernel at its own end even if a deletion is missed),
/// removes the routes that ended, and returns what the kernel relayed since the last call.
public struct KernelChannelTable {
    /// What the kernel relayed for one allocation since the last sync.
    public struct Relayed: Sendable, Equatable {
        public var packetsToPeer: UInt64 = 0
        public var bytesToPeer: UInt64 = 0
        public var packetsToClient: UInt64 = 0
        public var bytesToClient: UInt64 = 0

        public init() {}

        public static func + (a: Relayed, b: Relayed) -> Relayed {
            var sum = a
            sum += b
            return sum
        }

        public static func += (a: inout Relayed, b: Relayed) {
            a.packetsToPeer &+= b.packetsToPeer
            a.bytesToPeer &+= b.bytesToPeer
            a.packetsToClient &+= b.packetsToClient
            a.bytesToClient &+= b.bytesToClient
        }
    }

    struct Key: Hashable {
        var client: TransportAddress
        var server: TransportAddress
        var channel: UInt16
    }

    struct Installed {
        var route: KernelChannelRoute
        var slot: UInt32
        var toPeer: (packets: UInt64, bytes: UInt64)
        var toClient: (packets: UInt64, bytes: UInt64)
    }

    public let program: ChannelRelayProgram
    private var installed: [Key: Installed] = [:]
    private var byTuple: [FiveTuple: Set<Key>] = [:]
    /// Map updates the kernel refused (a full map, most likely): those routes stay in user space.
    public private(set) var refusedUpdates = 0

    public init(program: ChannelRelayProgram) {
        self.program = program
    }

    /// Routes in the maps.
    public var count: Int { installed.count }

    /// Makes the maps hold exactly `routes`, with expiry stamps converted from the engine's
    /// clock (`now`) to the kernel's monotonic one; returns what the kernel relayed since the
    /// last sync, per allocation.
    public mutating func sync(_ routes: [KernelChannelRoute], now: EngineInstant) -> [FiveTuple: Relayed] {
        let monotonicNow = Self.monotonicNanoseconds()
        let interfaces = InterfaceRoutes.current()
        var relayed: [FiveTuple: Relayed] = [:]
        var wanted: Set<Key> = []
        wanted.reserveCapacity(routes.count)
        for route in routes {
            let key = Key(client: route.client, server: route.server, channel: route.channel)
            wanted.insert(key)
            let remaining = min(max(.zero, route.expires - now), .seconds(86_400)).components
            let expires = monotonicNow &+ UInt64(remaining.seconds) * 1_000_000_000 &+ UInt64(remaining.attoseconds / 1_000_000_000)
            if var entry = installed[key] {
                if entry.route.peer != route.peer || entry.route.relay != route.relay { deletePeerEntry(entry.route) }
                entry.route = route
                installed[key] = entry
                write(route, slot: entry.slot, expires: expires, interfaces)
            } else {
                guard let slot = program.takeSlot() else { refusedUpdates += 1; continue }
                installed[key] = Installed(route: route, slot: slot, toPeer: (0, 0), toClient: (0, 0))
                byTuple[route.tuple, default: []].insert(key)
                write(route, slot: slot, expires: expires, interfaces)
            }
        }
        for key in installed.keys where !wanted.contains(key) {
            guard let tuple = installed[key]?.route.tuple else { continue }
            relayed[tuple, default: Relayed()] += remove(key)
        }
        return relayed.merging(collect(), uniquingKeysWith: +)
    }

    /// What the kernel relayed since the last look, without touching the routes (a metrics
    /// scrape between two syncs).
    public mutating func collect() -> [FiveTuple: Relayed] {
        var relayed: [FiveTuple: Relayed] = [:]
        for key in Array(installed.keys) {
            guard let tuple = installed[key]?.route.tuple else { continue }
            let d = delta(key)
            if d != Relayed() { relayed[tuple, default: Relayed()] += d }
        }
        return relayed
    }

    /// Removes an allocation's routes at once (it ended); returns their last counts.
    public mutating func remove(tuple: FiveTuple) -> Relayed {
        var relayed = Relayed()
        for key in byTuple[tuple] ?? [] { relayed += remove(key) }
        return relayed
    }

    /// Removes every route (the relay is stopping or leaving the fast path); returns the last
    /// counts.
    public mutating func removeAll() -> [FiveTuple: Relayed] {
        var relayed: [FiveTuple: Relayed] = [:]
        for key in Array(installed.keys) {
            guard let tuple = installed[key]?.route.tuple else { continue }
            relayed[tuple, default: Relayed()] += remove(key)
        }
        return relayed
    }

    private mutating func remove(_ key: Key) -> Relayed {
        guard let entry = installed[key] else { return Relayed() }
        deleteEntries(entry.route)
        let last = delta(key)
        installed[key] = nil
        byTuple[entry.route.tuple]?.remove(key)
        if byTuple[entry.route.tuple]?.isEmpty == true { byTuple[entry.route.tuple] = nil }
        program.returnSlot(entry.slot)
        return last
    }

    /// What the kernel counted for the route since the last look.
    private mutating func delta(_ key: Key) -> Relayed {
        guard var entry = installed[key] else { return Relayed() }
        let toPeer = program.counter(entry.slot * 2)
        let toClient = program.counter(entry.slot * 2 + 1)
        var d = Relayed()
        d.packetsToPeer = toPeer.packets &- entry.toPeer.packets
        d.bytesToPeer = toPeer.bytes &- entry.toPeer.bytes
        d.packetsToClient = toClient.packets &- entry.toClient.packets
        d.bytesToClient = toClient.bytes &- entry.toClient.bytes
        entry.toPeer = toPeer
        entry.toClient = toClient
        installed[key] = entry
        return d
    }

    private mutating func write(_ route: KernelChannelRoute, slot: UInt32, expires: UInt64, _ interfaces: InterfaceRoutes) {
        let towardPeer = interfaces.egress(to: route.peer.ip)
        let towardClient = interfaces.egress(to: route.client.ip)
        var channelKey = Self.channelKey(route)
        var channelValue = channel_relay_channel_value()
        Self.copy(route.peer.ip, into: &channelValue.peer_ip)
        Self.copy(route.relay.ip, into: &channelValue.relay_ip)
        channelValue.peer_port = route.peer.port.bigEndian
        channelValue.relay_port = route.relay.port.bigEndian
        channelValue.counter_slot = slot
        channelValue.out_ifindex = towardPeer?.interfaceIndex ?? 0
        let otherFamily = route.client.ip.family != route.peer.ip.family ? UInt32(CHANNEL_RELAY_OTHER_FAMILY) : 0
        channelValue.flags = (towardPeer?.local == true ? UInt32(CHANNEL_RELAY_LOCAL) : 0) | otherFamily
        channelValue.expires_ns = expires
        var peerKey = Self.peerKey(route)
        var peerValue = channel_relay_peer_value()
        Self.copy(route.client.ip, into: &peerValue.client_ip)
        Self.copy(route.server.ip, into: &peerValue.server_ip)
        peerValue.client_port = route.client.port.bigEndian
        peerValue.server_port = route.server.port.bigEndian
        peerValue.channel = route.channel.bigEndian
        peerValue.counter_slot = slot
        peerValue.out_ifindex = towardClient?.interfaceIndex ?? 0
        peerValue.flags = (towardClient?.local == true ? UInt32(CHANNEL_RELAY_LOCAL) : 0) | otherFamily
        peerValue.expires_ns = expires
        // The peer direction first: a client's ChannelData is only relayed once the answer path
        // is in place too.
        if bpf_map_update_elem(program.peersFD, &peerKey, &peerValue, UInt64(BPF_ANY)) != 0 { refusedUpdates += 1; return }
        if bpf_map_update_elem(program.channelsFD, &channelKey, &channelValue, UInt64(BPF_ANY)) != 0 { refusedUpdates += 1 }
    }

    private func deleteEntries(_ route: KernelChannelRoute) {
        var channelKey = Self.channelKey(route)
        _ = bpf_map_delete_elem(program.channelsFD, &channelKey)
        deletePeerEntry(route)
    }

    private func deletePeerEntry(_ route: KernelChannelRoute) {
        var peerKey = Self.peerKey(route)
        _ = bpf_map_delete_elem(program.peersFD, &peerKey)
    }

    static func channelKey(_ route: KernelChannelRoute) -> channel_relay_channel_key {
        var key = channel_relay_channel_key()
        copy(route.client.ip, into: &key.client_ip)
        copy(route.server.ip, into: &key.server_ip)
        key.client_port = route.client.port.bigEndian
        key.server_port = route.server.port.bigEndian
        key.channel = route.channel.bigEndian
        key.family = family(route.client.ip)
        return key
    }

    static func peerKey(_ route: KernelChannelRoute) -> channel_relay_peer_key {
        var key = channel_relay_peer_key()
        copy(route.peer.ip, into: &key.peer_ip)
        copy(route.relay.ip, into: &key.relay_ip)
        key.peer_port = route.peer.port.bigEndian
        key.relay_port = route.relay.port.bigEndian
        key.family = family(route.peer.ip)
        return key
    }

    static func family(_ ip: IPAddress) -> UInt16 {
        switch ip {
        case .v4: UInt16(AF_INET)
        case .v6: UInt16(AF_INET6)
        }
    }

    /// The address in the maps' 16-byte form: IPv4 in the first 4 bytes, most significant first.
    static func copy<T>(_ ip: IPAddress, into field: inout T) {
        withUnsafeMutableBytes(of: &field) { out in
            precondition(out.count == 16)
            out.initializeMemory(as: UInt8.self, repeating: 0)
            switch ip {
            case .v4(let a):
                for i in 0..<4 { out[i] = UInt8(truncatingIfNeeded: a >> (24 - 8 * i)) }
            case .v6(let hi, let lo):
                for i in 0..<8 {
                    out[i] = UInt8(truncatingIfNeeded: hi >> (56 - 8 * i))
                    out[8 + i] = UInt8(truncatingIfNeeded: lo >> (56 - 8 * i))
                }
            }
        }
    }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
