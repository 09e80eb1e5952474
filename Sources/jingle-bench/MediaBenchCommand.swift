import ArgumentParser
import Media
import Transport
import MediaBenchmarks

/// `jingle-bench media`: the Opus and SRTP wrappers against the raw libopus and libsrtp2 calls
/// they make, over the same input in one run (20 ms mono frames at 48 kHz, 172-byte RTP packets).
struct MediaBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "media",
        abstract: "Opus encode/decode and SRTP protect/unprotect: Swift wrappers vs raw C, and calls per core.")

    @Option(help: "Rounds; the best round of each measurement is reported.") var rounds = 5

    func run() throws {
        var best: [String: MediaBenchmarks.Result] = [:]
        for _ in 0..<rounds {
            var results = [
                try MediaBenchmarks.opusEncode(iterations: 500, complexity: 5),
                try MediaBenchmarks.opusDecode(iterations: 2000),
            ]
            for profile in [SRTPProfile.aeadAES128GCM, .aes128CMHMACSHA1_80] {
                let (protect, unprotect) = try MediaBenchmarks.srtp(profile: profile, iterations: 5000)
                results += [protect, unprotect]
            }
            for r in results where best[r.name].map({ r.wrapperPerOperation < $0.wrapperPerOperation }) ?? true {
                best[r.name] = r
            }
        }
        print("media: best of \(rounds) rounds; per operation, wrapper vs raw C")
        let order = best.keys.sorted()
        for name in order {
            guard let r = best[name] else { continue }
            let ratio = Double(r.wrapper.attoseconds) / Double(max(1, r.raw.attoseconds))
            print(
                "\(name.padding(toLength: 34, withPad: " ", startingAt: 0)) wrapper \(format(r.wrapperPerOperation))  raw \(format(r.rawPerOperation))  ratio \(String(format2: ratio))x"
            )
        }
        // One call, both ways, per 20 ms: encode + decode + protect + unprotect per direction.
        let perFrame = ["opus encode", "opus decode"].compactMap { key in best.first { $0.key.hasPrefix(key) }?.value.wrapperPerOperation }
            .reduce(Duration.zero, +)
        let srtp = best.filter { $0.key.contains("GCM") }.values.map(\.wrapperPerOperation).reduce(Duration.zero, +)
        let callCost = perFrame + srtp
        let callsPerCore = Double(Duration.milliseconds(20).attoseconds) / Double(max(1, callCost.attoseconds))
        print(
            "one call direction per 20 ms frame (encode + decode + GCM protect + unprotect): \(format(callCost)); one core sustains about \(Int(callsPerCore / 2)) two-way calls in real time"
        )
    }

    private func format(_ d: Duration) -> String {
        let us = Double(d.attoseconds) / 1e12
        return String(format2: us) + " us"
    }
}

extension String {
    init(format2 value: Double) {
        let scaled = (value * 100).rounded() / 100
        self = "\(scaled)"
    }
}
