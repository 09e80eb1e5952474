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
        let c = NetworkPath<Int>.Configuration(
            loss: .random(0.1), jitter: .milliseconds(30), reorderRate: 0.05,
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
        let (out, path) = Self.carry(
            .init(
                reorderRate: 0.05, reorderDelay: .milliseconds(50),
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
            try EmulatedAudioCall.run(
                sender: try EmulatedOpusSender(speech: Array(Self.signal.prefix(48_000 * 5))),
                path: .init(loss: .random(0.1), jitter: .milliseconds(20), seed: 77))
        }
        let a = try once(), b = try once()
        #expect(a.played == b.played)
        #expect(a.playout.concealedFrames == b.playout.concealedFrames && a.path == b.path)
    }

    @Test func reorderedAndDuplicatedPacketsAreStillPlayed() throws {
        let sender = try EmulatedOpusSender(speech: Self.signal)
        let r = try EmulatedAudioCall.run(
            sender: sender,
            path: .init(
                jitter: .milliseconds(10), reorderRate: 0.05,
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
            lines.append(
                "\(name): PESQ \(mos), lost \(r.path.lost)/\(r.path.sent), FEC \(r.playout.fecRecoveredFrames), "
                    + "concealed \(r.playout.concealedFrames), accelerated \(r.playout.acceleratedFrames), expanded \(r.playout.expandedFrames)"
            )
            #expect(mos >= bound, "\(name): PESQ \(mos) < \(bound)")
        }
        print("EmulatedAudioCallTests.speechQualityAcrossLoss:\n  " + lines.joined(separator: "\n  "))
    }
}

/// RFC 2198 redundancy through the emulator: what it buys over in-band FEC alone at each loss,
/// and what it costs in bit rate.
@Suite struct EmulatedRedundancyTests {
    struct Variant: Sendable {
        let name: String
        let bitrate: Int
        let distance: Int?
        /// RED steered by the product's `RedundancyController` from loss reports each second
        /// (`distance` is where it starts); false keeps `distance` throughout.
        var adaptive = false
    }

    /// The product's defaults: Opus at 48 kbit/s with in-band FEC, RED agreed and steered by the
    /// loss reports.
    static let defaults = Variant(name: "default", bitrate: 48_000, distance: 0, adaptive: true)

    static func score(
        _ speech: (url: URL, wav: WAVFile), in dir: URL, _ v: Variant, _ loss: NetworkPath<RTPPacket>.Loss,
        seed: UInt64, warmUp: Bool = false
    ) throws -> (mos: Double, result: EmulatedAudioCall.Result) {
        // With `warmUp` the call starts with three seconds of speech that are not scored: the
        // sender has heard the first loss reports by the time the sentence starts, as it would
        // a minute into a call, and the encoder is past its first frames.
        let lead = warmUp ? min(speech.wav.samples.count, 48_000 * 3) : 0
        let sender = try EmulatedOpusSender(
            speech: Array(speech.wav.samples[0..<lead]) + speech.wav.samples,
            settings: .init(
                bitrate: v.bitrate, redundancy: v.distance.map { (63, $0) }))
        var r = try EmulatedAudioCall.run(
            sender: sender, path: .init(loss: loss, jitter: .milliseconds(10), seed: seed),
            redundancy: v.adaptive ? RedundancyController() : nil)
        r.played.removeFirst(min(lead, r.played.count))
        let out = dir.appendingPathComponent("red-\(v.name)-\(seed).wav")
        try Data(WAVFile(sampleRate: 48_000, channels: 1, samples: r.played).serialized()).write(to: out)
        return (try CallSupport.pesq(reference: speech.url, degraded: out), r)
    }

    /// At 20 % random loss the product's redundancy level (the frame before repeated in every
    /// packet, Opus at 48 kbit/s) restores most lost frames whole, where in-band FEC alone gives
    /// a lower-rate copy of one and conceals the rest; and under bursts it still recovers.
    @Test func redundancyRecoversWhatFECAloneCannot() throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        let fecOnly = Variant(name: "fec", bitrate: 48_000, distance: nil)
        let red = Variant(name: "red1", bitrate: 48_000, distance: 1)
        let random = NetworkPath<RTPPacket>.Loss.random(0.20)
        let f = try Self.score(speech, in: dir, fecOnly, random, seed: 21)
        let r = try Self.score(speech, in: dir, red, random, seed: 21)
        let bursty = try Self.score(speech, in: dir, red, .bursty(average: 0.10, meanBurst: 3), seed: 21)
        print(
            "EmulatedRedundancyTests: 20 % random: FEC PESQ \(f.mos) (\(f.result.playout.concealedFrames) concealed), "
                + "RED PESQ \(r.mos) (\(r.result.redundancy.recoveredFrames) recovered, \(r.result.playout.concealedFrames) concealed, "
                + "\(Int(r.result.payloadKilobitsPerSecond)) kbit/s); 10 % bursty RED \(bursty.mos)")
        #expect(r.result.redundancy.recoveredFrames > r.result.path.lost / 2, "\(r.result.redundancy)")
        #expect(r.result.playout.concealedFrames * 2 < f.result.playout.concealedFrames)
        #expect(r.mos >= 3.3 && r.mos > f.mos + 0.5, "RED \(r.mos) vs FEC \(f.mos)")
        #expect(bursty.result.redundancy.recoveredFrames > 0)
    }

    /// The product's defaults under 10 % loss in bursts of three (Gilbert-Elliott): the loss
    /// reports take the sender to three repeats, the receiver's jitter buffer waits three frames
    /// longer, and the last three frames of a burst come back whole (the fourth from in-band FEC),
    /// where in-band FEC alone restores one and conceals the rest.
    @Test func theDefaultsRestoreBurstsOfThree() throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        let bursty = NetworkPath<RTPPacket>.Loss.bursty(average: 0.10, meanBurst: 3)
        let fec = try Self.score(speech, in: dir, Variant(name: "fec", bitrate: 48_000, distance: nil), bursty, seed: 21, warmUp: true)
        let red = try Self.score(speech, in: dir, Self.defaults, bursty, seed: 21, warmUp: true)
        print(
            "EmulatedRedundancyTests: 10 % bursty: FEC PESQ \(fec.mos) (\(fec.result.playout.concealedFrames) concealed), "
                + "defaults PESQ \(red.mos) (\(red.result.redundancy.recoveredFrames) recovered by RED, "
                + "\(red.result.playout.concealedFrames) concealed, mean distance \(red.result.meanRedundancyDistance), "
                + "\(Int(red.result.payloadKilobitsPerSecond)) kbit/s)")
        #expect(red.result.meanRedundancyDistance > 2.5, "the reports took the sender to three repeats")
        #expect(red.result.playout.targetDelay >= .milliseconds(80), "the receiver waits for the repeats")
        #expect(red.result.playout.concealedFrames * 2 < fec.result.playout.concealedFrames)
        #expect(red.mos >= 3.2 && red.mos > fec.mos + 0.5, "defaults \(red.mos) vs FEC \(fec.mos)")
    }

    /// The table in BENCHMARKS.md: JINGLEKIT_RED_MATRIX=1 swift test --skip-build --filter redundancyMatrix
    @Test(.enabled(if: ProcessInfo.processInfo.environment["JINGLEKIT_RED_MATRIX"] != nil))
    func redundancyMatrix() throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        // JINGLEKIT_RED_VARIANTS="default,fec48,red1-48,red2-32": default is the product's
        // (RED steered by loss reports), fecB is plain Opus at B kbit/s, redD-B repeats D earlier
        // frames with Opus at B kbit/s. Every call has the unscored warm-up.
        let names = (ProcessInfo.processInfo.environment["JINGLEKIT_RED_VARIANTS"] ?? "default,fec48,red1-48,red3-48")
            .split(separator: ",").map(String.init)
        let variants = names.compactMap { name -> Variant? in
            if name == "default" { return Self.defaults }
            if name.hasPrefix("fec"), let kbit = Int(name.dropFirst(3)) { return Variant(name: name, bitrate: kbit * 1000, distance: nil) }
            let parts = name.dropFirst(3).split(separator: "-")
            guard name.hasPrefix("red"), parts.count == 2, let d = Int(parts[0]), let kbit = Int(parts[1]) else { return nil }
            return Variant(name: name, bitrate: kbit * 1000, distance: d)
        }
        let losses: [(String, NetworkPath<RTPPacket>.Loss)] = [
            ("0 %", .none), ("5 %", .random(0.05)), ("10 %", .random(0.10)), ("20 %", .random(0.20)),
            ("10 % bursty", .bursty(average: 0.10, meanBurst: 3)),
        ]
        var lines = ["loss | " + variants.map(\.name).joined(separator: " | ")]
        for (name, loss) in losses {
            var cells: [String] = []
            for v in variants {
                var scores: [Double] = []
                var rate = 0.0
                for seed: UInt64 in [21, 22, 23, 24, 25] {
                    let s = try Self.score(speech, in: dir, v, loss, seed: seed, warmUp: true)
                    scores.append(s.mos)
                    rate = s.result.payloadKilobitsPerSecond
                }
                let mean = scores.reduce(0, +) / Double(scores.count)
                cells.append(String(format: "%.2f (%.2f-%.2f) %.0fk", mean, scores.min()!, scores.max()!, rate))
            }
            lines.append(name + " | " + cells.joined(separator: " | "))
        }
        print("EmulatedRedundancyTests.redundancyMatrix:\n" + lines.joined(separator: "\n"))
    }
}
