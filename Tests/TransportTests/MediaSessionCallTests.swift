import DriverClock
import EngineTime
import Foundation
import Testing
import TLS
@testable import Transport

/// In-process loopback calls: two `MediaSession`s over two `ICEAgent`s on 127.0.0.1, speech sent
/// one way, recorded on the other side and scored with wideband PESQ (Tools/pesq).
@Suite(.serialized) struct MediaSessionCallTests {
    @Test func cleanLoopbackCallScoresAtLeast3_8() async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        #expect(speech.wav.samples.count >= 48_000 * 6, "test speech is \(speech.wav.samples.count) samples")

        let (mos, result) = try await CallSupport.scoredCall(speech: speech, in: dir, .init(), label: "clean")
        let s = result.sender, r = result.receiver
        print("MOS clean: \(mos); sender \(s); receiver \(r)")
        #expect(mos >= 3.8)
        let frames = speech.wav.samples.count / MediaSession.samplesPerFrame
        #expect(s.packetsSent == frames)
        #expect(r.packetsReceived == frames)
        #expect(r.packetsLost == 0)
        #expect(s.srtpProfile == r.srtpProfile && s.srtpProfile != nil)
        #expect(s.dtlsHandshakeDuration != nil)
        #expect(s.selectedPair?.hasPrefix("127.0.0.1:") == true)
        #expect(s.rtcpSent >= 3 && r.rtcpSent >= 3)
        #expect(s.roundTripTime != nil, "the receiver's RR carries LSR/DLSR for the sender's SR")
        #expect(r.decodedFrames >= frames - 2)
        #expect(s.bytesSent > 0 && r.bytesReceived == s.bytesSent)
        // FEC started at the default expected loss and relaxed as clean RTCP reports came back.
        #expect(s.encoderExpectedLossPercent < MediaSessionConfiguration.defaultExpectedLossPercent)
        // How often the jitter buffer stretched depends on this machine's scheduling, so it is
        // reported, not asserted (JitterBufferPolicyTests checks the policy on a virtual clock).
        let w = result.receiverWhileSending
        print("STRETCH clean: accelerate \(w.acceleratedFrames) expand \(w.expandedFrames) in \(frames) frames")
    }

    /// Complexity 5 costs about two thirds of the default's CPU per call but scores lower (3.6-3.7
    /// here against 3.96-4.06 at libopus's default 9; BENCHMARKS.md): still clear speech.
    @Test func cleanCallAtOpusComplexity5ScoresAtLeast3_3() async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        var options = CallSupport.CallOptions()
        options.complexity = 5
        let (mos, result) = try await CallSupport.scoredCall(speech: speech, in: dir, options, label: "complexity 5")
        print("MOS clean, Opus complexity 5: \(mos); receiver \(result.receiver)")
        #expect(mos >= 3.3)
        #expect(result.receiver.packetsLost == 0)
    }

    @Test func tenPercentLossWithFECAtTheDefaultBitrateScoresAtLeast3_0() async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        // The product defaults: 48 kb/s, FEC steered by RTCP loss reports, NetEq-like jitter buffer.
        let (mos, result) = try await CallSupport.scoredCall(speech: speech, in: dir, .init(loss: 0.10), label: "loss")
        let s = result.sender, r = result.receiver
        print("MOS 10% loss, FEC: \(mos); sender \(s); receiver \(r)")
        #expect(mos >= 3.0)
        let frames = speech.wav.samples.count / MediaSession.samplesPerFrame
        #expect(s.packetsDroppedByLossStage > frames / 20 && s.packetsDroppedByLossStage < frames / 5)
        #expect(s.packetsSent + s.packetsDroppedByLossStage == frames)
        #expect(r.packetsReceived == s.packetsSent)
        #expect(r.packetsLost > 0)
        #expect(s.remotePacketsLost > 0, "the receiver's RTCP reports the loss back")
        #expect(r.fecRecoveredFrames > 0)
        // The encoder followed the receiver's RTCP reports (about 10% lost).
        #expect((5...25).contains(s.encoderExpectedLossPercent), "encoder expects \(s.encoderExpectedLossPercent)%")
        let w = result.receiverWhileSending
        print("STRETCH 10% loss: accelerate \(w.acceleratedFrames) expand \(w.expandedFrames) in \(frames) frames")
    }

    /// RFC 2198 over real libnice and SRTP: at 10 % loss the receiver's RTCP reports turn the
    /// sender's redundancy on (one or three frames before in every packet, by the smoothed
    /// loss; Opus still at 48 kbit/s), and
    /// lost frames come back from the packets after them before the decoder would conceal them.
    @Test func tenPercentLossWithRedundancyRecoversLostFrames() async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        var options = CallSupport.CallOptions(loss: 0.10)
        options.red = true
        let (mos, result) = try await CallSupport.scoredCall(speech: speech, in: dir, options, label: "red")
        let s = result.sender, r = result.receiver
        print("MOS 10% loss, RED: \(mos); sender RED distance \(s.redDistance) at \(s.opusBitrate) bit/s; receiver \(r)")
        #expect(s.redDistance >= 1 && s.opusBitrate == 48_000, "the loss reports turned redundancy on: \(s)")
        #expect(r.redPacketsReceived > 0)
        #expect(r.redRecoveredFrames > r.packetsLost / 3, "RED restored lost frames: \(r)")
        #expect(r.concealedFrames < r.packetsLost, "\(r)")
        #expect(mos >= 3.0)
    }

    /// Bursty loss (Gilbert-Elliott, 10 % in bursts of 3 on average) over real libnice: RED
    /// turns on and restores what a burst leaves behind it; printed beside FEC alone for
    /// BENCHMARKS.md.
    @Test func burstyLossWithRedundancyAgainstFECAlone() async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        var options = CallSupport.CallOptions(loss: 0.10)
        options.lossBurst = 3
        let (fecMOS, fec) = try await CallSupport.scoredCall(speech: speech, in: dir, options, label: "bursty")
        options.red = true
        let (redMOS, red) = try await CallSupport.scoredCall(speech: speech, in: dir, options, label: "bursty")
        print(
            "MOS 10% bursty loss (mean burst 3): FEC alone \(fecMOS) (\(fec.receiver.concealedFrames) concealed of "
                + "\(fec.receiver.packetsLost) lost), RED \(redMOS) (\(red.receiver.redRecoveredFrames) recovered, "
                + "\(red.receiver.concealedFrames) concealed of \(red.receiver.packetsLost) lost)")
        #expect(fec.sender.packetsDroppedByLossStage == red.sender.packetsDroppedByLossStage, "the same seed drops the same packets")
        #expect(red.sender.redDistance >= 1)
        #expect(red.receiver.redRecoveredFrames > 0)
        #expect(red.receiver.concealedFrames < fec.receiver.concealedFrames, "RED \(red.receiver) FEC \(fec.receiver)")
    }

    @Test func dtmfDigitsArriveOnceEachInOrder() async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        // Three seconds of speech carry the six digits (200 ms each with the gap).
        let result = try await CallSupport.call(speech: Array(speech.wav.samples.prefix(48_000 * 3)), .init(dtmf: "123#*A"))
        let s = result.sender, r = result.receiver
        #expect(result.dtmf == Array("123#*A"))
        #expect(s.telephoneEventPacketsSent == 6 * 7, "start, 3 updates and 3 ends per digit")
        #expect(r.telephoneEventPacketsReceived == s.telephoneEventPacketsSent)
        #expect(r.dtmfDigitsReceived == 6 && r.telephoneEventPacketsMalformed == 0)
        #expect(r.packetsLost == 0, "events share the stream's sequence numbers")
        #expect(r.decodedFrames > 100, "audio resumed after the digits")
        // The 100 ms each digit took from the audio is passed over, not waited for (which would
        // add five frames of delay per digit, 30 in all); a scheduling stall may add a few.
        #expect(result.receiverWhileSending.expandedFrames < 15, "\(result.receiverWhileSending)")
    }

    /// telephone-event/8000 beside 48 kHz Opus (what a peer offering only that rate gets):
    /// timestamps stay on the audio clock, durations count 8 kHz units, and the receiver passes
    /// over exactly the audio the events replaced.
    @Test func dtmfAtTelephoneEvent8000ArrivesAndKeepsTheAudioInStep() async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        let result = try await CallSupport.call(
            speech: Array(speech.wav.samples.prefix(48_000 * 3)),
            .init(dtmf: "90*", telephoneEventClockRate: 8_000))
        let s = result.sender, r = result.receiver
        #expect(result.dtmf == Array("90*"))
        #expect(s.telephoneEventPacketsSent == 3 * 7)
        #expect(r.telephoneEventPacketsReceived == s.telephoneEventPacketsSent && r.telephoneEventPacketsMalformed == 0)
        #expect(r.packetsLost == 0)
        #expect(r.decodedFrames > 100, "audio resumed after the digits")
        // Read at 48 kHz, an 800-unit duration would be 17 ms, not 100 ms: the buffer would then
        // wait for audio that never comes and expand about four frames per digit.
        #expect(result.receiverWhileSending.expandedFrames < 8, "\(result.receiverWhileSending)")
    }

    @Test func fingerprintMismatchFailsTheSessionWithASecurityError() async throws {
        let stranger = try DTLSCertificate.generate(commonName: "mallory")
        let (a, b) = try CallSupport.makePeers(bFingerprintOverride: stranger.fingerprint(.sha256))
        let pumps = [CallSupport.pump(a, to: b.agent), CallSupport.pump(b, to: a.agent)]
        let timers = CallSupport.driveTimers([a.session, b.session])
        defer {
            timers.cancel()
            a.agent.close()
            b.agent.close()
            pumps.forEach { $0.cancel() }
        }
        async let outcomeB = CallSupport.outcome(of: b.session)
        try a.agent.gather()
        try b.agent.gather()
        let eb = await outcomeB
        guard case .failed(let error) = eb else {
            Issue.record("expected a failure, got \(String(describing: eb))")
            return
        }
        guard case .fingerprintMismatch(let expected, _) = error else {
            Issue.record("expected fingerprintMismatch, got \(error)")
            return
        }
        #expect(expected == stranger.fingerprint(.sha256).uppercased())
        #expect(throws: MediaSessionError.notEstablished) {
            try b.session.send(frame: [Int16](repeating: 0, count: MediaSession.samplesPerFrame))
        }
        #expect(b.session.statistics.srtpProfile == nil)
    }

    @Test func wrongFrameSizeIsATypedError() throws {
        let (a, b) = try CallSupport.makePeers()
        defer { a.agent.close(); b.agent.close() }
        #expect(throws: MediaSessionError.invalidFrame(samples: 480, expected: 960)) {
            try a.session.send(frame: [Int16](repeating: 0, count: 480))
        }
        #expect(throws: MediaSessionError.notEstablished) {
            try a.session.send(frame: [Int16](repeating: 0, count: 960))
        }
        #expect(throws: MediaSessionError.invalidDTMFDigit("x")) { try a.session.sendDTMF("12x4") }
        #expect(throws: MediaSessionError.invalidDTMFDigit("E")) { try a.session.sendDTMF("E") }
        try a.session.sendDTMF("0123456789*#ABCDabcd")
        a.session.close(now: EngineClock.process.now)
        #expect(throws: MediaSessionError.closed) { try a.session.sendDTMF("1") }
        // Without a negotiated telephone-event payload type there is nothing to send DTMF on.
        let cert = try DTLSCertificate.generate(commonName: "c")
        let plain = try MediaSession(
            agent: b.agent,
            configuration: MediaSessionConfiguration(
                role: .client, certificate: cert, remoteFingerprint: ("sha-256", cert.fingerprint(.sha256)),
                telephoneEventPayloadType: nil), now: EngineClock.process.now, wallClock: .wallClockNow())
        #expect(throws: MediaSessionError.telephoneEventNotNegotiated) { try plain.sendDTMF("1") }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["JINGLEKIT_MOS_BITRATES"] != nil))
    func mosAcrossBitratesAtTenPercentLoss() async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        for bitrate in [32_000, 40_000, 48_000] {
            let (mos, result) = try await CallSupport.scoredCall(
                speech: speech, in: dir, .init(loss: 0.10, bitrate: bitrate, jitterBuffer: .init()), label: "bitrates")
            print(
                "MOS-BITRATE bitrate=\(bitrate) mos=\(mos) fecRecovered=\(result.receiver.fecRecoveredFrames) bytes=\(result.sender.bytesSent)"
            )
            #expect(mos > 1.0)
        }
    }

    /// The loss/FEC matrix; set JINGLEKIT_MOS_MATRIX=1 to run it (about 5 minutes of real-time
    /// calls), or JINGLEKIT_MOS_MATRIX=fec for the FEC columns only.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["JINGLEKIT_MOS_MATRIX"] != nil))
    func mosAcrossLossRates() async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        let fecOnly = ProcessInfo.processInfo.environment["JINGLEKIT_MOS_MATRIX"] == "fec"
        let combos = [(32_000, true), (32_000, false), (48_000, true), (48_000, false)].filter { !fecOnly || $0.1 }
        for (bitrate, fec) in combos {
            for loss in [0.0, 0.05, 0.10, 0.20] {
                let (mos, result) = try await CallSupport.scoredCall(
                    speech: speech, in: dir, .init(loss: loss, fec: fec, bitrate: bitrate, jitterBuffer: .init()), label: "matrix")
                print(
                    "MOS-MATRIX bitrate=\(bitrate) loss=\(Int(loss * 100))% fec=\(fec) mos=\(mos) dropped=\(result.sender.packetsDroppedByLossStage) fecRecovered=\(result.receiver.fecRecoveredFrames) concealed=\(result.receiver.concealedFrames) encoderLoss=\(result.sender.encoderExpectedLossPercent)% accel=\(result.receiverWhileSending.acceleratedFrames) expand=\(result.receiverWhileSending.expandedFrames) jbDelay=\(result.receiver.jitterBufferDelay)"
                )
                #expect(mos > 1.0)
            }
        }
    }

    /// What starting the encoder at 0% or 10% expected loss costs and buys, before RTCP reports
    /// steer it: set JINGLEKIT_MOS_INITIAL_LOSS=1 (eight real-time calls, about 3 minutes).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["JINGLEKIT_MOS_INITIAL_LOSS"] != nil))
    func mosByInitialExpectedLoss() async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        for bitrate in [32_000, 48_000] {
            for initial in [0, 10] {
                for loss in [0.0, 0.10] {
                    let (mos, result) = try await CallSupport.scoredCall(
                        speech: speech, in: dir, .init(loss: loss, bitrate: bitrate, initialLossPercent: initial, jitterBuffer: .init()),
                        label: "initial\(initial)")
                    print(
                        "MOS-INITIAL bitrate=\(bitrate) initial=\(initial)% loss=\(Int(loss * 100))% mos=\(mos) encoderLoss=\(result.sender.encoderExpectedLossPercent)% fecRecovered=\(result.receiver.fecRecoveredFrames) accel=\(result.receiverWhileSending.acceleratedFrames) expand=\(result.receiverWhileSending.expandedFrames)"
                    )
                    #expect(mos > 1.0)
                }
            }
        }
    }
}
