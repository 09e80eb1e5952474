import Jingle
import JingleKit
import XMPPCore

/// What one call did, printed when it ends (`--report text|json`). Durations are milliseconds.
/// Media figures stay nil for calls without media.
struct CallReport: Codable, Sendable, Equatable {
    /// Setup timings (XEP-0353 propose/ringing/proceed, XEP-0166 initiate/accept, then media).
    struct Setup: Codable, Sendable, Equatable {
        var proposeToRingingMs: Double?
        var proposeToProceedMs: Double?
        var initiateToAcceptMs: Double?
        /// Placed or received -> active.
        var totalMs: Double?
        /// Placed or received -> ICE connected.
        var iceConnectedMs: Double?
        /// Placed or received -> DTLS handshake done.
        var dtlsConnectedMs: Double?
        /// Placed or received -> first audio frame received.
        var firstAudioMs: Double?
    }

    /// The ICE candidate pair that carried the media (RFC 8445 §8.1).
    struct CandidatePair: Codable, Sendable, Equatable {
        /// Type and address, e.g. `host 127.0.0.1:50000` or `relay 192.0.2.7:49152`.
        var local: String
        var remote: String
        /// `udp` or `tcp`.
        var transport: String
    }

    /// RTP/RTCP figures (RFC 3550 §6.4), Opus decoder figures.
    struct Media: Codable, Sendable, Equatable {
        var selectedPair: CandidatePair?
        var srtpProfile: String?
        var packetsSent: Int?
        var packetsReceived: Int?
        var bytesSent: Int?
        var bytesReceived: Int?
        var packetsLost: Int?
        var lossPercent: Double?
        var jitterMs: Double?
        var rttMs: Double?
        /// Share of played frames decoded from the peer's packets.
        var decodedRate: Double?
        /// Share of played frames that were concealed (PLC).
        var concealmentRate: Double?
        /// Share of played frames recovered from in-band FEC.
        var fecRecoveryRate: Double?
        /// Frames restored from the peer's RFC 2198 redundancy (RED), the RED packets the peer
        /// sent, and the redundancy we sent at the end (earlier frames repeated per packet; 0 when
        /// RED was agreed but not needed).
        var redAgreed: Bool? = nil
        var redRecoveredFrames: Int? = nil
        var redPacketsReceived: Int? = nil
        var redDistanceSent: Int? = nil
        /// Frames of silence through gaps the peer left without losing a packet (DTX).
        var silenceFrames: Int?
        /// 20 ms frames our media clock sent and played, and its ticks that ran more than a frame late.
        var framesSent: Int?
        var framesPlayed: Int?
        var lateTicks: Int?
        /// Frames the Opus encoder encoded, and packets of an Ogg Opus `--play` file sent as they
        /// were (no encoding).
        var framesEncoded: Int? = nil
        var opusPacketsPassedThrough: Int? = nil
        /// DTLS records sent (with retransmissions) and received, and datagrams ICE refused to
        /// send: where a handshake that never finished got stuck.
        var dtlsDatagramsSent: Int?
        var dtlsDatagramsReceived: Int?
        var sendFailures: Int?
        /// Each STUN/TURN server ICE was given and what came of it: allocated (relayed address),
        /// error (code), no answer; the first place to look when a call could not connect.
        var iceServers: [ICEServerStatus]? = nil
    }

    /// One event with its time since the call was placed or received.
    struct TimelineEntry: Codable, Sendable, Equatable {
        var atMs: Double
        var event: String
    }

    var sid: String
    var direction: String
    var peer: String
    var remoteDevice: String?
    var jmi: Bool
    /// completed, declined, busy, cancelled, noAnswer, answeredElsewhere, lostTieBreak, failed.
    var outcome: String
    /// Whether the peer (or another of our devices) ended the call.
    var endedByPeer: Bool
    /// The XEP-0166 reason condition, e.g. success, decline, busy, timeout, failed-transport.
    var reason: String?
    var reasonText: String?
    /// Why the media failed although the call completed: no audio, or too much concealed
    /// (`--max-concealment`). nil when the media was fine or not expected.
    var mediaProblem: String?
    /// Why the `--record` file is missing or incomplete; the call then exits 9 unless it
    /// already failed for another reason.
    var recordingProblem: String?
    /// Why the `--dtmf` digits were not sent (no telephone-event agreed); the call then exits 8
    /// unless it already failed for another reason.
    var dtmfProblem: String?
    var exitCode: Int32
    /// Active -> ended, when the call became active.
    var talkMs: Double?
    var ringingDevices: [String]
    var setup: Setup
    var media: Media?
    var dtmfReceived: String
    var timeline: [TimelineEntry]
}

/// Collects a call's events as they arrive, then makes its `CallReport`.
struct CallReportBuilder: Sendable {
    let sid: String
    let direction: CallDirection
    let peer: JID
    let jmi: Bool
    let mediaExpected: Bool
    private(set) var timeline: [CallReport.TimelineEntry] = []
    private(set) var ringingDevices: [String] = []
    private(set) var acceptedAt: Duration?
    private(set) var mediaConnected = false
    private(set) var selectedPair: SelectedCandidatePair?
    private(set) var dtmf = ""
    private(set) var end: CallEndReason?
    private(set) var endedAt: Duration?

    init(call: Call, mediaExpected: Bool) {
        sid = call.sid
        direction = call.direction
        peer = call.peer
        jmi = call.usesJMI
        self.mediaExpected = mediaExpected
    }

    /// Records one event, `at` the time since the call was placed or received.
    mutating func record(_ event: CallEvent, at: Duration) {
        timeline.append(.init(atMs: at.milliseconds, event: Self.describe(event)))
        switch event {
        case .ringing(let device):
            if !ringingDevices.contains(device.description) { ringingDevices.append(device.description) }
        case .accepted: acceptedAt = acceptedAt ?? at
        case .mediaConnected: mediaConnected = true
        case .iceConnected(let pair): selectedPair = pair
        case .dtmf(let digit): dtmf.append(digit)
        case .ended(let reason):
            end = reason
            endedAt = at
        case .proceeded, .remoteCandidates, .remoteMuted, .remoteHeld, .firstAudio, .audioSourceFinished, .iceRestarted,
            .contentRejected:
            break
        }
    }

    var isActive: Bool { acceptedAt != nil && end == nil }

    /// The exit status this call maps to, once ended.
    func exitCode(audioReceived: Bool?) -> AgentExitCode {
        guard let end else { return .failure }
        return AgentExitCode.forCall(end, mediaExpected: mediaExpected, mediaConnected: mediaConnected, audioReceived: audioReceived)
    }

    /// - Parameter failure: what went wrong when the agent, not the call, saw the failure.
    /// - Parameter qualityGuard: how much concealment a completed call's received audio may have.
    func report(
        statistics: CallStatistics, remoteDevice: JID?, mediaStatistics: CallMediaStatistics?,
        qualityGuard: MediaQualityGuard = MediaQualityGuard(), recordingProblem: String? = nil,
        dtmfProblem: String? = nil, failure: String? = nil
    ) -> CallReport {
        let end = self.end ?? .failed(nil, byPeer: false)
        let media = mediaExpected ? MediaWiring.reportMedia(mediaStatistics, pair: selectedPair) : nil
        let audioReceived = media?.packetsReceived.map { $0 > 0 } ?? (mediaExpected ? false : nil)
        var (outcome, byPeer) = Self.outcome(end)
        var reason = Self.reason(end)
        var code = exitCode(audioReceived: audioReceived)
        var mediaProblem: String?
        if code == .mediaFailure, audioReceived == false {
            mediaProblem = "connected, but no audio packet was received"
        } else if code == .success, mediaExpected, let s = mediaStatistics, let why = qualityGuard.failure(s) {
            // Packets came, but what was played was mostly concealment: the user heard nothing useful.
            code = .mediaFailure
            mediaProblem = why
        }
        // A recording that was not written is a failure even when the call went well.
        if recordingProblem != nil, code == .success { code = .recordingFailure }
        // Digits the user asked for that never left are a media failure of this call.
        if dtmfProblem != nil, code == .success { code = .mediaFailure }
        if let failure {
            (outcome, byPeer, code) = ("failed", true, .signallingFailure)
            reason = Reason(.generalError, text: failure)
        }
        var talk: Double? = nil
        if let acceptedAt, let endedAt { talk = (endedAt - acceptedAt).milliseconds }
        return CallReport(
            sid: sid, direction: direction == .outgoing ? "outgoing" : "incoming", peer: peer.description,
            remoteDevice: remoteDevice?.description, jmi: jmi, outcome: outcome, endedByPeer: byPeer,
            reason: reason?.condition.name, reasonText: reason?.text, mediaProblem: mediaProblem,
            recordingProblem: recordingProblem, dtmfProblem: dtmfProblem,
            exitCode: code.rawValue, talkMs: talk, ringingDevices: ringingDevices,
            setup: CallReport.Setup(
                proposeToRingingMs: statistics.proposeToRinging?.milliseconds,
                proposeToProceedMs: statistics.proposeToProceed?.milliseconds,
                initiateToAcceptMs: statistics.initiateToAccept?.milliseconds,
                totalMs: statistics.setup?.milliseconds,
                iceConnectedMs: statistics.iceConnected?.milliseconds,
                dtlsConnectedMs: statistics.dtlsConnected?.milliseconds,
                firstAudioMs: statistics.firstAudio?.milliseconds),
            media: media, dtmfReceived: dtmf, timeline: timeline)
    }

    static func outcome(_ end: CallEndReason) -> (String, Bool) {
        switch end {
        case .completed(let p): ("completed", p)
        case .declined(let p): ("declined", p)
        case .busy(let p): ("busy", p)
        case .cancelled(let p): ("cancelled", p)
        case .noAnswer: ("noAnswer", false)
        case .answeredElsewhere: ("answeredElsewhere", true)
        case .lostTieBreak: ("lostTieBreak", false)
        case .failed(_, let p): ("failed", p)
        }
    }

    /// The Jingle reason that says this end (what was sent or received).
    static func reason(_ end: CallEndReason) -> Reason? {
        switch end {
        case .completed: Reason(.success)
        case .declined: Reason(.decline)
        case .busy: Reason(.busy)
        case .cancelled: Reason(.cancel)
        case .noAnswer: Reason(.timeout)
        case .answeredElsewhere: nil
        case .lostTieBreak: Reason(.expired)
        case .failed(let r, _): r
        }
    }

    static func describe(_ event: CallEvent) -> String {
        switch event {
        case .ringing(let d): "ringing \(d)"
        case .proceeded(let d): "proceeded \(d)"
        case .accepted: "accepted"
        case .remoteCandidates(let c): "remote candidates \(c.count)"
        case .remoteMuted(let m): m ? "remote muted" : "remote unmuted"
        case .remoteHeld(let h): h ? "remote held" : "remote resumed"
        case .mediaConnected: "media connected"
        case .iceConnected(let pair): "ICE connected \(pair)"
        case .firstAudio: "first audio"
        case .dtmf(let digit): "DTMF \(digit)"
        case .audioSourceFinished: "audio source finished"
        case .iceRestarted(let r): "ICE restarted\(r.byPeer ? " by peer" : "") (ufrag \(r.localUfrag), peer \(r.remoteUfrag))"
        case .contentRejected(let name, let media, let reason):
            "content-add '\(name)'\(media.map { " (\($0))" } ?? "") rejected: \(reason.condition.name)"
        case .ended(let r):
            "ended \(outcome(r).0)\(outcome(r).1 ? " by peer" : "")\(reason(r).map { " (\($0.condition.name))" } ?? "")"
        }
    }
}

extension Duration {
    var milliseconds: Double {
        let c = components
        return Double(c.seconds) * 1000 + Double(c.attoseconds) / 1e15
    }
    var seconds: Double { milliseconds / 1000 }
}
