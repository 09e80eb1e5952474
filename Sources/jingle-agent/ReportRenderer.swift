import ArgumentParser
import Foundation

/// How the call report is printed on stdout at the end of each call.
enum ReportFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    /// A few human-readable lines.
    case text
    /// One JSON object on one line (JSON Lines: one line per call).
    case json
    /// No report.
    case none
}

extension CallReport {
    func rendered(_ format: ReportFormat) -> String? {
        switch format {
        case .text: text
        case .json: json
        case .none: nil
        }
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    var text: String {
        var lines: [String] = []
        let arrow = direction == "outgoing" ? "to" : "from"
        var head = "call \(sid) \(direction) \(arrow) \(peer) (\(jmi ? "JMI" : "direct Jingle"))"
        if let remoteDevice, remoteDevice != peer { head += ", device \(remoteDevice)" }
        lines.append(head)
        var result = "  outcome: \(outcome)"
        if outcome != "noAnswer" && outcome != "answeredElsewhere" && outcome != "lostTieBreak" {
            result += endedByPeer ? " by peer" : " by us"
        }
        if let reason { result += " (\(reason)\(reasonText.map { ": \($0)" } ?? ""))" }
        result += ", exit \(exitCode)"
        lines.append(result)
        if let mediaProblem { lines.append("  media failed: \(mediaProblem)") }
        if let recordingProblem { lines.append("  recording failed: \(recordingProblem)") }
        if let dtmfProblem { lines.append("  DTMF failed: \(dtmfProblem)") }
        if let talkMs { lines.append("  talk time: \(Self.format(seconds: talkMs / 1000))") }
        if !ringingDevices.isEmpty { lines.append("  rang: \(ringingDevices.joined(separator: ", "))") }
        let timings: [(String, Double?)] = [
            ("propose->ringing", setup.proposeToRingingMs), ("propose->proceed", setup.proposeToProceedMs),
            ("initiate->accept", setup.initiateToAcceptMs), ("active", setup.totalMs), ("ICE connected", setup.iceConnectedMs),
            ("DTLS done", setup.dtlsConnectedMs), ("first audio", setup.firstAudioMs),
        ]
        // Each figure is measured from when the call was placed or received.
        let shown = timings.compactMap { name, value in value.map { "\(name) \(Self.format(ms: $0))" } }
        if !shown.isEmpty { lines.append("  setup: " + shown.joined(separator: ", ")) }
        if let media {
            if let pair = media.selectedPair { lines.append("  candidate pair: \(pair.local) -> \(pair.remote)") }
            if let profile = media.srtpProfile { lines.append("  SRTP: \(profile)") }
            var figures: [String] = []
            if let s = media.packetsSent { figures.append("sent \(s) packets\(media.bytesSent.map { " / \($0) bytes" } ?? "")") }
            if let r = media.packetsReceived {
                figures.append("received \(r) packets\(media.bytesReceived.map { " / \($0) bytes" } ?? "")")
            }
            if !figures.isEmpty { lines.append("  packets: " + figures.joined(separator: ", ")) }
            var quality: [String] = []
            if let lost = media.packetsLost {
                quality.append("lost \(lost)\(media.lossPercent.map { " (\(Self.format($0, digits: 1)) %)" } ?? "")")
            }
            if let j = media.jitterMs { quality.append("jitter \(Self.format(ms: j))") }
            if let r = media.rttMs { quality.append("RTT \(Self.format(ms: r))") }
            if let d = media.decodedRate { quality.append("decoded \(Self.format(d * 100, digits: 1)) %") }
            if let c = media.concealmentRate { quality.append("concealed \(Self.format(c * 100, digits: 1)) %") }
            if let f = media.fecRecoveryRate { quality.append("FEC recovered \(Self.format(f * 100, digits: 1)) %") }
            if media.redAgreed == true {
                quality.append("RED recovered \(media.redRecoveredFrames ?? 0) frames (sending \(media.redDistanceSent ?? 0) repeats)")
            }
            if !quality.isEmpty { lines.append("  quality: " + quality.joined(separator: ", ")) }
            if let late = media.lateTicks, late > 0 { lines.append("  media clock: \(late) late ticks of \(media.framesSent ?? 0) frames") }
            if media.srtpProfile == nil, let sent = media.dtlsDatagramsSent, let received = media.dtlsDatagramsReceived {
                // DTLS never finished: say how far it got.
                lines.append("  DTLS: \(sent) records sent, \(received) received, \(media.sendFailures ?? 0) refused by ICE")
            }
            for server in media.iceServers ?? [] { lines.append("  ICE server \(server)") }
        }
        if !dtmfReceived.isEmpty { lines.append("  DTMF received: \(dtmfReceived)") }
        return lines.joined(separator: "\n")
    }

    static func format(ms: Double) -> String {
        ms >= 1000 ? format(seconds: ms / 1000) : "\(format(ms, digits: 1)) ms"
    }

    static func format(seconds: Double) -> String { "\(format(seconds, digits: 2)) s" }

    static func format(_ value: Double, digits: Int) -> String {
        String(format: "%.\(digits)f", value)
    }
}
