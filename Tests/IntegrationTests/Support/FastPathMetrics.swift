import ICETestSupport

extension ICEPump {
    /// The fast path's packet counters in a Prometheus exposition.
    static func fastPathPackets(_ text: String) -> (toPeer: Double, toClient: Double) {
        func value(_ series: String) -> Double {
            text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        return (
            value("turn_fast_path_packets_total{direction=\"to_peer\"}"),
            value("turn_fast_path_packets_total{direction=\"to_client\"}")
        )
    }
}
