import Foundation

/// The statistics of one `--stats-interval`, in the manner of SIPp's `-trace_stat` rows: calls
/// started, passed and failed in the interval and since the start, calls in flight at its end,
/// the call rate, and the percentiles of each measured step's samples taken in the interval.
public struct IntervalStats: Sendable, Hashable {
    /// A step's samples in the interval (seconds; zero when `count` is 0).
    public struct Step: Sendable, Hashable {
        public var name: String
        public var count: Int
        public var p50: Double
        public var p90: Double
        public var p99: Double

        public init(name: String, samples: [Double]) {
            let sorted = samples.sorted()
            self.name = name
            count = sorted.count
            p50 = SampleSummary.percentile(sorted, 50)
            p90 = SampleSummary.percentile(sorted, 90)
            p99 = SampleSummary.percentile(sorted, 99)
        }
    }

    /// The end of the interval, in seconds since the run started (as the live line's time).
    public var time: Double
    /// The interval's length (the last one may be shorter).
    public var intervalSeconds: Double
    /// The end of the interval on the wall clock, seconds since 1970 (nil if unknown).
    public var wallClock: Double?
    /// Calls counted as the live line counts them: initiator legs when the run places calls,
    /// else the legs answered.
    public var started: Int
    public var passed: Int
    public var failed: Int
    public var totalStarted: Int
    public var totalPassed: Int
    public var totalFailed: Int
    /// Calls in flight at the end of the interval.
    public var inFlight: Int
    /// The offered rate at the end of the interval (calls/s, the ramp applied; 0 when the run
    /// places no calls or placing has ended).
    public var targetRate: Double
    /// Placing calls was paused at the end of the interval.
    public var paused: Bool
    public var steps: [Step]

    /// Calls started per second in the interval.
    public var rate: Double { intervalSeconds > 0 ? Double(started) / intervalSeconds : 0 }
}

/// Collects a run's calls interval by interval: each event goes into the interval open when it
/// happens, and `close` ends that interval and opens the next, so the per-interval counts add up
/// to the totals exactly. Pure: the caller gives the times (a virtual clock in tests).
public struct StatsTimeline: Sendable {
    /// The steps reported, in column order; samples of other names are left out. `call` is the
    /// duration of the passed calls that ended in the interval.
    public let stepNames: [String]
    public private(set) var rows: [IntervalStats] = []
    private var opened: Double
    private var started = 0, passed = 0, failed = 0
    private var totalStarted = 0, totalPassed = 0, totalFailed = 0
    private var samples: [String: [Double]] = [:]

    public init(steps: [String], start: Double = 0) {
        var names: [String] = []
        for name in steps + ["call"] where !names.contains(name) { names.append(name) }
        stepNames = names
        opened = start
    }

    /// When the open interval began.
    public var openedAt: Double { opened }

    public mutating func callStarted() {
        started += 1
        totalStarted += 1
    }

    public mutating func measured(_ name: String, seconds: Double) {
        guard stepNames.contains(name) else { return }
        samples[name, default: []].append(seconds)
    }

    /// A call ended. `counted`: it counts in started/passed/failed (see `IntervalStats.started`);
    /// a passed call's duration is a `call` sample either way.
    public mutating func callFinished(passed callPassed: Bool, durationSeconds: Double, counted: Bool = true) {
        if callPassed { measured("call", seconds: durationSeconds) }
        guard counted else { return }
        if callPassed { passed += 1; totalPassed += 1 } else { failed += 1; totalFailed += 1 }
    }

    /// Ends the open interval at `time` and returns its row (also kept in `rows`).
    @discardableResult
    public mutating func close(
        at time: Double, inFlight: Int, targetRate: Double, paused: Bool = false,
        wallClock: Double? = nil
    ) -> IntervalStats {
        let row = IntervalStats(
            time: time, intervalSeconds: max(0, time - opened), wallClock: wallClock,
            started: started, passed: passed, failed: failed,
            totalStarted: totalStarted, totalPassed: totalPassed, totalFailed: totalFailed,
            inFlight: inFlight, targetRate: targetRate, paused: paused,
            steps: stepNames.map { IntervalStats.Step(name: $0, samples: samples[$0] ?? []) })
        rows.append(row)
        opened = time
        started = 0
        passed = 0
        failed = 0
        samples = [:]
        return row
    }
}

/// The `--stats-csv` file: a header, then one row per interval.
public enum StatsCSV {
    public static func header(steps: [String]) -> String {
        ([
            "time_s", "wall_clock", "interval_s", "started", "passed", "failed", "total_started", "total_passed",
            "total_failed", "in_flight", "rate_cps", "target_cps", "paused",
        ]
            + steps.flatMap { ["\($0)_count", "\($0)_p50_ms", "\($0)_p90_ms", "\($0)_p99_ms"] })
            .map(ReportWriters.csvField).joined(separator: ",")
    }

    /// A row; a step's percentiles are empty when it had no sample in the interval.
    public static func row(_ r: IntervalStats) -> String {
        let wall =
            r.wallClock.map { t -> String in
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                return formatter.string(from: Date(timeIntervalSince1970: t))
            } ?? ""
        var fields = [
            f3(r.time), wall, f3(r.intervalSeconds), String(r.started), String(r.passed), String(r.failed),
            String(r.totalStarted), String(r.totalPassed), String(r.totalFailed), String(r.inFlight),
            f3(r.rate), f3(r.targetRate), r.paused ? "1" : "0",
        ]
        for s in r.steps {
            fields.append(String(s.count))
            fields += s.count > 0 ? [s.p50, s.p90, s.p99].map { ReportWriters.ms($0) } : ["", "", ""]
        }
        return fields.map(ReportWriters.csvField).joined(separator: ",")
    }

    /// The whole file for `rows` (what `StatsCSVWriter` has written once the run is over).
    public static func render(_ rows: [IntervalStats], steps: [String]) -> String {
        ([header(steps: steps)] + rows.map(row)).joined(separator: "\n") + "\n"
    }

    static func f3(_ x: Double) -> String { String(format: "%.3f", x) }
}

/// Writes the `--stats-csv` file as the run goes: the header when made, a row per interval as it
/// closes (so a run cut short keeps the rows so far). Safe to call from any thread.
public final class StatsCSVWriter: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()
    private let handle: FileHandle
    private var error: String?

    /// Creates (or empties) the file and writes the header.
    public init(path: String, steps: [String]) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: Data((StatsCSV.header(steps: steps) + "\n").utf8)) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        _ = try handle.seekToEnd()
    }

    public func append(_ row: IntervalStats) {
        lock.lock()
        defer { lock.unlock() }
        do { try handle.write(contentsOf: Data((StatsCSV.row(row) + "\n").utf8)) } catch {
            if self.error == nil { self.error = "\(path): \(error.localizedDescription)" }
        }
    }

    /// The first write error, if any.
    public var writeError: String? {
        lock.lock()
        defer { lock.unlock() }
        return error
    }

    public func close() {
        lock.lock()
        defer { lock.unlock() }
        try? handle.close()
    }
}
