import Prometheus
import Synchronization
import TURNServer

/// Prometheus metrics for the relay: allocations, packets and bytes per direction (and how many
/// of those packets went in Send/Data indications), drops by cause, authentication failures,
/// receive and send errors, and for TCP allocations (RFC 6062) peer connections by how they
/// came about and the bytes carried over them. Counters are brought up to date from the engine's statistics when
/// scraped, so the packet path never touches them.
final class RelayMetrics: @unchecked Sendable {
    let registry: PrometheusCollectorRegistry
    let allocations: Gauge
    let created: Counter
    let deleted: Counter
    let packetsToPeer: Counter
    let packetsToClient: Counter
    let bytesToPeer: Counter
    let bytesToClient: Counter
    let indicationsToPeer: Counter
    let indicationsToClient: Counter
    let authFailures: Counter
    let receiveErrors: Counter
    let sendErrors: Counter
    var drops: [DropReason: Counter] = [:]
    let peerConnections: Gauge
    let peerConnectionsConnected: Counter
    let peerConnectionsAccepted: Counter
    let peerConnectionsFailed: Counter
    let peerConnectionsJoined: Counter
    let tcpBytesToPeer: Counter
    let tcpBytesToClient: Counter
    /// What each counter has been raised to so far, by counter name (under `lock`).
    private let lock = Mutex<[String: UInt64]>([:])

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        allocations = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "turn_allocations", unitName: "", helpText: "Live TURN allocations"))
        created = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_allocations_created", unitName: "total", helpText: "Allocations created"))
        deleted = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_allocations_deleted", unitName: "total", helpText: "Allocations deleted"))
        packetsToPeer = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_packets", unitName: "total", helpText: "Relayed packets"), labels: [("direction", "to_peer")])
        packetsToClient = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_packets", unitName: "total", helpText: "Relayed packets"), labels: [("direction", "to_client")])
        bytesToPeer = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_bytes", unitName: "total", helpText: "Relayed payload bytes"), labels: [("direction", "to_peer")])
        bytesToClient = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_bytes", unitName: "total", helpText: "Relayed payload bytes"), labels: [("direction", "to_client")])
        indicationsToPeer = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_indications", unitName: "total", helpText: "Relayed packets carried in Send/Data indications rather than ChannelData"), labels: [("direction", "to_peer")])
        indicationsToClient = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_indications", unitName: "total", helpText: "Relayed packets carried in Send/Data indications rather than ChannelData"), labels: [("direction", "to_client")])
        authFailures = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_auth_failures", unitName: "total", helpText: "Failed authentications"))
        receiveErrors = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_receive_errors", unitName: "total", helpText: "Socket receive errors"))
        sendErrors = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_send_errors", unitName: "total", helpText: "Datagrams the kernel refused to send"))
        let connectionsName = MetricNameDescriptor(metricName: "turn_tcp_peer_connections", unitName: "total",
                                                   helpText: "TCP allocations' peer connections (RFC 6062) by outcome")
        peerConnections = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "turn_tcp_peer_connections", unitName: "",
                                                                               helpText: "Live peer connections of TCP allocations"))
        peerConnectionsConnected = registry.makeCounter(descriptor: connectionsName, labels: [("outcome", "connected")])
        peerConnectionsAccepted = registry.makeCounter(descriptor: connectionsName, labels: [("outcome", "accepted")])
        peerConnectionsFailed = registry.makeCounter(descriptor: connectionsName, labels: [("outcome", "failed")])
        peerConnectionsJoined = registry.makeCounter(descriptor: connectionsName, labels: [("outcome", "joined")])
        let tcpBytesName = MetricNameDescriptor(metricName: "turn_tcp_bytes", unitName: "total", helpText: "Bytes relayed over TCP allocations' data connections")
        tcpBytesToPeer = registry.makeCounter(descriptor: tcpBytesName, labels: [("direction", "to_peer")])
        tcpBytesToClient = registry.makeCounter(descriptor: tcpBytesName, labels: [("direction", "to_client")])
        for reason in DropReason.allCases {
            drops[reason] = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_drops", unitName: "total", helpText: "Dropped packets by cause"), labels: [("cause", reason.rawValue)])
        }
    }

    /// Brings the counters up to date and renders the text exposition format. Safe from any
    /// thread; a snapshot older than one already rendered never lowers or double-counts.
    func render(statistics s: TURNStatistics, allocationCount: Int, receiveErrorCount: UInt64, sendErrorCount: UInt64,
                tcp: (live: Int, bytesToPeer: UInt64, bytesToClient: UInt64) = (0, 0, 0)) -> String {
        lock.withLock { seen in
            func advance(_ counter: Counter, _ key: String, to value: UInt64) {
                let old = seen[key, default: 0]
                guard value > old else { return }
                counter.increment(by: Int64(value - old))
                seen[key] = value
            }
            allocations.set(Int64(allocationCount))
            advance(created, "created", to: s.allocationsCreated)
            advance(deleted, "deleted", to: s.allocationsDeleted)
            advance(packetsToPeer, "packetsToPeer", to: s.packetsToPeer)
            advance(packetsToClient, "packetsToClient", to: s.packetsToClient)
            advance(bytesToPeer, "bytesToPeer", to: s.bytesToPeer)
            advance(bytesToClient, "bytesToClient", to: s.bytesToClient)
            advance(indicationsToPeer, "indicationsToPeer", to: s.indicationsToPeer)
            advance(indicationsToClient, "indicationsToClient", to: s.indicationsToClient)
            advance(authFailures, "authFailures", to: s.authFailures)
            advance(receiveErrors, "receiveErrors", to: receiveErrorCount)
            advance(sendErrors, "sendErrors", to: sendErrorCount)
            peerConnections.set(Int64(tcp.live))
            advance(peerConnectionsConnected, "tcpConnected", to: s.peerConnectionsConnected)
            advance(peerConnectionsAccepted, "tcpAccepted", to: s.peerConnectionsAccepted)
            advance(peerConnectionsFailed, "tcpFailed", to: s.peerConnectionsFailed)
            advance(peerConnectionsJoined, "tcpJoined", to: s.peerConnectionsJoined)
            advance(tcpBytesToPeer, "tcpBytesToPeer", to: tcp.bytesToPeer)
            advance(tcpBytesToClient, "tcpBytesToClient", to: tcp.bytesToClient)
            for reason in DropReason.allCases {
                if let counter = drops[reason] { advance(counter, "drop." + reason.rawValue, to: s.drops[reason, default: 0]) }
            }
            return registry.emitToString()
        }
    }
}
