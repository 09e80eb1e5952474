import Prometheus
import TURNServer

/// Prometheus metrics for the relay: allocations, packets and bytes per direction, drops by
/// cause, authentication failures and receive errors. Counters are brought up to date from the
/// engine's statistics when scraped, so the packet path never touches them.
final class RelayMetrics: @unchecked Sendable {
    let registry: PrometheusCollectorRegistry
    let allocations: Gauge
    let created: Counter
    let deleted: Counter
    let packetsToPeer: Counter
    let packetsToClient: Counter
    let bytesToPeer: Counter
    let bytesToClient: Counter
    let authFailures: Counter
    let receiveErrors: Counter
    let sendErrors: Counter
    var drops: [DropReason: Counter] = [:]
    var last = TURNStatistics()
    var lastReceiveErrors: UInt64 = 0
    var lastSendErrors: UInt64 = 0

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        allocations = registry.makeGauge(descriptor: MetricNameDescriptor(metricName: "turn_allocations", unitName: "", helpText: "Live TURN allocations"))
        created = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_allocations_created", unitName: "total", helpText: "Allocations created"))
        deleted = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_allocations_deleted", unitName: "total", helpText: "Allocations deleted"))
        packetsToPeer = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_packets", unitName: "total", helpText: "Relayed packets"), labels: [("direction", "to_peer")])
        packetsToClient = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_packets", unitName: "total", helpText: "Relayed packets"), labels: [("direction", "to_client")])
        bytesToPeer = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_bytes", unitName: "total", helpText: "Relayed payload bytes"), labels: [("direction", "to_peer")])
        bytesToClient = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_bytes", unitName: "total", helpText: "Relayed payload bytes"), labels: [("direction", "to_client")])
        authFailures = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_auth_failures", unitName: "total", helpText: "Failed authentications"))
        receiveErrors = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_receive_errors", unitName: "total", helpText: "Socket receive errors"))
        sendErrors = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_send_errors", unitName: "total", helpText: "Datagrams the kernel refused to send"))
        for reason in DropReason.allCases {
            drops[reason] = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: "turn_drops", unitName: "total", helpText: "Dropped packets by cause"), labels: [("cause", reason.rawValue)])
        }
    }

    /// Brings the counters up to date and renders the text exposition format.
    func render(statistics s: TURNStatistics, allocationCount: Int, receiveErrorCount: UInt64, sendErrorCount: UInt64) -> String {
        allocations.set(Int64(allocationCount))
        created.increment(by: Int64(s.allocationsCreated - last.allocationsCreated))
        deleted.increment(by: Int64(s.allocationsDeleted - last.allocationsDeleted))
        packetsToPeer.increment(by: Int64(s.packetsToPeer - last.packetsToPeer))
        packetsToClient.increment(by: Int64(s.packetsToClient - last.packetsToClient))
        bytesToPeer.increment(by: Int64(s.bytesToPeer - last.bytesToPeer))
        bytesToClient.increment(by: Int64(s.bytesToClient - last.bytesToClient))
        authFailures.increment(by: Int64(s.authFailures - last.authFailures))
        receiveErrors.increment(by: Int64(receiveErrorCount - lastReceiveErrors))
        if sendErrorCount > lastSendErrors { sendErrors.increment(by: Int64(sendErrorCount - lastSendErrors)) }
        for reason in DropReason.allCases {
            let delta = s.drops[reason, default: 0] - last.drops[reason, default: 0]
            if delta > 0 { drops[reason]?.increment(by: Int64(delta)) }
        }
        last = s
        lastReceiveErrors = receiveErrorCount
        lastSendErrors = max(lastSendErrors, sendErrorCount)
        return registry.emitToString()
    }
}
