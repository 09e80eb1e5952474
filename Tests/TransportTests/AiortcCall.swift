import DriverClock
import EngineTime
import Foundation
import Jingle
import Media
import Synchronization
import TLS
@testable import Transport

/// Our end of an interop call with aiortc: one ICE agent on 127.0.0.1, a DTLS certificate, and
/// the `MediaSession` created once the offer/answer is known. The agent's events are forwarded
/// from the start: candidates to `gather()`, everything else to the session (held back until it
/// is attached, then replayed in order).
final class AiortcCall: @unchecked Sendable {
    let agent: ICEAgent
    let certificate: DTLSCertificate
    private let gathered = AiortcMailbox<ICEEvent>()
    /// ICE component states in the order the agent reported them.
    let iceStates = AiortcLocked<[ICEComponentState]>([])
    private let route = AiortcLocked<(session: MediaSession?, held: [ICEEvent])>((nil, []))
    private var pump: Task<Void, Never>?

    init(controlling: Bool) throws {
        certificate = try DTLSCertificate.generate(commonName: "jinglekit")
        agent = try ICEAgent(configuration: ICEConfiguration(controlling: controlling, localAddresses: ["127.0.0.1"]))
        let agent = agent, gathered = gathered, iceStates = iceStates, route = route
        pump = Task.detached {
            for await event in agent.events {
                switch event {
                case .localCandidate, .gatheringDone:
                    gathered.deliver(event)
                    continue
                case .stateChanged(let s):
                    iceStates.withLock { $0.append(s) }
                default: break
                }
                route.withLock { r in
                    if let session = r.session { session.handle(event, now: EngineClock.process.now) } else { r.held.append(event) }
                }
            }
        }
    }

    /// Gathers host candidates (127.0.0.1 only) and returns them as XEP-0176 candidates.
    func gather() async throws -> [Candidate] {
        try agent.gather()
        var candidates: [Candidate] = []
        while true {
            guard let event = await gathered.next(within: .seconds(10), where: { _ in true }) else {
                throw AiortcSignalling.Failure(description: "ICE gathering did not finish within 10 s")
            }
            switch event {
            case .localCandidate(let c): candidates.append(AiortcSignalling.jingleCandidate(c, index: candidates.count))
            case .gatheringDone: return candidates
            default: break
            }
        }
    }

    /// Starts the media session and ICE towards the far side's credentials and candidates.
    func start(_ session: MediaSession, remote: AiortcSignalling.RemoteAudio) throws {
        route.withLock { r in
            r.session = session
            r.held.forEach { session.handle($0, now: EngineClock.process.now) }
            r.held = []
        }
        try agent.setRemoteCredentials(remote.credentials)
        let added = try agent.addRemoteCandidates(remote.candidates)
        guard added > 0 else { throw AiortcSignalling.Failure(description: "the agent took none of \(remote.candidates)") }
        try agent.remoteGatheringDone()
    }

    func close() {
        // The session is closed before the agent it sends on.
        route.withLock { $0.session }?.close(now: EngineClock.process.now)
        agent.close()
        pump?.cancel()
    }

    struct Exchange {
        var recorded: [Int16]
        var statistics: MediaSessionStatistics
        /// Our statistics when the last speech frame was sent: the far side's stream is still
        /// arriving then, so its concealment is the stream's, not the silence after it ends.
        var whileSending: MediaSessionStatistics
    }

    /// Sends `speech` paced in real time (a 20 ms frame per tick) and records what arrives from
    /// the first decoded frame on, for the speech's length plus `tailFrames` (the same loop for
    /// aiortc and GStreamer peers).
    static func exchange(_ session: MediaSession, speech: [Int16], tailFrames: Int) async throws -> Exchange {
        let frame = MediaSession.samplesPerFrame
        let frames = speech.count / frame
        var recorded: [Int16] = []
        var recording = false
        var whileSending = MediaSessionStatistics()
        let clock = ContinuousClock()
        var tick = clock.now
        for i in 0..<(frames + tailFrames) {
            session.handleTimeout(now: EngineClock.process.now)
            if i < frames {
                try session.send(frame: Array(speech[(i * frame)..<((i + 1) * frame)]))
            }
            // Pull 10 ms out of phase with our own send clock, as an independent device would.
            try await clock.sleep(until: tick + .milliseconds(10))
            let pcm = session.pullFrame(now: EngineClock.process.now)
            if !recording {
                let s = session.statistics
                recording = s.decodedFrames + s.fecRecoveredFrames + s.concealedFrames > 0
            }
            if recording { recorded += pcm }
            if i == frames - 1 { whileSending = session.statistics }
            tick += .milliseconds(20)
            try await clock.sleep(until: tick)
        }
        return Exchange(recorded: recorded, statistics: session.statistics, whileSending: whileSending)
    }
}

/// A value behind a `Mutex`, in a class so closures and tasks can share it.
final class AiortcLocked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<R>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
}
