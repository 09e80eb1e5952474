#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import JingleKit
import XMPPClient

/// Where the agent's calls meet JingleKit's media runtime: the transport provider for the call
/// manager (libnice ICE, DTLS-SRTP, Opus), what each call sends and records, and the media
/// figures for the status line and the report. With `--signalling-only`, calls carry no media.
struct MediaWiring: Sendable {
    let plan: MediaPlan
    /// False with `--signalling-only`.
    let enabled: Bool

    /// The audio plugged into one call, kept to finish the recording when it ends.
    struct Attached: Sendable {
        var recorder: WAVFileRecorder?
    }

    /// The `--play` file, read once for every call.
    private let prompt: CallAudioFile?

    /// Checks what the plan needs before anything connects: the `--play` file must load.
    init(plan: MediaPlan, enabled: Bool) throws(AgentFailure) {
        self.plan = plan
        self.enabled = enabled
        prompt = enabled ? try Self.loadPrompt(plan.play) : nil
        if enabled, let record = plan.record { try Self.checkRecordingFolder(record) }
        if plan.dtmf != nil, !enabled { throw AgentFailure(usage: "--dtmf needs media (not --signalling-only)") }
    }

    /// Whether calls carry media (so a call that never connects media is a connection failure).
    var carriesMedia: Bool { enabled }

    var settings: CallMediaSettings {
        var s = CallMediaSettings(
            localAddresses: plan.localAddresses, iceServers: plan.iceServers,
            discoverServers: plan.discoverServers, relayOnly: plan.relayOnly)
        if let bitrate = plan.bitrate { s.opusBitrate = bitrate }
        s.forwardErrorCorrection = plan.fec
        s.discontinuousTransmission = plan.dtx
        s.testOnlyOutgoingRTPLoss = plan.testDropOutgoingRTP
        s.testOnlyOutgoingLossMeanBurst = plan.testLossBurst
        // A recorder keeps every played frame 20 ms, so the recording lines up with what was sent.
        if plan.record != nil { s.timeStretching = false }
        return s
    }

    /// Sends the `--dtmf` digits (RFC 4733) once the media is up; returns why they could not
    /// be sent (e.g. the peer agreed to no telephone-event payload type, as Dino 0.4 never does).
    func mediaConnected(_ call: Call) async -> String? {
        guard enabled, let digits = plan.dtmf else { return nil }
        Console.shared.progress("sending DTMF \(digits)")
        do {
            try await call.sendDTMF(digits)
            return nil
        } catch {
            Console.shared.error("jingle-agent: cannot send DTMF: \(error)")
            return "DTMF \(digits) not sent: \(error)"
        }
    }

    func transportProvider(client: XMPPClient) -> any MediaTransportProvider {
        enabled ? ICEMediaTransportProvider(settings: settings, client: client) : SignallingOnlyTransportProvider()
    }

    /// Sets up what a call sends (`--play`, `--tone`, or the echo of what it receives) and where
    /// its audio is recorded (`--record`; `{sid}` in the path becomes the call's sid).
    func attach(to call: Call, echo: Bool) throws(AgentFailure) -> Attached {
        guard enabled else { return Attached() }
        let echoAudio = echo ? EchoAudio() : nil
        if let source = try makeSource(echo: echoAudio) { call.setAudioSource(source) }
        var attached = Attached()
        if let record = plan.record {
            let path = Self.recordingPath(record, sid: call.sid)
            let recorder: WAVFileRecorder
            do { recorder = try WAVFileRecorder(url: URL(fileURLWithPath: path)) } catch {
                throw AgentFailure("cannot record: \(error)", exitCode: .recordingFailure)
            }
            attached.recorder = recorder
            if let echoAudio {
                call.setAudioSink(TeeSink([echoAudio, recorder]))
            } else {
                call.setAudioSink(recorder)
            }
        } else if let echoAudio {
            call.setAudioSink(echoAudio)
        }
        return attached
    }

    /// Writes the rest of the recording and closes it; returns a problem to report, if any.
    func finish(_ attached: Attached) -> String? {
        guard let recorder = attached.recorder else { return nil }
        do { try recorder.finish() } catch { return "cannot write the recording: \(error)" }
        Console.shared.progress("recorded \(recorder.recordedSampleCount / CallAudio.sampleRate) s to \(recorder.url.path)")
        return nil
    }

    /// The `--record` path for a call: `{sid}` becomes the call's sid reduced to a safe file
    /// name (the caller chooses the sid; it may name a file, never a folder).
    static func recordingPath(_ template: String, sid: String) -> String {
        template.replacingOccurrences(of: "{sid}", with: WAVFileRecorder.safeFileName(sid))
    }

    /// Before any call: the `--record` folder must exist and be writable, and a path without
    /// `{sid}` must not name an existing file (recordings are never overwritten).
    static func checkRecordingFolder(_ template: String) throws(AgentFailure) {
        let folder = (template as NSString).deletingLastPathComponent
        let dir = folder.isEmpty ? "." : folder
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw AgentFailure(usage: "--record '\(template)': the folder '\(dir)' does not exist")
        }
        guard access(dir, W_OK | X_OK) == 0 else {
            throw AgentFailure(usage: "--record '\(template)': the folder '\(dir)' is not writable")
        }
        if !template.contains("{sid}"), FileManager.default.fileExists(atPath: template) {
            throw AgentFailure(
                usage: "--record '\(template)': the file exists (recordings are never overwritten; use {sid} for one file per call)")
        }
    }

    private func makeSource(echo: EchoAudio?) throws(AgentFailure) -> (any CallAudioSource)? {
        if let echo { return echo }
        if let tone = plan.tone { return ToneSource(frequency: tone) }
        return prompt?.makeSource(loop: plan.loop)
    }

    /// Reads the `--play` file by its content (WAV of any encoding, FLAC, Ogg Opus, ...).
    private static func loadPrompt(_ play: String?) throws(AgentFailure) -> CallAudioFile? {
        guard let play else { return nil }
        do {
            let file = try CallAudioFile.load(URL(fileURLWithPath: play))
            Console.shared.progress("--play: \(file.format)")
            return file
        } catch {
            throw AgentFailure(usage: "--play: \(error)")
        }
    }

    /// The report's media section from the last statistics seen.
    static func reportMedia(_ s: CallMediaStatistics?, pair: SelectedCandidatePair?) -> CallReport.Media? {
        guard let s else { return pair.map { CallReport.Media(selectedPair: .init($0)) } }
        let expected = s.packetsReceived + s.packetsLost
        var media = CallReport.Media(
            selectedPair: (s.selectedPair ?? pair).map(CallReport.CandidatePair.init), srtpProfile: s.srtpProfile,
            packetsSent: s.packetsSent, packetsReceived: s.packetsReceived, bytesSent: s.bytesSent,
            bytesReceived: s.bytesReceived, packetsLost: s.packetsLost,
            lossPercent: expected > 0 ? 100 * Double(s.packetsLost) / Double(expected) : 0,
            jitterMs: s.jitter.milliseconds, rttMs: s.roundTripTime?.milliseconds,
            decodedRate: s.decodedRate, concealmentRate: s.concealmentRate, fecRecoveryRate: s.fecRecoveryRate,
            silenceFrames: s.silenceFrames,
            framesSent: s.framesSent, framesPlayed: s.framesPlayed, lateTicks: s.lateTicks,
            dtlsDatagramsSent: s.dtlsDatagramsSent, dtlsDatagramsReceived: s.dtlsDatagramsReceived,
            sendFailures: s.sendFailures, iceServers: s.iceServers.isEmpty ? nil : s.iceServers)
        media.framesEncoded = s.framesEncoded
        media.opusPacketsPassedThrough = s.opusPacketsPassedThrough
        media.redAgreed = s.redAgreed
        media.redRecoveredFrames = s.redRecoveredFrames
        media.redPacketsReceived = s.redPacketsReceived
        media.redDistanceSent = s.redDistance
        return media
    }

    /// Loss, jitter, RTT and received level for the status line.
    static func statusFigures(_ s: CallMediaStatistics) -> String {
        var parts = [
            "loss \(CallReport.format(s.fractionLost * 100, digits: 1))%",
            "jitter \(CallReport.format(s.jitter.milliseconds, digits: 0)) ms",
        ]
        if let rtt = s.roundTripTime { parts.append("RTT \(CallReport.format(rtt.milliseconds, digits: 0)) ms") }
        parts.append("level \(meter(s.receiveLevel))")
        return parts.joined(separator: " ")
    }

    /// A ten-step bar for a dBFS level (-60 dB and below is empty).
    static func meter(_ dBFS: Double) -> String {
        let steps = max(0, min(10, Int(((dBFS + 60) / 6).rounded())))
        return "[" + String(repeating: "#", count: steps) + String(repeating: " ", count: 10 - steps) + "]"
    }
}

extension CallReport.CandidatePair {
    init(_ pair: SelectedCandidatePair) {
        self.init(
            local: "\(pair.localType.rawValue) \(pair.localAddress):\(pair.localPort)",
            remote: "\(pair.remoteType.rawValue) \(pair.remoteAddress):\(pair.remotePort)",
            transport: pair.transportProtocol)
    }
}

/// Hands each received frame to several sinks (echo and record).
final class TeeSink: CallAudioSink {
    let sinks: [any CallAudioSink]
    init(_ sinks: [any CallAudioSink]) { self.sinks = sinks }
    func receive(frame: [Int16]) { for s in sinks { s.receive(frame: frame) } }
}
