import EngineTime
import Media
import Synchronization
import Transport

/// A whole call's media in virtual time: two `MediaSession`s (the DTLS-SRTP handshake of RFC 5764,
/// SRTP, RTP and RTCP with the loss reports that steer FEC and RED, the jitter buffer, Opus) joined
/// by a `NetworkPath` each way, in place of ICE. Each side sends its speech as 20 ms frames from
/// the first tick after its DTLS is up and pulls a frame every 20 ms, 10 ms out of phase with the
/// sending, as two devices would. Nothing waits on a real clock: ten seconds of call take a
/// fraction of a second, and a seed repeats a run exactly.
///
/// DTLS records travel on a lossless twin of each path (same delay), so every run reaches the
/// media; RTP and RTCP take the path's loss, jitter, reordering and duplication.
public enum EmulatedMediaSessionCall {
    /// One side's settings and what it says.
    public struct Side: Sendable {
        public var configuration: MediaSessionConfiguration
        /// 48 kHz mono samples, sent frame by frame (a partial last frame is dropped).
        public var speech: [Int16]

        public init(configuration: MediaSessionConfiguration, speech: [Int16]) {
            self.configuration = configuration
            self.speech = speech
        }
    }

    /// What one side got.
    public struct Received: Sendable {
        /// What it played, from its first pull with anything decoded or concealed on.
        public var played: [Int16]
        public var statistics: MediaSessionStatistics
        /// RTP packets its path carried to it: sent, lost on the way, delivered (duplicates included).
        public var rtpSent = 0
        public var rtpLost = 0
        public var rtpDelivered = 0
    }

    public struct Result: Sendable {
        /// What `a` received from `b`, and the other way.
        public var a: Received
        public var b: Received
        /// When both sides had their SRTP keys, from the start.
        public var established: Duration?
    }

    /// Runs the call until both have sent all their speech and `tail` has passed.
    /// - Parameters:
    ///   - a, b: the two sides; their DTLS roles must differ and each must expect the other's fingerprint.
    ///   - path: each direction's network (b's way back uses the seed + 1).
    public static func run(
        _ a: Side, _ b: Side, path: NetworkPath<[UInt8]>.Configuration,
        tail: Duration = .seconds(1)
    ) throws(MediaSessionError) -> Result {
        let start = EngineInstant.zero
        let wall = NTPTimestamp(seconds: 3_900_000_000, fraction: 0)
        var ends = [End(a, path: path, seed: path.seed), End(b, path: path, seed: path.seed &+ 1)]
        var sessions: [MediaSession] = []
        for end in ends {
            sessions.append(try MediaSession(agent: end.component, configuration: end.side.configuration, now: start, wallClock: wall))
        }
        var t: Duration = .zero
        var established: Duration?
        // As if ICE had just selected a pair on both sides: the DTLS client speaks first.
        for i in 0..<2 {
            sessions[i].handle(.stateChanged(.connected), now: start)
            ends[1 - i].carry(ends[i].component.take(), at: t)
        }
        var nextTick: Duration = .zero
        var nextPull: Duration = .milliseconds(10)
        var finish: Duration?
        while true {
            let arrivals = ends.compactMap { $0.nextArrival }
            let now = ([nextTick, nextPull] + arrivals).min()!
            if let finish, now > finish { break }
            t = now
            let instant = start + t
            if let i = ends.firstIndex(where: { $0.nextArrival == now }) {
                for datagram in ends[i].arrive(at: t) {
                    datagram.withUnsafeBytes { sessions[i].receive(datagram: $0, now: instant) }
                }
                ends[1 - i].carry(ends[i].component.take(), at: t)
                continue
            }
            if nextTick == now {
                for i in 0..<2 {
                    sessions[i].handleTimeout(now: instant)
                    if sessions[i].statistics.srtpProfile != nil { try ends[i].sendNextFrame(on: sessions[i]) }
                    ends[1 - i].carry(ends[i].component.take(), at: t)
                }
                if established == nil, sessions.allSatisfy({ $0.statistics.srtpProfile != nil }) { established = t }
                if finish == nil, ends.allSatisfy(\.sentEverything) { finish = t + tail }
                nextTick += .milliseconds(20)
                continue
            }
            for i in 0..<2 where sessions[i].statistics.srtpProfile != nil {
                ends[i].record(sessions[i].pullFrame(now: instant), sessions[i].statistics)
            }
            nextPull += .milliseconds(20)
            if established == nil, t > .seconds(70) { break } // DTLS gave up (60 s of retransmissions)
        }
        for i in 0..<2 {
            sessions[i].close(now: start + t)
            ends[i].received.statistics = sessions[i].statistics
        }
        return Result(a: ends[0].received, b: ends[1].received, established: established)
    }

    /// One side: its session's component, the path towards it, and what it has sent and played.
    private struct End {
        let side: Side
        let component = EmulatedComponent()
        /// Carries datagrams *to* this side.
        var media: NetworkPath<[UInt8]>
        var handshake: NetworkPath<[UInt8]>
        var received = Received(played: [], statistics: MediaSessionStatistics())
        var framesSent = 0
        var recording = false

        init(_ side: Side, path: NetworkPath<[UInt8]>.Configuration, seed: UInt64) {
            self.side = side
            var configuration = path
            configuration.seed = seed
            media = NetworkPath(configuration)
            handshake = NetworkPath(.init(delay: path.delay, seed: seed))
        }

        var nextArrival: Duration? { [media.nextArrival, handshake.nextArrival].compactMap { $0 }.min() }
        var sentEverything: Bool { framesSent >= side.speech.count / MediaSession.samplesPerFrame }

        /// Puts what the other side sent onto the path to this side.
        mutating func carry(_ datagrams: [[UInt8]], at t: Duration) {
            for datagram in datagrams {
                let kind = DatagramKind(classifying: datagram)
                if kind == .dtls {
                    handshake.send(datagram, at: t)
                    continue
                }
                let isRTP = kind == .rtp
                let lostBefore = media.statistics.lost
                media.send(datagram, at: t)
                if isRTP {
                    received.rtpSent += 1
                    received.rtpLost += media.statistics.lost - lostBefore
                }
            }
        }

        /// What reaches this side at `t`.
        mutating func arrive(at t: Duration) -> [[UInt8]] {
            let out = (handshake.receive(at: t) + media.receive(at: t)).map(\.packet)
            received.rtpDelivered += out.filter { DatagramKind(classifying: $0) == .rtp }.count
            return out
        }

        mutating func sendNextFrame(on session: MediaSession) throws(MediaSessionError) {
            let frame = MediaSession.samplesPerFrame
            guard (framesSent + 1) * frame <= side.speech.count else { return }
            try session.send(frame: Array(side.speech[(framesSent * frame)..<((framesSent + 1) * frame)]))
            framesSent += 1
        }

        mutating func record(_ pcm: [Int16], _ statistics: MediaSessionStatistics) {
            if !recording {
                recording = statistics.decodedFrames + statistics.fecRecoveredFrames + statistics.concealedFrames > 0
            }
            if recording { received.played += pcm }
        }
    }
}

/// The ICE component of one emulated side: keeps what the session sends until the call's loop
/// puts it on the path.
final class EmulatedComponent: ICEComponentSender {
    private let outbox = Mutex<[[UInt8]]>([])

    func send(_ datagram: [UInt8]) throws(ICEError) {
        outbox.withLock { $0.append(datagram) }
    }

    func take() -> [[UInt8]] {
        outbox.withLock { out in
            defer { out = [] }
            return out
        }
    }
}
