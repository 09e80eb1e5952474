import DriverClock
import EngineTime
import Foundation
import Media
import TLS
@testable import Transport

/// Helpers for in-process loopback calls: test speech, two sessions over two ICE agents, PESQ.
enum CallSupport {
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct ToolFailure: Error, CustomStringConvertible {
        let description: String
    }

    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ToolFailure(description: "\(tool) exited \(process.terminationStatus): \(String(decoding: errors, as: UTF8.self))")
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// A fresh directory for one test's audio; JINGLEKIT_CALL_AUDIO_DIR names one to keep instead.
    static func temporaryDirectory() throws -> URL {
        if let keep = ProcessInfo.processInfo.environment["JINGLEKIT_CALL_AUDIO_DIR"] {
            let dir = URL(fileURLWithPath: keep)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            return dir
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jk-call-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// About nine seconds of synthetic speech at 48 kHz mono 16-bit (espeak-ng, then sox).
    static func removeTemporary(_ dir: URL) {
        guard ProcessInfo.processInfo.environment["JINGLEKIT_CALL_AUDIO_DIR"] == nil else { return }
        try? FileManager.default.removeItem(at: dir)
    }

    static func makeSpeech(in dir: URL) throws -> (url: URL, wav: WAVFile) {
        let raw = dir.appendingPathComponent("espeak.wav")
        let speech = dir.appendingPathComponent("speech.wav")
        try run(
            "espeak-ng",
            [
                "-s", "150", "-w", raw.path,
                "The quick brown fox jumps over the lazy dog. "
                    + "A voice call carries speech in small packets, fifty every second. "
                    + "Each one is encrypted, numbered and timed, then played out on the far side.",
            ])
        try run("sox", ["-D", raw.path, "-r", "48000", "-c", "1", "-b", "16", speech.path]) // -D: no dither, the same speech every run
        let wav = try WAVFile(parsing: Array(try Data(contentsOf: speech)), requireSampleRate: 48_000)
        return (speech, wav)
    }

    /// Wideband PESQ MOS of `degraded` against `reference` via Tools/pesq.
    static func pesq(reference: URL, degraded: URL) throws -> Double {
        let tool = repositoryRoot.appendingPathComponent("Tools/pesq").path
        let output = try run(tool, [reference.path, degraded.path])
        guard let mos = Double(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ToolFailure(description: "Tools/pesq printed \(output)")
        }
        return mos
    }

    struct CallResult {
        var recorded: [Int16]
        var sender: MediaSessionStatistics
        var receiver: MediaSessionStatistics
        /// The receiver when the last frame was sent: its jitter-buffer counters before the
        /// stream's end drains the buffer (the tail is concealed and counts as expand).
        var receiverWhileSending: MediaSessionStatistics
        /// DTMF digits the receiver reported, in order.
        var dtmf: [Character] = []
    }

    struct Peer {
        let agent: ICEAgent
        let session: MediaSession
    }

    /// How a test call is set up. Defaults: the product's defaults, no loss, host candidates.
    struct CallOptions {
        var loss: Double = 0
        var fec = true
        var seed: UInt64 = 7
        var timeStretching = true
        var bitrate = MediaSessionConfiguration.defaultOpusBitrate
        /// The sender's Opus complexity (nil: libopus's default).
        var complexity: Int?
        /// The encoder's loss percentage before RTCP says anything.
        var initialLossPercent = MediaSessionConfiguration.defaultExpectedLossPercent
        /// TURN/STUN servers for both agents, and whether they may use relayed candidates only.
        var servers: [ICEServer] = []
        var relayOnly = false
        /// The receiver's jitter-buffer bounds. A 100 ms floor (the product's is 60 ms): this
        /// machine is shared with builds and other real-time suites, whose scheduling stalls
        /// would otherwise show up as underruns; PESQ does not mind a constant delay.
        var jitterBuffer = AdaptiveJitterBufferSettings(minimumDelay: .milliseconds(100))
        /// Digits the sender queues as RFC 4733 events once the call is up.
        var dtmf: String?
        /// RFC 2198 redundancy agreed (payload type 63) on both sides.
        var red = false
        /// With `loss`: the mean length of a burst (Gilbert-Elliott), or nil for independent loss.
        var lossBurst: Double?
        /// The sender's telephone-event clock rate. 8000: it sends on payload type 126 at 8 kHz
        /// while the receiver sends on 101 at 48 kHz and takes both, as with libwebrtc.
        var telephoneEventClockRate = 48_000
    }

    /// Two agents on 127.0.0.1 and two sessions; `a` is ICE-controlling and DTLS client.
    static func makePeers(_ options: CallOptions = CallOptions(), bFingerprintOverride: String? = nil) throws -> (Peer, Peer) {
        let certA = try DTLSCertificate.generate(commonName: "a")
        let certB = try DTLSCertificate.generate(commonName: "b")
        let agentA = try ICEAgent(
            configuration: ICEConfiguration(
                controlling: true, localAddresses: ["127.0.0.1"],
                servers: options.servers, relayOnly: options.relayOnly))
        let agentB = try ICEAgent(
            configuration: ICEConfiguration(
                controlling: false, localAddresses: ["127.0.0.1"],
                servers: options.servers, relayOnly: options.relayOnly))
        try agentA.setRemoteCredentials(try agentB.localCredentials())
        try agentB.setRemoteCredentials(try agentA.localCredentials())
        var configurationA = MediaSessionConfiguration(
            role: .client, certificate: certA, remoteFingerprint: ("sha-256", certB.fingerprint(.sha256)),
            telephoneEventPayloadType: options.telephoneEventClockRate == 48_000 ? 101 : 126,
            telephoneEventClockRate: options.telephoneEventClockRate, redPayloadType: options.red ? 63 : nil, ssrc: 0x1111_1111,
            cname: "a@loopback", opusBitrate: options.bitrate, opusComplexity: options.complexity, forwardErrorCorrection: options.fec,
            expectedLossPercent: options.initialLossPercent,
            testOnlyOutgoingRTPLoss: options.loss > 0 ? (options.loss, options.seed) : nil)
        configurationA.testOnlyOutgoingLossMeanBurst = options.lossBurst
        let a = try MediaSession(agent: agentA, configuration: configurationA, now: EngineClock.process.now, wallClock: .wallClockNow())
        let b = try MediaSession(
            agent: agentB,
            configuration: MediaSessionConfiguration(
                role: .server, certificate: certB,
                remoteFingerprint: ("sha-256", bFingerprintOverride ?? certA.fingerprint(.sha256)),
                receivedTelephoneEvents: [101: 48_000, 126: 8_000], redPayloadType: options.red ? 63 : nil, ssrc: 0x2222_2222,
                cname: "b@loopback", jitterBuffer: options.jitterBuffer, timeStretching: options.timeStretching),
            now: EngineClock.process.now,
            wallClock: .wallClockNow())
        return (Peer(agent: agentA, session: a), Peer(agent: agentB, session: b))
    }

    /// Forwards `peer`'s ICE events: candidates to the other agent, everything to the session.
    static func pump(_ peer: Peer, to other: ICEAgent) -> Task<Void, Never> {
        Task.detached {
            for await event in peer.agent.events {
                switch event {
                case .localCandidate(let c): _ = try? other.addRemoteCandidates([c])
                case .gatheringDone: try? other.remoteGatheringDone()
                default: break
                }
                peer.session.handle(event, now: EngineClock.process.now)
            }
        }
    }

    /// Waits for the first terminal event (`established` or `failed`) of a session, bounded.
    static func outcome(of session: MediaSession, seconds: Int = 30) async -> MediaSessionEvent? {
        await withTaskGroup(of: MediaSessionEvent?.self) { group in
            group.addTask {
                for await event in session.events {
                    switch event {
                    case .established, .failed: return event
                    case .closed: return nil
                    case .dtmf: continue
                    }
                }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = (await group.next()) ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Drives both sessions' timers every 20 ms while `body` waits (DTLS retransmissions).
    static func driveTimers(_ sessions: [MediaSession]) -> Task<Void, Never> {
        Task.detached {
            let clock = ContinuousClock()
            var tick = clock.now
            while !Task.isCancelled {
                sessions.forEach { $0.handleTimeout(now: EngineClock.process.now) }
                tick += .milliseconds(20)
                try? await clock.sleep(until: tick)
            }
        }
    }

    /// A one-way call: `a` sends `speech` paced in real time, `b` records from its first decoded frame.
    static func call(speech: [Int16], _ options: CallOptions) async throws -> CallResult {
        let (a, b) = try makePeers(options)
        let pumps = [pump(a, to: b.agent), pump(b, to: a.agent)]
        let timers = driveTimers([a.session, b.session])
        defer {
            timers.cancel()
            a.session.close(now: EngineClock.process.now)
            b.session.close(now: EngineClock.process.now)
            a.agent.close()
            b.agent.close()
            pumps.forEach { $0.cancel() }
        }
        async let outcomeA = outcome(of: a.session, seconds: options.servers.isEmpty ? 30 : 60)
        async let outcomeB = outcome(of: b.session, seconds: options.servers.isEmpty ? 30 : 60)
        try a.agent.gather()
        try b.agent.gather()
        let (ea, eb) = await (outcomeA, outcomeB)
        guard case .established = ea, case .established = eb else {
            throw ToolFailure(description: "call not established: a=\(String(describing: ea)) b=\(String(describing: eb))")
        }
        timers.cancel()
        // Ends when `b` closes (its event stream finishes then).
        let digits = Task.detached { () -> [Character] in
            var got: [Character] = []
            for await event in b.session.events {
                if case .dtmf(let c) = event { got.append(c) }
            }
            return got
        }
        if let dtmf = options.dtmf { try a.session.sendDTMF(dtmf) }

        let frame = MediaSession.samplesPerFrame
        let frames = speech.count / frame
        let tail = 40 // 800 ms for the jitter buffer to drain
        var recorded: [Int16] = []
        var recording = false
        var whileSending = MediaSessionStatistics()
        let clock = ContinuousClock()
        var tick = clock.now
        for i in 0..<(frames + tail) {
            a.session.handleTimeout(now: EngineClock.process.now)
            b.session.handleTimeout(now: EngineClock.process.now)
            if i < frames {
                try a.session.send(frame: Array(speech[(i * frame)..<((i + 1) * frame)]))
            }
            // The receiver's 20 ms clock runs 10 ms out of phase with the sender's, as two
            // devices' would, so arrivals do not race the pull.
            try await clock.sleep(until: tick + .milliseconds(10))
            let pcm = b.session.pullFrame(now: EngineClock.process.now)
            if !recording {
                let s = b.session.statistics
                recording = s.decodedFrames + s.fecRecoveredFrames + s.concealedFrames > 0
            }
            if recording { recorded += pcm }
            if i == frames { whileSending = b.session.statistics }
            tick += .milliseconds(20)
            try await clock.sleep(until: tick)
        }
        var result = CallResult(
            recorded: recorded, sender: a.session.statistics, receiver: b.session.statistics,
            receiverWhileSending: whileSending)
        b.session.close(now: EngineClock.process.now)
        result.dtmf = await digits.value
        return result
    }

    /// Runs a call, writes the recording, and scores it.
    static func scoredCall(
        speech: (url: URL, wav: WAVFile), in dir: URL, _ options: CallOptions,
        label: String = "call"
    ) async throws -> (mos: Double, result: CallResult) {
        let result = try await call(speech: speech.wav.samples, options)
        let out = dir.appendingPathComponent(
            "received-\(label)-\(options.bitrate / 1000)k-\(Int(options.loss * 100))-\(options.fec ? "fec" : "nofec")-\(options.timeStretching ? "stretch" : "fixed")\(options.red ? "-red" : "").wav"
        )
        try Data(WAVFile(sampleRate: 48_000, channels: 1, samples: result.recorded).serialized()).write(to: out)
        let mos = try pesq(reference: speech.url, degraded: out)
        return (mos, result)
    }
}

extension NTPTimestamp {
    /// The wall clock, which the tests' drivers hand to a media session (RTT needs the real one
    /// against real peers).
    static func wallClockNow() -> NTPTimestamp {
        NTPTimestamp(sinceUnixEpoch: .nanoseconds(Int64(Date().timeIntervalSince1970 * 1e9)))
    }
}
