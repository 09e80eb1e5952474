import Jingle
import JingleKit
import Synchronization

/// A failure the agent itself saw for a call (a bounced proposal), which the call's end reason
/// cannot say; it makes the report's outcome `failed` and the exit code a signalling failure.
final class CallFailureNote: Sendable {
    private let text = Mutex<String?>(nil)
    var value: String? { text.withLock { $0 } }
    func set(_ s: String) { text.withLock { $0 = $0 ?? s } }
}

/// Follows one call from placed (or received) to ended: prints its progress, hangs it up after
/// `--hangup-after` or `--duration`, wires its media, and makes its report.
struct CallRunner: Sendable {
    let call: Call
    let options: CallOptions
    let media: MediaWiring
    let board: StatusBoard
    /// Loop received audio back (`echo`).
    var echo = false
    var failure = CallFailureNote()

    /// Hangs up with `<media-error/>` once no audio packet arrived for `limit` seconds.
    static func watchAudio(_ call: Call, limit: Double) async {
        var last = -1
        var since = ContinuousClock.now
        let step = Duration.milliseconds(Int64(min(500, limit * 250)))
        while !Task.isCancelled {
            try? await Task.sleep(for: step)
            guard !Task.isCancelled, let received = await call.mediaStatistics?.packetsReceived else { continue }
            if received != last {
                last = received
                since = .now
            } else if ContinuousClock.now - since >= .milliseconds(Int64(limit * 1000)) {
                Console.shared.progress("no audio for \(CallReport.format(seconds: limit)): hanging up")
                await call.hangUp(reason: Reason(.mediaError, text: "no audio received for \(CallReport.format(seconds: limit))"))
                return
            }
        }
    }

    /// Runs until the call ends; returns its report (already printed per `--report`).
    func run() async -> CallReport {
        let started = ContinuousClock.now
        var builder = CallReportBuilder(call: call, mediaExpected: media.carriesMedia)
        var timers: [Task<Void, Never>] = []
        board.add(call, state: call.direction == .outgoing ? "calling" : "ringing")
        let who = "\(call.peer)"
        var attached = MediaWiring.Attached()
        var recordingProblem: String?
        var dtmf: Task<String?, Never>?
        do { attached = try media.attach(to: call, echo: echo) } catch {
            Console.shared.error("jingle-agent: \(error)")
            if error.exitCode == .recordingFailure { recordingProblem = error.description }
            await call.hangUp()
        }
        for await event in call.events {
            builder.record(event, at: ContinuousClock.now - started)
            switch event {
            case .ringing(let device):
                Console.shared.progress(call.direction == .outgoing ? "ringing on \(device)" : "ringing: call from \(who)")
                board.update(call, state: "ringing")
            case .proceeded(let device):
                Console.shared.progress("proceeding with \(device)")
                board.update(call, state: "connecting")
            case .accepted:
                Console.shared.progress("answered: call \(call.sid) with \(who) is active")
                board.update(call, state: "active", active: true)
                for limit in [options.hangupAfter, options.duration].compactMap({ $0 }) {
                    timers.append(
                        Task { [call] in
                            try? await Task.sleep(for: .milliseconds(Int64(limit * 1000)))
                            guard !Task.isCancelled else { return }
                            Console.shared.progress("hanging up after \(CallReport.format(seconds: limit))")
                            await call.hangUp()
                        })
                }
            case .iceConnected(let pair):
                Console.shared.progress("ICE connected: \(pair)")
            case .mediaConnected:
                Console.shared.progress("media connected (DTLS-SRTP)")
                dtmf = dtmf ?? Task { [media, call] in await media.mediaConnected(call) }
                if let limit = options.mediaTimeout { timers.append(Task { [call] in await Self.watchAudio(call, limit: limit) }) }
            case .firstAudio:
                Console.shared.progress("first audio received")
            case .dtmf(let digit):
                Console.shared.progress("DTMF received: \(digit)")
            case .audioSourceFinished:
                Console.shared.progress("audio source finished; sending silence")
            case .remoteMuted(let muted):
                Console.shared.progress(muted ? "peer muted" : "peer unmuted")
            case .remoteHeld(let held):
                Console.shared.progress(held ? "peer put the call on hold" : "peer resumed the call")
            case .iceRestarted(let restart):
                Console.shared.progress("ICE restarted \(restart.byPeer ? "by the peer" : "here"); checks run again")
            case .contentRejected(let name, let media, let reason):
                Console.shared.progress("refused content-add '\(name)' (\(media ?? "non-RTP")): \(reason.condition.name)")
            case .remoteCandidates:
                break
            case .ended(let end):
                Console.shared.progress("ended: \(CallReportBuilder.describe(.ended(end)).dropFirst(6))")
            }
        }
        for t in timers { t.cancel() }
        let dtmfProblem = await dtmf?.value
        board.remove(call)
        if let problem = media.finish(attached) {
            Console.shared.error("jingle-agent: \(problem)")
            recordingProblem = recordingProblem ?? problem
        }
        let report = builder.report(
            statistics: await call.statistics, remoteDevice: await call.remoteDevice,
            mediaStatistics: await call.mediaStatistics,
            qualityGuard: MediaQualityGuard(maximumConcealment: options.maxConcealment / 100),
            recordingProblem: recordingProblem, dtmfProblem: dtmfProblem, failure: failure.value)
        if let problem = report.mediaProblem { Console.shared.error("jingle-agent: media failed: \(problem)") }
        if let text = report.rendered(options.report) { Console.shared.output(text) }
        return report
    }
}
