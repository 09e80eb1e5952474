import Foundation
import EngineTime

/// What a `LoadRunner` records besides its calls: statistics per interval (`--stats-interval`)
/// and the traces of failed calls (`--trace-dir`).
struct RunObservation: Sendable {
    /// The wall-clock time (seconds since 1970) of the runner clock's zero.
    let wallClockOrigin = Date().timeIntervalSince1970
    var interval: Double?
    var steps: [String]?
    var onInterval: (@Sendable (IntervalStats) -> Void)?
    var timeline: StatsTimeline?
    var traces: TraceWriter?
    /// Whether this run places calls (then initiator legs are the calls counted).
    var placing = true
    /// Measurements already counted per call number (the rest are new since).
    var measured: [Int: Int] = [:]
    var closed = false
}

extension LoadRunner {
    /// Closes an interval of statistics every `seconds` from the runner's start (the live line's
    /// time zero) and hands each row to `onRow` as it closes; the run's report carries them all.
    /// `steps` are the measured steps reported (default: every `measure` of the endpoints'
    /// scenarios, the media steps with a media plane, and `call`). Call before `run`.
    public func recordIntervals(
        every seconds: Double, steps: [String]? = nil,
        onRow: (@Sendable (IntervalStats) -> Void)? = nil
    ) {
        precondition(seconds > 0, "interval must be positive")
        observation.interval = seconds
        observation.steps = steps
        observation.onInterval = onRow
    }

    /// Traces finished calls with `writer` (failed ones, or all with its `all`). Call before `run`.
    public func traceCalls(with writer: TraceWriter) {
        observation.traces = writer
    }

    /// The measured steps of this run's scenarios in order of appearance (the media steps after
    /// them with a media plane), then `call`: the columns of the stats CSV.
    public var measuredSteps: [String] {
        var names: [String] = []
        for name in endpoints.flatMap(\.scenario.measures) where !names.contains(name) { names.append(name) }
        if media != nil {
            names += ["accept->ice", "ice->dtls", "dtls->first-media", "restart->ice", "restart->media"].filter { !names.contains($0) }
        }
        return names + (names.contains("call") ? [] : ["call"])
    }

    /// Called by `run` before placing calls: starts the interval clock. Returns its task.
    func startObserving() -> Task<Void, Never>? {
        observation.placing = endpoints.contains { $0.scenario.role == .initiator }
        guard let interval = observation.interval else { return nil }
        observation.timeline = StatsTimeline(steps: observation.steps ?? measuredSteps, start: 0)
        return Task { [weak self] in
            var k = 1.0
            while !Task.isCancelled {
                guard let self else { return }
                let wait = k * interval - (await self.now).inSeconds
                if wait > 0 { try? await Task.sleep(for: .seconds(wait)) }
                if Task.isCancelled { return }
                await self.closeInterval(at: k * interval)
                k += 1
            }
        }
    }

    /// Ends the interval open at `time` (unless observation has ended) and hands its row on.
    private func closeInterval(at time: Double) {
        guard !observation.closed, var timeline = observation.timeline else { return }
        let c = counters
        let row = timeline.close(
            at: time, inFlight: c.inFlight, targetRate: c.stopped == nil ? c.rate : 0,
            paused: c.paused, wallClock: observation.wallClockOrigin + time)
        observation.timeline = timeline
        observation.onInterval?(row)
    }

    /// Called by `run` once every call has finished: closes the last (partial) interval and
    /// puts the rows and the trace summary into `report`.
    func finishObserving(_ report: inout RunReport) {
        if let timeline = observation.timeline, !observation.closed {
            let t = now.inSeconds
            if t > timeline.openedAt || timeline.rows.isEmpty { closeInterval(at: t) }
        }
        observation.closed = true
        report.intervals = observation.timeline?.rows ?? []
        report.traces = observation.traces?.summary
    }

    /// A call started: an initiator leg, or a leg answered.
    func observeStarted(role: Scenario.Role) {
        if role == .initiator || !observation.placing { observation.timeline?.callStarted() }
    }

    /// Counts the measurements `interpreter` took since the last look as taken now.
    func observeMeasurements(_ interpreter: CallInterpreter) {
        guard observation.timeline != nil else { return }
        let number = interpreter.variables["call_number"].flatMap(Int.init) ?? 0
        let seen = observation.measured[number] ?? 0
        guard interpreter.measurements.count > seen else { return }
        for m in interpreter.measurements[seen...] { observation.timeline?.measured(m.name, seconds: m.seconds) }
        observation.measured[number] = interpreter.measurements.count
    }

    /// A call's record is made: counts it, takes its media measurements, notes the failed step,
    /// and writes its trace when it is to be traced.
    func observeFinished(_ record: inout CallRecord, interpreter: CallInterpreter) {
        record.failedStep = record.verdict.passed ? nil : interpreter.failedStep
        if observation.timeline != nil {
            observeMeasurements(interpreter)
            observation.measured[record.callNumber] = nil
            // The media leg's steps come with the record.
            for m in record.measurements.dropFirst(interpreter.measurements.count) {
                observation.timeline?.measured(m.name, seconds: m.seconds)
            }
            // Read before the chain below starts modifying `observation` (exclusive access).
            let counted = record.role == .initiator || !observation.placing
            observation.timeline?.callFinished(
                passed: record.verdict.passed, durationSeconds: record.durationSeconds,
                counted: counted)
        }
        if let writer = observation.traces {
            record.tracePath = writer.write(
                CallTrace(
                    interpreter, verdict: record.verdict,
                    wallClockOrigin: observation.wallClockOrigin))
        }
    }
}
