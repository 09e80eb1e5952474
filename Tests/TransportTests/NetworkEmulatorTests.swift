import Foundation
import Testing
import Media
import NetworkEmulator

/// The network emulator's own promises: seeded and repeatable, the loss it was asked for, order
/// kept under jitter, reordering and duplication only when asked.
@Suite struct NetworkPathTests {
    /// Sends `count` numbered packets 20 ms apart and returns what came out, in order.
    static func carry(_ configuration: NetworkPath<Int>.Configuration, count: Int) -> (out: [Int], path: NetworkPath<Int>) {
        var path = NetworkPath<Int>(configuration)
        var out: [Int] = []
        for i in 0..<count {
            let now = Duration.milliseconds(20) * i
            out += path.receive(at: now).map(\.packet)
            path.send(i, at: now)
        }
        out += path.receive(at: .seconds(1_000_000)).map(\.packet)
        return (out, path)
    }

    @Test func sameSeedSameRunAndAnotherSeedAnother() {
        let c = NetworkPath<Int>.Configuration(loss: .random(0.1), jitter: .milliseconds(30), reorderRate: 0.05,
                                               duplicateRate: 0.02, seed: 7)
        var other = c
        other.seed = 8
        #expect(Self.carry(c, count: 2000).out == Self.carry(c, count: 2000).out)
        #expect(Self.carry(c, count: 2000).out != Self.carry(other, count: 2000).out)
    }

    @Test func randomLossIsTheRateAskedFor() {
        let (out, path) = Self.carry(.init(loss: .random(0.1), seed: 3), count: 50_000)
        let rate = Double(path.statistics.lost) / 50_000
        #expect(abs(rate - 0.1) < 0.005, "\(rate)")
        #expect(out.count == 50_000 - path.statistics.lost)
        #expect(out == out.sorted(), "no reordering asked for")
    }

    @Test func burstyLossHasTheAverageAndBurstLengthAskedFor() {
        let (out, path) = Self.carry(.init(loss: .bursty(average: 0.1, meanBurst: 3), seed: 11), count: 100_000)
        let rate = Double(path.statistics.lost) / 100_000
        #expect(abs(rate - 0.1) < 0.01, "\(rate)")
        // Bursts: runs of consecutive missing numbers.
        var bursts: [Int] = []
        var previous = -1
        for n in out {
            if n - previous > 1 { bursts.append(n - previous - 1) }
            previous = n
        }
        let mean = Double(bursts.reduce(0, +)) / Double(bursts.count)
        #expect(abs(mean - 3) < 0.3, "mean burst \(mean)")
    }

    @Test func jitterDelaysButKeepsOrder() {
        let (out, path) = Self.carry(.init(delay: .milliseconds(40), jitter: .milliseconds(60), seed: 5), count: 5000)
        #expect(out == Array(0..<5000))
        #expect(path.statistics.delivered == 5000)
    }

    @Test func reorderingAndDuplicationHappenOnlyAtTheirRates() {
        let (out, path) = Self.carry(.init(reorderRate: 0.05, reorderDelay: .milliseconds(50),
                                           duplicateRate: 0.03, seed: 9), count: 20_000)
        let s = path.statistics
        #expect(abs(Double(s.reordered) / 20_000 - 0.05) < 0.01)
        #expect(abs(Double(s.duplicated) / 20_000 - 0.03) < 0.01)
        #expect(out.count == 20_000 + s.duplicated)
        #expect(Set(out).count == 20_000, "nothing lost")
        let inversions = zip(out, out.dropFirst()).filter { $0 > $1 }.count
        #expect(inversions > 0 && inversions <= s.reordered + s.duplicated)
    }
}

/// The receive path (jitter buffer, Opus, FEC) through the emulator in virtual time: the sender
/// shapes real clients have, and loss. A minute of call takes about a second.
@Suite struct EmulatedAudioCallTests {
    /// 20 s of a periodic, voiced-like test signal (no espeak needed for the shape tests).
    static let signal: [Int16] = (0..<(48_000 * 20)).map { i in
        let t = Double(i) / 48_000
        let envelope = 0.5 + 0.5 * sin(2 * .pi * 0.5 * t)
        return Int16(6000 * envelope * (sin(2 * .pi * 220 * t) + 0.5 * sin(2 * .pi * 660 * t)))
    }

    static func decodedShare(_ r: EmulatedAudioCall.Result) -> Double {
        Double(r.playout.decodedFrames) / Double(max(1, r.playout.playedFrames))
    }

    @Test(arguments: [
        ("GStreamer's 648 first step", EmulatedOpusSender.Shape.gstreamer),
        ("40 then 60 then 20 ms packets", EmulatedOpusSender.Shape(framesPerPacket: [(0, 2), (300, 3), (600, 1)])),
        ("sender restart with a new SSRC", EmulatedOpusSender.Shape(restart: (atFrame: 400, ssrc: 0xFEED, timestampOrigin: 7))),
        ("DTX gaps", EmulatedOpusSender.Shape(silentFrames: [100..<150, 500..<520])),
        ("clock 0.5 % fast", EmulatedOpusSender.Shape(clockDriftPPM: 5000)),
        ("clock 0.5 % slow", EmulatedOpusSender.Shape(clockDriftPPM: -5000)),
    ])
    func senderShapesDecodeCleanly(_ name: String, _ shape: EmulatedOpusSender.Shape) throws {
        let sender = try EmulatedOpusSender(speech: Self.signal, shape: shape)
        let r = try EmulatedAudioCall.run(sender: sender, path: .init(delay: .milliseconds(30), jitter: .milliseconds(15), seed: 2))
        #expect(Self.decodedShare(r) >= 0.99, "\(name): \(r.playout)")
        #expect(r.playout.concealedFrames <= 3, "\(name): \(r.playout)")
    }

    @Test func sameSeedSamePlayout() throws {
        func once() throws -> EmulatedAudioCall.Result {
            try EmulatedAudioCall.run(sender: try EmulatedOpusSender(speech: Array(Self.signal.prefix(48_000 * 5))),
                                      path: .init(loss: .random(0.1), jitter: .milliseconds(20), seed: 77))
        }
        let a = try once(), b = try once()
        #expect(a.played == b.played)
        #expect(a.playout.concealedFrames == b.playout.concealedFrames && a.path == b.path)
    }

    @Test func reorderedAndDuplicatedPacketsAreStillPlayed() throws {
        let sender = try EmulatedOpusSender(speech: Self.signal)
        let r = try EmulatedAudioCall.run(sender: sender, path: .init(jitter: .milliseconds(10), reorderRate: 0.05,
                                                                       reorderDelay: .milliseconds(25), duplicateRate: 0.05, seed: 4))
        #expect(r.path.duplicated > 20 && r.path.reordered > 20)
        #expect(Self.decodedShare(r) >= 0.99, "\(r.playout)")
        #expect(r.playout.duplicatePackets > 0)
    }

    /// Wideband PESQ of speech through the product's defaults (48 kbit/s Opus, in-band FEC) at
    /// each loss, random and bursty: the baseline the redundancy work (RFC 2198) is measured
    /// against. Bounds sit below the measured figures (printed) to hold across libopus builds.
    @Test func speechQualityAcrossLoss() throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        // One seed, one sentence: the figures are exact repeats (no dither in the speech), so the
        // bounds sit 0.15-0.2 under them. A single sentence makes them depend on which frames
        // the seed loses (5 % scores below 10 % here); BENCHMARKS.md has the spread over seeds.
        // Bursty loss scored 1.76 before the jitter buffer let frames concealed while waiting
        // stand in for a burst's lost packets (expand, then merge) instead of keeping the delay.
        let cases: [(String, NetworkPath<RTPPacket>.Loss, Double)] = [
            ("clean", .none, 3.7), ("5 % random", .random(0.05), 2.8), ("10 % random", .random(0.10), 3.2),
            ("20 % random", .random(0.20), 2.0), ("10 % bursty (mean 3)", .bursty(average: 0.10, meanBurst: 3), 2.25),
        ]
        var lines: [String] = []
        for (name, loss, bound) in cases {
            let sender = try EmulatedOpusSender(speech: speech.wav.samples)
            let r = try EmulatedAudioCall.run(sender: sender, path: .init(loss: loss, jitter: .milliseconds(10), seed: 21))
            let out = dir.appendingPathComponent("emulated-\(lines.count).wav")
            try Data(WAVFile(sampleRate: 48_000, channels: 1, samples: r.played).serialized()).write(to: out)
            let mos = try CallSupport.pesq(reference: speech.url, degraded: out)
            lines.append("\(name): PESQ \(mos), lost \(r.path.lost)/\(r.path.sent), FEC \(r.playout.fecRecoveredFrames), "
                         + "concealed \(r.playout.concealedFrames), accelerated \(r.playout.acceleratedFrames), expanded \(r.playout.expandedFrames)")
            #expect(mos >= bound, "\(name): PESQ \(mos) < \(bound)")
        }
        print("EmulatedAudioCallTests.speechQualityAcrossLoss:\n  " + lines.joined(separator: "\n  "))
    }
}
