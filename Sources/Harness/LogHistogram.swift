/// A histogram of durations with bounded memory, in the manner of HdrHistogram: log-linear
/// buckets (each power of two of microseconds split into `subBuckets` equal parts) from 1 µs to
/// 2^32 µs (about 71 minutes), so any sample is held within 1/`subBuckets` (0.8 % with the
/// default 128) of its value, whatever the number of samples. The count, minimum, maximum and sum
/// are exact; percentiles come from the buckets (the middle of a bucket, kept within the minimum
/// and maximum). Two histograms with the same layout merge exactly: the merge holds the same
/// buckets as one histogram fed both sets of samples.
///
/// Samples under 1 µs fall in the first bucket and samples over the range in the last; both are
/// still counted, and the minimum and maximum keep their exact values.
public struct LogHistogram: Sendable, Hashable, Codable {
    /// Linear buckets per power of two.
    public let subBuckets: Int
    /// Powers of two of microseconds covered: [1 µs, 2^octaves µs).
    public static let octaves = 32
    public private(set) var count: Int = 0
    /// Exact minimum and maximum in seconds (0 while empty).
    public private(set) var min: Double = 0
    public private(set) var max: Double = 0
    /// Exact sum of the samples in seconds.
    public private(set) var sum: Double = 0
    /// Bucket counts: index 0 holds samples under 1 µs; then `subBuckets` per octave.
    private var counts: [Int]

    public init(subBuckets: Int = 128) {
        precondition(subBuckets >= 2 && subBuckets <= 4096, "subBuckets must be 2...4096")
        self.subBuckets = subBuckets
        counts = [Int](repeating: 0, count: 1 + Self.octaves * subBuckets)
    }

    public init<S: Sequence>(samples: S, subBuckets: Int = 128) where S.Element == Double {
        self.init(subBuckets: subBuckets)
        for s in samples { record(s) }
    }

    /// The number of buckets (fixed by the layout, not by the samples).
    public var bucketCount: Int { counts.count }

    /// The number of buckets holding at least one sample.
    public var usedBuckets: Int { counts.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }

    public var mean: Double { count > 0 ? sum / Double(count) : 0 }

    public var isEmpty: Bool { count == 0 }

    /// Adds a sample in seconds (negative and NaN samples count as 0).
    public mutating func record(_ seconds: Double) {
        let value = seconds.isNaN ? 0 : Swift.max(0, seconds)
        counts[index(of: value)] += 1
        if count == 0 {
            min = value
            max = value
        } else {
            min = Swift.min(min, value)
            max = Swift.max(max, value)
        }
        count += 1
        sum += value
    }

    /// The bucket a value (seconds) falls in.
    public func index(of seconds: Double) -> Int {
        let micros = seconds * 1_000_000
        guard micros >= 1 else { return 0 }
        guard micros.isFinite else { return counts.count - 1 }
        let octave = Int(micros.exponent)
        guard octave < Self.octaves else { return counts.count - 1 }
        let fraction = micros.significand - 1 // [0, 1)
        let sub = Swift.min(subBuckets - 1, Int(fraction * Double(subBuckets)))
        return 1 + octave * subBuckets + sub
    }

    /// The range of values (seconds) bucket `index` holds: [lower, upper).
    public func bounds(ofBucket index: Int) -> (lower: Double, upper: Double) {
        guard index > 0 else { return (0, 1e-6) }
        let octave = (index - 1) / subBuckets
        let sub = (index - 1) % subBuckets
        let base = Double(sign: .plus, exponent: octave, significand: 1)
        let width = base / Double(subBuckets)
        return ((base + Double(sub) * width) / 1_000_000, (base + Double(sub + 1) * width) / 1_000_000)
    }

    /// Nearest-rank percentile (0...100): the middle of the bucket holding the smallest sample
    /// with at least p % of the samples at or below it, kept within [min, max]; 0 when empty.
    public func percentile(_ p: Double) -> Double {
        guard count > 0 else { return 0 }
        let rank = Swift.min(Swift.max(Int((p / 100 * Double(count)).rounded(.up)), 1), count)
        if rank == count { return max }
        var seen = 0
        for (i, c) in counts.enumerated() where c > 0 {
            seen += c
            if seen >= rank {
                // Under 1 µs (the first bucket) the minimum stands for the bucket.
                guard i > 0 else { return min }
                let (lower, upper) = bounds(ofBucket: i)
                return Swift.min(max, Swift.max(min, (lower + upper) / 2))
            }
        }
        return max
    }

    /// Adds another histogram's samples. Both must have the same `subBuckets`.
    public mutating func merge(_ other: LogHistogram) {
        precondition(other.subBuckets == subBuckets, "histograms with different layouts do not merge")
        guard other.count > 0 else { return }
        for (i, c) in other.counts.enumerated() where c > 0 { counts[i] += c }
        if count == 0 {
            min = other.min
            max = other.max
        } else {
            min = Swift.min(min, other.min)
            max = Swift.max(max, other.max)
        }
        count += other.count
        sum += other.sum
    }

    /// The non-empty buckets as (index, count), in order.
    public var nonEmptyBuckets: [(index: Int, count: Int)] {
        counts.enumerated().compactMap { $0.element > 0 ? ($0.offset, $0.element) : nil }
    }

    // Serialised sparse: {"sub_buckets":128,"count":..,"min_s":..,"max_s":..,"sum_s":..,"buckets":[[index,count],...]}.
    private enum CodingKeys: String, CodingKey {
        case subBuckets = "sub_buckets", count, min = "min_s", max = "max_s", sum = "sum_s", buckets
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let sub = try c.decode(Int.self, forKey: .subBuckets)
        guard (2...4096).contains(sub) else {
            throw DecodingError.dataCorruptedError(forKey: .subBuckets, in: c, debugDescription: "sub_buckets must be 2...4096")
        }
        self.init(subBuckets: sub)
        let pairs = try c.decode([[Int]].self, forKey: .buckets)
        var total = 0
        for pair in pairs {
            guard pair.count == 2, counts.indices.contains(pair[0]), pair[1] >= 0 else {
                throw DecodingError.dataCorruptedError(forKey: .buckets, in: c, debugDescription: "bad bucket \(pair)")
            }
            counts[pair[0]] += pair[1]
            total += pair[1]
        }
        count = try c.decode(Int.self, forKey: .count)
        guard count == total else {
            throw DecodingError.dataCorruptedError(forKey: .count, in: c, debugDescription: "count \(count) but buckets hold \(total)")
        }
        min = try c.decode(Double.self, forKey: .min)
        max = try c.decode(Double.self, forKey: .max)
        sum = try c.decode(Double.self, forKey: .sum)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(subBuckets, forKey: .subBuckets)
        try c.encode(count, forKey: .count)
        try c.encode(min, forKey: .min)
        try c.encode(max, forKey: .max)
        try c.encode(sum, forKey: .sum)
        try c.encode(nonEmptyBuckets.map { [$0.index, $0.count] }, forKey: .buckets)
    }
}
