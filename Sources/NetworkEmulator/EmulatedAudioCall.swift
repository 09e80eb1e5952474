import EngineTime
import Media

/// One direction of a voice call in virtual time: an `EmulatedOpusSender` feeding a
/// `NetworkPath`, and the receiver's `AudioPlayout` (jitter buffer, FEC, concealment, time
/// stretching) pulled every 20 ms of the receiver's clock. A minute of call runs in about a
/// second of CPU (the Opus encoder is most of it) and repeats exactly for a given seed.
public enum EmulatedAudioCall {
    public struct Result: Sendable {
        /// What the receiver played, 48 kHz mono, one frame per pull from the first pull on.
        public var played: [Int16]
        public var playout: AdaptiveJitterBuffer.Statistics
        public var path: NetworkPath<RTPPacket>.Statistics
        /// Packets the jitter buffer did not simply buffer (late, duplicate, or overflowing).
        public var refused: Int
        /// What RFC 2198 recovery did (all zero without redundancy).
        public var redundancy: RedundancyRecovery.Statistics
        /// The sender's payload bit rate over the call, kbit/s (RED headers and repeats included).
        public var payloadKilobitsPerSecond: Double
        /// The sender's RED distance averaged over its packets.
        public var meanRedundancyDistance: Double
    }

    /// Runs until the sender has sent everything and the receiver has played all that arrived
    /// (or `tail` more of the receiver's time has passed), so the end of the stream is not
    /// counted as concealment.
    /// - Parameters:
    ///   - firstPull: the receiver's first pull (its playout clock's phase against the sender's).
    ///   - redundancy: steers the sender as the media session does from the peer's RTCP
    ///     reports: every `reportInterval` the share of packets the path lost since the last
    ///     report is fed to it, and the level it returns is applied to the sender. Nil keeps the
    ///     sender's settings.
    public static func run(
        sender: EmulatedOpusSender, path configuration: NetworkPath<RTPPacket>.Configuration,
        jitterBuffer: AdaptiveJitterBuffer.Configuration = .init(minimumDelay: .milliseconds(60)),
        timeStretching: Bool = true, firstPull: Duration = .milliseconds(7),
        tail: Duration = .seconds(2), redundancy: RedundancyController? = nil,
        reportInterval: Duration = .seconds(1)
    ) throws -> Result {
        var controller = redundancy
        if let level = controller?.current { try sender.apply(level) }
        var nextReport = reportInterval
        var reported = (sent: 0, lost: 0)
        var distanceFrames = 0
        var path = NetworkPath<RTPPacket>(configuration)
        // With RED, every packet goes through RFC 2198 recovery, as in the media session: a RED
        // packet gives its primary and any frame its redundancy restores.
        var recovery = sender.settings.redundancy.map {
            RedundancyRecovery(configuration: .init(redPayloadType: $0.payloadType, opusPayloadType: sender.settings.payloadType))
        }
        let playout = try AudioPlayout(configuration: jitterBuffer, channels: 1, timeStretching: timeStretching)
        // Virtual time: the engines' instants count from zero.
        let base = EngineInstant.zero
        var played: [Int16] = []
        var refused = 0
        var nextPull = firstPull
        var end: Duration?
        while true {
            if end == nil, sender.isFinished { end = max(nextPull, path.nextArrival ?? .zero) + tail }
            let send = sender.nextSendTime
            let candidates = [send, path.nextArrival, nextPull].compactMap { $0 }
            guard let now = candidates.min() else { break }
            if let end, now > end { break }
            if end != nil, path.nextArrival == nil, playout.jitterBuffer.bufferedPacketCount == 0 { break }
            if let send, send == now {
                // The receiver's report about the interval just ended (RFC 3550 §6.4.1 fraction
                // lost) reaches the sender before its next packet.
                if controller != nil, now >= nextReport {
                    let sent = path.statistics.sent - reported.sent, lost = path.statistics.lost - reported.lost
                    reported = (path.statistics.sent, path.statistics.lost)
                    nextReport += reportInterval
                    if sent > 0, let level = controller?.update(lossPercent: Double(lost) * 100 / Double(sent)) {
                        try sender.apply(level)
                    }
                }
                if let packet = try sender.nextPacket() {
                    distanceFrames += sender.redundancyDistance
                    path.send(packet, at: now)
                }
                continue
            }
            if let arrival = path.nextArrival, arrival == now {
                for (received, at) in path.receive(at: now) {
                    let packets = recovery?.process(received).map(\.packet) ?? [received]
                    playout.setRedundancyDistance(recovery?.receivedDistance ?? 0)
                    for packet in packets {
                        switch playout.insert(packet, at: base + at) {
                        case .buffered: break
                        case .late, .duplicate, .overflowed: refused += 1
                        }
                    }
                }
                continue
            }
            played += playout.pull(at: base + now)
            nextPull += EmulatedOpusSender.frameDuration
        }
        let seconds = Double(sender.totalFrames) * 0.02
        return Result(
            played: played, playout: playout.statistics, path: path.statistics, refused: refused,
            redundancy: recovery?.statistics ?? RedundancyRecovery.Statistics(),
            payloadKilobitsPerSecond: Double(sender.payloadOctetsSent) * 8 / 1000 / max(seconds, 0.02),
            meanRedundancyDistance: Double(distanceFrames) / Double(max(1, path.statistics.sent)))
    }
}
