import Foundation
import Media
import Synchronization
import EngineTime
import TLS

/// What a `MediaSession` reports to its owner.
public enum MediaSessionEvent: Sendable, Equatable {
    /// DTLS finished and SRTP keys are installed (RFC 5764 §4.2): media can flow.
    case established(SRTPProfile)
    /// The session failed; nothing more will flow.
    case failed(MediaSessionError)
    case closed
    /// The peer sent a DTMF digit as an RFC 4733 telephone event (reported once per event, when
    /// its first packet arrives).
    case dtmf(Character)
}

/// One Opus audio stream (RFC 7587) over one ICE component with RTP/RTCP multiplexing (RFC 5761),
/// secured by DTLS-SRTP (RFC 5764, fingerprint checked per RFC 5763 §5). Datagrams received on the
/// component are demultiplexed by first byte (RFC 7983). RTCP SR/RR with SDES every
/// `rtcpInterval` (RFC 3550 §6.4). The loss the peer reports about our stream steers the Opus
/// encoder's in-band FEC (`ExpectedLossEstimator`). DTMF goes out and comes in as RFC 4733
/// telephone events on the negotiated payload type.
///
/// Sans-IO in time: it reads no clock. Every input carries `now` (a monotonic instant; the NTP
/// timestamps of RTCP are the wall clock read once at `init` plus the time since), so the same
/// session runs in real time under a driver or in virtual time through a network emulator. It
/// sends on an `ICEComponentSender` (the libnice `ICEAgent` in calls).
///
/// The owner forwards every `ICEEvent` of the agent to `handle(_:now:)`, calls
/// `handleTimeout(now:)` at `nextDeadline` (or every 20 ms tick), hands 20 ms PCM frames (48 kHz
/// mono Int16, 960 samples) to `send(frame:)`, and pulls received audio every 20 ms with
/// `pullFrame(now:)`. All methods are safe to call from any thread.
public final class MediaSession: @unchecked Sendable {
    public static let sampleRate = 48_000
    public static let samplesPerFrame = 960

    public let configuration: MediaSessionConfiguration
    /// `established`, then any `dtmf` digits received, then `failed` or `closed`.
    public let events: AsyncStream<MediaSessionEvent>

    private let agent: any ICEComponentSender
    private let lock = Mutex(())
    private let continuation: AsyncStream<MediaSessionEvent>.Continuation
    private let started: EngineInstant
    /// The wall clock at `started`, for RTCP's NTP timestamps (RFC 3550 §6.4.1).
    private let wallClockAtStart: NTPTimestamp

    // Everything below is guarded by `lock`.
    private enum Phase { case waitingForICE, handshaking, established, failed, closed }
    private var phase: Phase = .waitingForICE
    /// DTLS records ICE refused to send because it had no pair yet (a peer's ClientHello that
    /// arrived before our connectivity checks finished): sent as soon as ICE has a pair, so the
    /// handshake does not wait for the next retransmission timer (RFC 6347 §4.2.4.1, 1 s).
    private var heldDTLS: [[UInt8]] = []
    private static let heldDTLSLimit = 32
    private let dtls: DTLSConnection
    private var srtp: SRTPSession?
    private let encoder: OpusEncoder
    private let playout: AudioPlayout
    /// TEST ONLY: the seeded model that drops outgoing RTP (`testOnlyOutgoingRTPLoss`).
    private var lossStage: (any PacketLossModel)?
    private var sequenceNumber = UInt16.random(in: 0...UInt16.max)
    private var timestamp = UInt32.random(in: 0...UInt32.max)
    private var packetsSentTotal: UInt32 = 0
    private var payloadOctetsSent: UInt32 = 0
    private var sentSinceLastReport = false
    private var receiver: RTPReceiverStatistics?
    private var nextRTCP: EngineInstant?
    private var stats = MediaSessionStatistics()
    private var lossEstimator: ExpectedLossEstimator
    private var dtmfOut: TelephoneEventQueue
    private var dtmfIn = TelephoneEventReceiver()
    private var redundancy: RedundancyController
    private var redEncoder = RedundantAudioEncoder(distance: 0)
    /// RFC 2198 recovery, when RED was agreed.
    private var recovery: RedundancyRecovery?

    /// - Parameters:
    ///   - agent: a one-component agent; the session sends on it but does not consume its
    ///     `events` (the owner forwards them to `handle(_:now:)`).
    ///   - now: the session's start, on the clock every later `now` comes from.
    ///   - wallClock: the wall clock at `now` (RTCP's NTP timestamps count on from it).
    public init(
        agent: any ICEComponentSender, configuration: MediaSessionConfiguration, now: EngineInstant,
        wallClock: NTPTimestamp
    ) throws(MediaSessionError) {
        self.agent = agent
        self.configuration = configuration
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        started = now
        wallClockAtStart = wallClock
        lossEstimator = ExpectedLossEstimator(initialPercent: configuration.expectedLossPercent)
        redundancy = configuration.redundancy
        recovery = configuration.redPayloadType.map {
            RedundancyRecovery(configuration: .init(redPayloadType: $0, opusPayloadType: configuration.payloadType))
        }
        do {
            dtmfOut = try TelephoneEventQueue(
                packetSamples: Self.samplesPerFrame,
                eventClockRate: configuration.telephoneEventClockRate,
                audioClockRate: Self.sampleRate)
        } catch {
            throw .codec("\(error)")
        }
        do {
            dtls = try DTLSConnection(
                role: configuration.role, certificate: configuration.certificate,
                expectedPeerFingerprint: configuration.remoteFingerprint)
        } catch {
            throw MediaSessionError(error)
        }
        do {
            encoder = try OpusEncoder(sampleRate: Self.sampleRate, channels: 1, application: .voip)
            try encoder.setBitrate(configuration.opusBitrate)
            try encoder.setInbandFEC(
                configuration.forwardErrorCorrection,
                expectedPacketLossPercent: configuration.forwardErrorCorrection ? lossEstimator.percent : 0)
            try encoder.setDTX(configuration.discontinuousTransmission)
            try encoder.setVoiceSignal()
            if let complexity = configuration.opusComplexity { try encoder.setComplexity(complexity) }
            let jb = AdaptiveJitterBuffer.Configuration(
                clockRate: Self.sampleRate, samplesPerFrame: Self.samplesPerFrame,
                minimumDelay: configuration.jitterBuffer.minimumDelay, maximumDelay: configuration.jitterBuffer.maximumDelay)
            playout = try AudioPlayout(configuration: jb, timeStretching: configuration.timeStretching)
        } catch {
            throw .codec("\(error)")
        }
        if let loss = configuration.testOnlyOutgoingRTPLoss {
            let share = min(max(loss.fraction, 0), 1)
            if let burst = configuration.testOnlyOutgoingLossMeanBurst {
                lossStage = GilbertElliottLoss(averageLoss: share, meanBurstLength: burst, seed: loss.seed)
            } else {
                lossStage = BernoulliLoss(lossRate: share, seed: loss.seed)
            }
        }
        stats.encoderExpectedLossPercent = configuration.forwardErrorCorrection ? lossEstimator.percent : 0
        stats.opusBitrate = configuration.opusBitrate
        stats.redAgreed = configuration.redPayloadType != nil
    }

    // MARK: - Driving

    /// Feeds one event of the agent: ICE state starts DTLS once connected, datagrams are
    /// demultiplexed (RFC 7983), the selected pair is recorded. Candidate events are ignored here.
    public func handle(_ event: ICEEvent, now: EngineInstant) {
        var outgoing: [[UInt8]] = []
        var notices: [MediaSessionEvent] = []
        lock.withLock { _ in
            switch event {
            case .stateChanged(let state):
                switch state {
                case .connected, .ready:
                    if phase == .waitingForICE {
                        phase = .handshaking
                        outgoing += countedDTLS(dtls.start(now: now))
                        checkDTLSFailure(&notices, &outgoing)
                    }
                    outgoing += takeHeldDTLS()
                case .failed:
                    if phase != .closed && phase != .failed {
                        fail(.transportFailed("ICE failed"), &notices)
                    }
                default: break
                }
            case .selectedPair(let local, let remote):
                stats.selectedPair = "\(local.address):\(local.port) -> \(remote.address):\(remote.port)"
                stats.selectedLocalCandidateKind = local.kind
                stats.selectedRemoteCandidateKind = remote.kind
                outgoing += takeHeldDTLS()
            case .datagram(let bytes):
                bytes.withUnsafeBytes { receiveDatagram($0, now: now, &outgoing, &notices) }
            case .localCandidate, .gatheringDone:
                break
            }
        }
        transmit(outgoing)
        notices.forEach { continuation.yield($0) }
    }

    /// Feeds one datagram received on the component, on whatever thread read it (for example
    /// straight from `ICEAgent.deliverDatagrams(to:)`): demultiplexed by first byte (RFC 7983),
    /// DTLS to the handshake, SRTP/SRTCP unprotected into the jitter buffer and statistics.
    /// The same as `handle(.datagram(...), now:)` without copying the bytes first.
    public func receive(datagram: UnsafeRawBufferPointer, now: EngineInstant) {
        var outgoing: [[UInt8]] = []
        var notices: [MediaSessionEvent] = []
        lock.withLock { _ in receiveDatagram(datagram, now: now, &outgoing, &notices) }
        if !outgoing.isEmpty { transmit(outgoing) }
        for notice in notices { continuation.yield(notice) }
    }

    /// When `handleTimeout(now:)` next has work (a DTLS retransmission or an RTCP report).
    public var nextDeadline: EngineInstant? {
        lock.withLock { _ in
            [dtls.nextDeadline, nextRTCP].compactMap { $0 }.min()
        }
    }

    /// Runs what is due: DTLS retransmissions (RFC 6347 §4.2.4) and RTCP reports.
    public func handleTimeout(now: EngineInstant) {
        var outgoing: [[UInt8]] = []
        var notices: [MediaSessionEvent] = []
        lock.withLock { _ in
            if phase == .handshaking || phase == .established {
                outgoing += countedDTLS(dtls.handleTimeout(now: now))
                if phase == .handshaking { checkDTLSFailure(&notices, &outgoing) }
            }
            if phase == .established, let due = nextRTCP, now >= due {
                if let report = makeRTCP(now: now) { outgoing.append(report) }
                nextRTCP = now + configuration.rtcpInterval
            }
        }
        transmit(outgoing)
        notices.forEach { continuation.yield($0) }
    }

    /// Encodes one 20 ms frame (960 samples, 48 kHz mono) and sends it as SRTP. While a queued
    /// DTMF event is being sent, the frame is still encoded (the encoder's state stays continuous)
    /// but the event's packets go out in its place (`TelephoneEventQueue`).
    public func send(frame: [Int16]) throws(MediaSessionError) {
        guard frame.count == Self.samplesPerFrame else {
            throw .invalidFrame(samples: frame.count, expected: Self.samplesPerFrame)
        }
        try send(encoding: frame, packet: nil)
    }

    /// Sends an already-encoded 20 ms Opus packet (RFC 6716; 960 samples at 48 kHz, mono or
    /// stereo, e.g. from an Ogg Opus file) as SRTP, unchanged: no encoder time. Takes the place
    /// of one `send(frame:)` (same RTP clock and DTMF handling); the two can be mixed.
    public func send(opusPacket: [UInt8]) throws(MediaSessionError) {
        let samples = (try? OpusPacketInfo(parsing: opusPacket))?.totalSamples ?? 0
        guard samples == Self.samplesPerFrame else {
            throw .invalidFrame(samples: samples, expected: Self.samplesPerFrame)
        }
        try send(encoding: nil, packet: opusPacket)
    }

    private func send(encoding frame: [Int16]?, packet: [UInt8]?) throws(MediaSessionError) {
        let datagrams = try lock.withLock { _ throws(MediaSessionError) -> [[UInt8]] in
            switch phase {
            case .established: break
            case .closed: throw .closed
            case .waitingForICE, .handshaking, .failed: throw .notEstablished
            }
            guard let srtp else { throw .notEstablished }
            let payload: [UInt8]
            if let packet {
                payload = packet
                stats.opusPacketsPassedThrough += 1
            } else {
                do { payload = try encoder.encode(frame ?? []) } catch { throw .codec("\(error)") }
                stats.framesEncoded += 1
            }
            var packets: [RTPPacket] = []
            switch dtmfOut.nextSlot(timestamp: timestamp) {
            case .audio:
                // RFC 2198: with redundancy on, the packet also repeats the frames before it.
                var payloadType = configuration.payloadType
                var bytes = payload
                if let red = configuration.redPayloadType, redEncoder.distance > 0 {
                    payloadType = red
                    bytes = redEncoder.encode(
                        payloadType: configuration.payloadType, timestamp: timestamp,
                        payload: payload
                    ).serialized()
                }
                packets.append(
                    RTPPacket(
                        marker: packetsSentTotal == 0, payloadType: payloadType,
                        sequenceNumber: sequenceNumber, timestamp: timestamp,
                        ssrc: configuration.ssrc, payload: bytes))
            case .events(let events):
                let pt = configuration.telephoneEventPayloadType ?? configuration.payloadType
                for event in events {
                    packets.append(
                        RTPPacket(
                            marker: event.marker, payloadType: pt,
                            sequenceNumber: sequenceNumber &+ UInt16(truncatingIfNeeded: packets.count),
                            timestamp: event.timestamp, ssrc: configuration.ssrc,
                            payload: event.event.serialized()))
                }
                stats.telephoneEventPacketsSent += events.count
            }
            timestamp &+= UInt32(Self.samplesPerFrame)
            var out: [[UInt8]] = []
            for packet in packets {
                sequenceNumber &+= 1
                packetsSentTotal &+= 1
                payloadOctetsSent &+= UInt32(truncatingIfNeeded: packet.payload.count)
                sentSinceLastReport = true
                if lossStage?.nextPacketLost() == true {
                    stats.packetsDroppedByLossStage += 1
                    continue
                }
                let protected: [UInt8]
                do throws(SRTPError) { protected = try srtp.protect(packet.serialized()) } catch { throw .srtp(error) }
                stats.packetsSent += 1
                stats.bytesSent += protected.count
                out.append(protected)
            }
            return out
        }
        transmit(datagrams)
    }

    /// Queues DTMF digits (0-9, *, #, A-D; a-d are accepted as A-D) to send as RFC 4733
    /// telephone events: each about 100 ms, then 100 ms of audio before the next. They ride the
    /// send path, so they go out only while the owner keeps calling `send(frame:)`. Checks
    /// every digit before queueing any.
    public func sendDTMF(_ digits: String) throws(MediaSessionError) {
        var events: [UInt8] = []
        for c in digits {
            guard let code = TelephoneEvent.dtmf(c) else { throw .invalidDTMFDigit(c) }
            events.append(code)
        }
        try lock.withLock { _ throws(MediaSessionError) in
            guard configuration.telephoneEventPayloadType != nil else { throw .telephoneEventNotNegotiated }
            switch phase {
            case .closed: throw .closed
            case .failed: throw .notEstablished
            case .waitingForICE, .handshaking, .established: break
            }
            dtmfOut.enqueue(events)
        }
    }

    /// One 20 ms frame of received audio (silence until the first packet arrives).
    public func pullFrame(now: EngineInstant) -> [Int16] {
        lock.withLock { _ in playout.pull(at: now) }
    }

    /// Sends RTCP BYE and DTLS close_notify; media stops.
    public func close(now: EngineInstant) {
        var outgoing: [[UInt8]] = []
        let wasOpen: Bool = lock.withLock { _ in
            guard phase != .closed else { return false }
            if phase == .established, let srtp {
                var packets: [RTCPPacket] = [reportPacket(now: now)]
                packets.append(.bye(RTCPBye(sources: [configuration.ssrc])))
                if let bye = try? srtp.protectRTCP(RTCPCompound.serialize(packets)) { outgoing.append(bye) }
            }
            outgoing += dtls.close()
            phase = .closed
            return true
        }
        guard wasOpen else { return }
        transmit(outgoing)
        continuation.yield(.closed)
        continuation.finish()
    }

    public var statistics: MediaSessionStatistics {
        lock.withLock { _ in
            var s = stats
            let p = playout.jitterBuffer.statistics
            s.decodedFrames = p.decodedFrames
            s.concealedFrames = p.concealedFrames
            s.fecRecoveredFrames = p.fecRecoveredFrames
            s.redRecoveredFrames = recovery?.statistics.recoveredFrames ?? 0
            s.redPacketsReceived = recovery?.statistics.redPackets ?? 0
            s.silenceFrames = p.silenceFrames
            s.acceleratedFrames = p.acceleratedFrames
            s.expandedFrames = p.expandedFrames
            s.jitterBufferDelay = p.currentDelay
            if let receiver {
                s.packetsLost = Int(receiver.cumulativeLost)
                s.jitter = .nanoseconds(Int64(receiver.jitter * 1e9 / Double(Self.sampleRate)))
            }
            return s
        }
    }

    // MARK: - Internals (called with `lock` held)

    private func receiveDatagram(
        _ bytes: UnsafeRawBufferPointer, now: EngineInstant,
        _ outgoing: inout [[UInt8]], _ notices: inout [MediaSessionEvent]
    ) {
        switch DatagramKind(classifying: bytes) {
        case .dtls:
            guard phase == .handshaking || phase == .established || phase == .waitingForICE else { return }
            stats.dtlsDatagramsReceived += 1
            if phase == .waitingForICE {
                // The peer's ICE finished first: its ClientHello may beat our own state change.
                phase = .handshaking
                outgoing += countedDTLS(dtls.start(now: now))
            }
            do {
                let output = try dtls.receive(datagram: Array(bytes), now: now)
                outgoing += countedDTLS(output.datagrams)
                if let keys = output.handshakeCompleted { install(keys, now: now, &notices) }
            } catch {
                outgoing += countedDTLS(dtls.takePendingDatagrams())
                if phase == .handshaking { fail(MediaSessionError(error), &notices) }
            }
        case .rtp:
            guard phase == .established, let srtp else { return }
            guard let plain = try? srtp.unprotect(bytes), let packet = try? RTPPacket(parsing: plain) else {
                stats.packetsRejected += 1
                return
            }
            let eventClockRate = configuration.receivedTelephoneEvents[packet.payloadType]
            let isRed = configuration.redPayloadType.map { $0 == packet.payloadType } ?? false
            guard packet.payloadType == configuration.payloadType || isRed || eventClockRate != nil else { return }
            stats.packetsReceived += 1
            stats.bytesReceived += bytes.count
            if receiver?.ssrc != packet.ssrc {
                receiver = RTPReceiverStatistics(ssrc: packet.ssrc, clockRate: Self.sampleRate)
                dtmfIn = TelephoneEventReceiver()
            }
            // Telephone events are part of the audio stream (same SSRC, sequence numbers and
            // clock; RFC 4733), so they count for loss and jitter, but they are not audio for
            // the jitter buffer.
            receiver?.receive(sequenceNumber: packet.sequenceNumber, timestamp: packet.timestamp, at: now)
            if let eventClockRate {
                receiveTelephoneEvent(packet, clockRate: eventClockRate, &notices)
            } else {
                // Plain Opus passes through; a RED packet gives its primary and whatever frames
                // its redundancy restores, before the jitter buffer would conceal them.
                if let outputs = recovery?.process(packet) {
                    playout.setRedundancyDistance(recovery?.receivedDistance ?? 0)
                    for output in outputs { playout.insert(output.packet, at: now) }
                } else {
                    playout.insert(packet, at: now)
                }
            }
        case .rtcp:
            guard phase == .established, let srtp else { return }
            guard let plain = try? srtp.unprotectRTCP(bytes),
                let packets = try? RTCPCompound.parse(plain)
            else {
                stats.packetsRejected += 1
                return
            }
            stats.rtcpReceived += 1
            let arrival = wallClock(at: now)
            for packet in packets {
                switch packet {
                case .senderReport(let sr):
                    if receiver?.ssrc == sr.ssrc { receiver?.receiveSenderReport(sr.ntpTimestamp, at: now) }
                    absorb(sr.reportBlocks, arrival: arrival)
                case .receiverReport(let rr):
                    absorb(rr.reportBlocks, arrival: arrival)
                default: break
                }
            }
        case .stun, .zrtp, .turnChannel, .unknown:
            break // libnice consumes STUN itself; nothing else belongs on this component.
        }
    }

    private func receiveTelephoneEvent(_ packet: RTPPacket, clockRate: Int, _ notices: inout [MediaSessionEvent]) {
        guard let event = try? TelephoneEvent(parsing: packet.payload) else {
            stats.telephoneEventPacketsMalformed += 1
            return
        }
        stats.telephoneEventPacketsReceived += 1
        // The duration counts in the event payload type's clock; the playout's is the audio's.
        playout.noteNoAudio(
            from: packet.timestamp,
            duration: Int(event.duration) * Self.sampleRate / max(1, clockRate))
        for note in dtmfIn.receive(timestamp: packet.timestamp, payload: event) {
            if case .began(let code, _) = note, let digit = TelephoneEvent.dtmfDigit(code) {
                stats.dtmfDigitsReceived += 1
                notices.append(.dtmf(digit))
            }
        }
    }

    /// Sets the RED distance and the Opus bit rate of a redundancy level.
    private func applyRedundancy(_ level: RedundancyController.Level) {
        if level.distance == 0 { redEncoder.reset() }
        redEncoder.distance = level.distance
        if (try? encoder.setBitrate(level.opusBitrate)) != nil { stats.opusBitrate = level.opusBitrate }
        stats.redDistance = level.distance
    }

    private func absorb(_ blocks: [RTCPReportBlock], arrival: NTPTimestamp) {
        for block in blocks where block.ssrc == configuration.ssrc {
            // The peer's view of our stream steers FEC strength (RFC 6716 §2.1.7) and, where
            // RED was agreed, how many earlier frames each packet repeats (RFC 2198).
            let changed = lossEstimator.report(fractionLost: block.fractionLost)
            if configuration.forwardErrorCorrection, let percent = changed {
                if (try? encoder.setExpectedPacketLoss(percent: percent)) != nil {
                    stats.encoderExpectedLossPercent = percent
                }
            }
            if configuration.redPayloadType != nil,
                let level = redundancy.update(lossPercent: Double(block.fractionLost) * 100 / 256)
            {
                applyRedundancy(level)
            }
            stats.remoteFractionLost = Double(block.fractionLost) / 256
            stats.remotePacketsLost = Int(block.cumulativeLost)
            stats.remoteJitter = .nanoseconds(Int64(block.jitter) * 1_000_000_000 / Int64(Self.sampleRate))
            if let rtt = rtcpRoundTripTime(block: block, arrival: arrival) { stats.roundTripTime = rtt }
        }
    }

    private func install(_ keys: SRTPKeyingMaterial, now: EngineInstant, _ notices: inout [MediaSessionEvent]) {
        guard let profile = SRTPProfile(dtlsProtectionProfileID: keys.profile.identifier) else {
            fail(.unsupportedSRTPProfile(keys.profile.identifier), &notices)
            return
        }
        do {
            srtp = try SRTPSession(
                profile: profile, localKey: keys.localKey, localSalt: keys.localSalt,
                remoteKey: keys.remoteKey, remoteSalt: keys.remoteSalt)
        } catch {
            fail(.srtp(error), &notices)
            return
        }
        phase = .established
        stats.srtpProfile = profile
        stats.dtlsHandshakeDuration = now - started
        nextRTCP = now + configuration.rtcpInterval
        notices.append(.established(profile))
    }

    /// Counts DTLS records on their way out (with `lock` held) and passes them through.
    private func countedDTLS(_ datagrams: [[UInt8]]) -> [[UInt8]] {
        stats.dtlsDatagramsSent += datagrams.count
        return datagrams
    }

    private func checkDTLSFailure(_ notices: inout [MediaSessionEvent], _ outgoing: inout [[UInt8]]) {
        if dtls.state == .failed, let failure = dtls.failure {
            outgoing += countedDTLS(dtls.takePendingDatagrams())
            fail(MediaSessionError(failure), &notices)
        }
    }

    private func fail(_ error: MediaSessionError, _ notices: inout [MediaSessionEvent]) {
        guard phase != .failed && phase != .closed else { return }
        phase = .failed
        srtp = nil
        notices.append(.failed(error))
    }

    private func reportPacket(now: EngineInstant) -> RTCPPacket {
        var blocks: [RTCPReportBlock] = []
        if var r = receiver, r.sequence.received > 0 {
            let block = r.makeReportBlock(at: now)
            receiver = r
            stats.fractionLost = Double(block.fractionLost) / 256
            blocks.append(block)
        }
        if sentSinceLastReport {
            sentSinceLastReport = false
            return .senderReport(
                RTCPSenderReport(
                    ssrc: configuration.ssrc, ntpTimestamp: wallClock(at: now), rtpTimestamp: timestamp,
                    packetCount: packetsSentTotal, octetCount: payloadOctetsSent, reportBlocks: blocks))
        }
        return .receiverReport(RTCPReceiverReport(ssrc: configuration.ssrc, reportBlocks: blocks))
    }

    private func makeRTCP(now: EngineInstant) -> [UInt8]? {
        guard let srtp else { return nil }
        let compound = RTCPCompound.serialize([
            reportPacket(now: now),
            .sourceDescription(
                RTCPSourceDescription(chunks: [
                    .init(source: configuration.ssrc, items: [.cname(configuration.cname)])
                ])),
        ])
        guard let protected = try? srtp.protectRTCP(compound) else { return nil }
        stats.rtcpSent += 1
        return protected
    }

    /// The wall clock at `now`: the one read at the start, moved on by the monotonic time since.
    private func wallClock(at now: EngineInstant) -> NTPTimestamp {
        wallClockAtStart.advanced(by: now - started)
    }

    // MARK: - Sending (without the lock)

    /// Hands datagrams to ICE; counts the ones it refuses (taking the lock only then).
    /// DTLS records refused before ICE had a pair are kept (bounded) and sent once it has one.
    private func transmit(_ datagrams: [[UInt8]]) {
        var failed = 0
        var refusedDTLS: [[UInt8]] = []
        for datagram in datagrams where !datagram.isEmpty {
            do { try agent.send(datagram) } catch {
                failed += 1
                let isDTLS = datagram.withUnsafeBytes { DatagramKind(classifying: $0) == .dtls }
                if isDTLS { refusedDTLS.append(datagram) }
            }
        }
        guard failed > 0 else { return }
        lock.withLock { _ in
            stats.sendFailures += failed
            guard phase == .handshaking || phase == .waitingForICE else { return }
            heldDTLS.append(contentsOf: refusedDTLS)
            if heldDTLS.count > Self.heldDTLSLimit { heldDTLS.removeFirst(heldDTLS.count - Self.heldDTLSLimit) }
        }
    }

    /// The held DTLS records, to send now that ICE has a pair (called with `lock` held).
    private func takeHeldDTLS() -> [[UInt8]] {
        guard phase == .handshaking, !heldDTLS.isEmpty else { return [] }
        defer { heldDTLS = [] }
        return heldDTLS
    }
}
