import Foundation
import Media
import Testing
@testable import Harness

@Suite struct LogHistogramTests {
    /// Log-uniform samples from 10 µs to 100 s, and a cluster near 40 ms (a typical setup time).
    static func samples(_ n: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { i in
            i % 3 == 0
                ? 0.040 + Double.random(in: -0.005...0.005, using: &rng)
                : pow(10, Double.random(in: -5...2, using: &rng))
        }
    }

    static func exact(_ sorted: [Double], _ p: Double) -> Double { SampleSummary.percentile(sorted, p) }

    @Test func percentilesAreWithinOnePercentOfExact() {
        for seed in [1, 2, 3] as [UInt64] {
            let data = Self.samples(50_000, seed: seed)
            let sorted = data.sorted()
            let h = LogHistogram(samples: data)
            #expect(h.count == data.count)
            #expect(h.min == sorted.first && h.max == sorted.last)
            #expect(abs(h.mean - data.reduce(0, +) / Double(data.count)) <= 1e-9 * h.mean)
            for p in [0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100] {
                let want = Self.exact(sorted, p)
                let got = h.percentile(p)
                #expect(abs(got - want) <= 0.01 * want, "p\(p): \(got) vs exact \(want)")
            }
        }
    }

    @Test func smallCountsAndEdges() {
        var h = LogHistogram()
        #expect(h.percentile(50) == 0 && h.mean == 0 && h.isEmpty)
        h.record(0.3)
        #expect(h.percentile(0) == 0.3 && h.percentile(50) == 0.3 && h.percentile(100) == 0.3)
        h.record(0) // under 1 µs: the first bucket
        h.record(-1) // counted as 0
        h.record(100_000) // over the range: the last bucket, max exact
        #expect(h.count == 4 && h.min == 0 && h.max == 100_000)
        #expect(h.percentile(100) == 100_000 && h.percentile(25) == 0)
    }

    @Test func mergeEqualsOneHistogramOfAllTheData() throws {
        let a = Self.samples(20_000, seed: 7)
        let b = Self.samples(30_000, seed: 8).map { $0 * 3 }
        var merged = LogHistogram(samples: a)
        merged.merge(LogHistogram(samples: b))
        let single = LogHistogram(samples: a + b)
        #expect(merged.count == single.count && merged.min == single.min && merged.max == single.max)
        #expect(merged.nonEmptyBuckets.map(\.index) == single.nonEmptyBuckets.map(\.index))
        #expect(merged.nonEmptyBuckets.map(\.count) == single.nonEmptyBuckets.map(\.count))
        for p in [50.0, 90, 99, 99.9] { #expect(merged.percentile(p) == single.percentile(p)) }
        #expect(abs(merged.sum - single.sum) <= 1e-9 * single.sum)
        var empty = LogHistogram()
        empty.merge(single)
        #expect(empty.min == single.min && empty.percentile(99) == single.percentile(99))
    }

    @Test func bucketCountIsBoundedWhateverTheSamples() throws {
        let empty = LogHistogram()
        #expect(empty.bucketCount == 1 + LogHistogram.octaves * 128)
        var h = LogHistogram()
        var rng = SplitMix64(seed: 42)
        for _ in 0..<200_000 { h.record(pow(10, Double.random(in: -8...5, using: &rng))) }
        #expect(h.bucketCount == empty.bucketCount)
        #expect(h.usedBuckets <= h.bucketCount)
        // Each bucket is at most 1/128 of its lower bound wide (1 µs up to 2^32 µs, about 71 min).
        for i in [1, 129, 2000, h.bucketCount - 1] {
            let (lower, upper) = h.bounds(ofBucket: i)
            #expect((upper - lower) / lower <= 1.0 / 128 + 1e-12)
        }
        #expect(h.index(of: 3600) < h.bucketCount - 1) // an hour is inside the range
        // Serialised sparse; decodes to the same histogram.
        let data = try JSONEncoder().encode(h)
        let back = try JSONDecoder().decode(LogHistogram.self, from: data)
        #expect(back == h)
        let limit: Int = h.usedBuckets * 24 + 200
        #expect(data.count < limit)
    }

    @Test func decodingRejectsACountTheBucketsDoNotHold() {
        let json = #"{"sub_buckets":128,"count":5,"min_s":0.001,"max_s":0.002,"sum_s":0.003,"buckets":[[1000,2]]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(LogHistogram.self, from: Data(json.utf8)) }
    }

    @Test func runTotalsListStepsInThePreferredOrder() {
        var totals = RunTotals()
        totals.record(step: "accept->result", 0.01) // a responder leg finished first
        totals.record(step: "media", 0.01)
        totals.record(step: "initiate->accept", 0.02)
        #expect(totals.summaries.map(\.name) == ["accept->result", "media", "initiate->accept", "call"])
        totals.preferredOrder = ["initiate->result", "initiate->accept", "accept->result"]
        #expect(totals.summaries.map(\.name) == ["initiate->accept", "accept->result", "media", "call"])
    }

    @Test func runTotalsMergeLikeOneRun() {
        let m = { (n: String, s: Double) in CallInterpreter.Measurement(name: n, seconds: s) }
        let records = (1...40).map { (i: Int) -> CallRecord in
            let role: Scenario.Role = i % 2 == 0 ? .initiator : .responder
            let verdict: CallVerdict = i % 7 == 0 ? .failed(.timeout(expecting: "x", line: 1)) : .passed
            let x = Double(i)
            return CallRecord(
                callNumber: i, role: role, scenario: "caller", verdict: verdict, startedAt: x,
                durationSeconds: 0.01 * x, measurements: [m("a", 0.001 * x), m("b", 0.002 * x)])
        }
        var one = RunTotals()
        records.forEach { one.add($0) }
        var a = RunTotals(), b = RunTotals()
        records.prefix(15).forEach { a.add($0) }
        records.dropFirst(15).forEach { b.add($0) }
        a.merge(b)
        #expect(a.finished == one.finished && a.succeeded == one.succeeded && a.initiatorFinished == one.initiatorFinished)
        #expect(a.failures == one.failures && a.stepNames == one.stepNames)
        #expect(a.steps["a"]?.buckets == one.steps["a"]?.buckets)
        #expect(a.steps["b"]?.histogram.percentile(99) == one.steps["b"]?.histogram.percentile(99))
        #expect(a.callDurations.histogram.nonEmptyBuckets.map(\.count) == one.callDurations.histogram.nonEmptyBuckets.map(\.count))
    }
}
