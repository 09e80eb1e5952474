import CoreMetrics

/// What JingleKit reports through swift-metrics (whatever backend the application bootstraps,
/// e.g. swift-prometheus), once per call when it ends:
///
/// - `jinglekit_calls_total{direction, outcome}`: calls by direction (`incoming`, `outgoing`) and
///   outcome (`completed`, `declined`, `busy`, `cancelled`, `noAnswer`, `answeredElsewhere`,
///   `lostTieBreak`, `failed`).
/// - `jinglekit_call_setup_seconds{direction}`: placed or received -> active (timer), and
///   `jinglekit_call_ice_connected_seconds`, `jinglekit_call_first_audio_seconds` likewise.
/// - `jinglekit_media_packets_total{direction: sent|received}`, `jinglekit_media_packets_lost_total`,
///   `jinglekit_media_frames_total{kind: decoded|concealed|fec}`: the call's media counters.
/// - `jinglekit_media_concealment_ratio`: the share of played frames concealed (recorder).
public enum CallMetrics {
    static func record(
        direction: CallDirection, end: CallEndReason, statistics: CallStatistics,
        media: CallMediaStatistics?, factory: any MetricsFactory
    ) {
        let dir = direction == .outgoing ? "outgoing" : "incoming"
        Counter(label: "jinglekit_calls_total", dimensions: [("direction", dir), ("outcome", outcome(end))], factory: factory).increment()
        let timings: [(String, Duration?)] = [
            ("jinglekit_call_setup_seconds", statistics.setup),
            ("jinglekit_call_ice_connected_seconds", statistics.iceConnected),
            ("jinglekit_call_first_audio_seconds", statistics.firstAudio),
        ]
        for (label, value) in timings {
            guard let value else { continue }
            let (seconds, attoseconds) = value.components
            Timer(label: label, dimensions: [("direction", dir)], factory: factory)
                .recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        }
        guard let media else { return }
        Counter(label: "jinglekit_media_packets_total", dimensions: [("direction", "sent")], factory: factory).increment(
            by: media.packetsSent)
        Counter(label: "jinglekit_media_packets_total", dimensions: [("direction", "received")], factory: factory).increment(
            by: media.packetsReceived)
        Counter(label: "jinglekit_media_packets_lost_total", factory: factory).increment(by: max(0, media.packetsLost))
        Counter(label: "jinglekit_media_frames_total", dimensions: [("kind", "decoded")], factory: factory).increment(
            by: media.decodedFrames)
        Counter(label: "jinglekit_media_frames_total", dimensions: [("kind", "concealed")], factory: factory).increment(
            by: media.concealedFrames)
        Counter(label: "jinglekit_media_frames_total", dimensions: [("kind", "fec")], factory: factory).increment(
            by: media.fecRecoveredFrames)
        Recorder(label: "jinglekit_media_concealment_ratio", factory: factory).record(media.concealmentRate)
    }

    static func outcome(_ end: CallEndReason) -> String {
        switch end {
        case .completed: "completed"
        case .declined: "declined"
        case .busy: "busy"
        case .cancelled: "cancelled"
        case .noAnswer: "noAnswer"
        case .answeredElsewhere: "answeredElsewhere"
        case .lostTieBreak: "lostTieBreak"
        case .failed: "failed"
        }
    }
}
