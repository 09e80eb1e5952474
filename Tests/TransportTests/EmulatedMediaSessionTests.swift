import Foundation
import Media
import NetworkEmulator
import Testing
import TLS
import Transport

/// The whole media engine (`MediaSession`: DTLS-SRTP, RTP/RTCP, loss reports steering FEC and
/// RFC 2198 redundancy, the jitter buffer, Opus) through the network emulator in virtual time:
/// two sessions, speech both ways, random and bursty loss. No sockets, no libnice, no real clock:
/// each call takes a fraction of a second and repeats exactly.
@Suite struct EmulatedMediaSessionTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let loss: NetworkPath<[UInt8]>.Loss
        /// The lowest wideband PESQ each direction must score: 0.2-0.3 under what seed 21 gives
        /// here (a run repeats exactly; the margin is for other libopus builds). Measured, a -> b
        /// and b -> a: none 3.97/3.97; random 5 % 3.82/3.84, 10 % 3.65/3.73, 20 % 3.20/3.57;
        /// bursty (mean 3) 5 % 2.81/3.14, 10 % 2.50/3.23, 20 % 2.33/2.41.
        let minimumMOS: Double
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "no loss", loss: .none, minimumMOS: 3.75),
        Case(name: "5 % random", loss: .random(0.05), minimumMOS: 3.6),
        Case(name: "10 % random", loss: .random(0.10), minimumMOS: 3.4),
        Case(name: "20 % random", loss: .random(0.20), minimumMOS: 2.9),
        Case(name: "5 % bursty", loss: .bursty(average: 0.05, meanBurst: 3), minimumMOS: 2.55),
        Case(name: "10 % bursty", loss: .bursty(average: 0.10, meanBurst: 3), minimumMOS: 2.25),
        Case(name: "20 % bursty", loss: .bursty(average: 0.20, meanBurst: 3), minimumMOS: 2.05),
    ]

    /// Both sides with the product's defaults (Opus 48 kbit/s with in-band FEC, RED agreed),
    /// `a` the DTLS client.
    static func sides(speech: [Int16]) throws -> (EmulatedMediaSessionCall.Side, EmulatedMediaSessionCall.Side) {
        let certA = try DTLSCertificate.generate(commonName: "a")
        let certB = try DTLSCertificate.generate(commonName: "b")
        let a = MediaSessionConfiguration(
            role: .client, certificate: certA, remoteFingerprint: ("sha-256", certB.fingerprint(.sha256)),
            redPayloadType: 63, ssrc: 0x1111_1111, cname: "a@emulator")
        let b = MediaSessionConfiguration(
            role: .server, certificate: certB, remoteFingerprint: ("sha-256", certA.fingerprint(.sha256)),
            redPayloadType: 63, ssrc: 0x2222_2222, cname: "b@emulator")
        return (.init(configuration: a, speech: speech), .init(configuration: b, speech: speech))
    }

    static func path(_ loss: NetworkPath<[UInt8]>.Loss, seed: UInt64 = 21) -> NetworkPath<[UInt8]>.Configuration {
        .init(loss: loss, delay: .milliseconds(30), jitter: .milliseconds(10), seed: seed)
    }

    @Test(arguments: cases)
    func speechBothWaysThroughLoss(_ c: Case) throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        let (a, b) = try Self.sides(speech: speech.wav.samples)
        let clock = ContinuousClock()
        let started = clock.now
        let r = try EmulatedMediaSessionCall.run(a, b, path: Self.path(c.loss))
        let elapsed = clock.now - started
        let frames = speech.wav.samples.count / MediaSession.samplesPerFrame

        #expect(r.established != nil, "\(c.name): DTLS did not finish")
        #expect(r.a.statistics.srtpProfile != nil && r.a.statistics.srtpProfile == r.b.statistics.srtpProfile)
        var lines: [String] = []
        for (name, got, sender) in [("a -> b", r.b, r.a), ("b -> a", r.a, r.b)] {
            let file = dir.appendingPathComponent("received-\(name.replacingOccurrences(of: " ", with: "")).wav")
            try Data(WAVFile(sampleRate: 48_000, channels: 1, samples: got.played).serialized()).write(to: file)
            let mos = try CallSupport.pesq(reference: speech.url, degraded: file)
            let s = got.statistics
            lines.append(
                "\(name): PESQ \(mos), RTP lost \(got.rtpLost)/\(got.rtpSent), FEC \(s.fecRecoveredFrames), "
                    + "RED \(s.redRecoveredFrames) recovered of \(s.redPacketsReceived) packets, concealed \(s.concealedFrames)")
            #expect(mos >= c.minimumMOS, "\(c.name) \(name): PESQ \(mos) < \(c.minimumMOS)")
            #expect(sender.statistics.packetsSent == frames)
            // Every RTP packet the path delivered unprotects and counts; nothing else does.
            #expect(s.packetsReceived == got.rtpDelivered, "\(c.name) \(name): \(s.packetsReceived) counted, \(got.rtpDelivered) delivered")
            #expect(s.packetsRejected == 0)
            // Loss counted from sequence numbers misses only losses after the last packet received.
            #expect(
                s.packetsLost <= got.rtpLost && s.packetsLost >= got.rtpLost - 10, "\(c.name) \(name): \(s.packetsLost) of \(got.rtpLost)")
            #expect(sender.statistics.rtcpReceived > 0)
            if got.rtpLost > 0 {
                // The receiver's RTCP told the sender, which turned redundancy on.
                #expect(sender.statistics.remotePacketsLost > 0, "\(c.name) \(name): the sender never heard of the loss")
                #expect(s.redPacketsReceived > 0, "\(c.name) \(name): no RED though the peer reported loss")
            } else {
                #expect(s.concealedFrames <= 110, "\(c.name) \(name): \(s.concealedFrames) concealed with nothing lost")
            }
        }
        print(
            "EmulatedMediaSessionTests \(c.name) (\(elapsed) for \(frames / 50) s of call each way):\n  "
                + lines.joined(separator: "\n  "))
    }

    /// The same seed gives the same call, sample for sample: nothing in the engine reads a clock
    /// of its own.
    @Test func theSameSeedPlaysTheSameAudio() throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = Array(try CallSupport.makeSpeech(in: dir).wav.samples.prefix(48_000 * 4))
        func once() throws -> EmulatedMediaSessionCall.Result {
            let (a, b) = try Self.sides(speech: speech)
            return try EmulatedMediaSessionCall.run(a, b, path: Self.path(.bursty(average: 0.10, meanBurst: 3)))
        }
        let first = try once(), second = try once()
        #expect(!first.b.played.isEmpty)
        #expect(first.b.played == second.b.played)
        #expect(first.a.played == second.a.played)
        #expect(first.b.statistics.concealedFrames == second.b.statistics.concealedFrames)
    }
}
