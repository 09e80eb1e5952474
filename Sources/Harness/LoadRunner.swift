import EngineTime
import Jingle
import JingleKit
import NIOCore
import XMLStream
import XMPPClient
import XMPPCore

/// How many calls to place and how fast, in the manner of SIPp's `-r`, `-l`, `-m`.
public struct LoadOptions: Sendable {
    /// New calls per second once the ramp is over.
    public var rate: Double
    /// At most this many initiator calls in flight; new calls wait for a free slot.
    public var maxConcurrent: Int
    /// Stop placing calls after this many (nil: no limit).
    public var totalCalls: Int?
    /// Stop placing calls after this many seconds (nil: no limit).
    public var durationSeconds: Double?
    /// Rise linearly from a twentieth of `rate` to `rate` over this many seconds.
    public var rampSeconds: Double
    /// After placing stops, wait at most this long for calls in flight before aborting them.
    public var drainSeconds: Double
    /// Each placement starts one call on every initiator endpoint in the same instant (two-sided
    /// glare: both parties' session-initiates cross); `totalCalls` then counts placements.
    public var together: Bool
    /// Stop placing calls once this many calls have failed (nil: no limit).
    public var maxFailures: Int?
    /// A capacity search: the rate rises in steps from `rate` (nil: a steady rate).
    public var stair: StepStairOptions? = nil
    /// Which finished calls the report keeps in `records` (its statistics count every call).
    public var retention = RecordRetention()

    public init(
        rate: Double = 10, maxConcurrent: Int = 100, totalCalls: Int? = 1, durationSeconds: Double? = nil,
        rampSeconds: Double = 0, drainSeconds: Double = 30, together: Bool = false, maxFailures: Int? = nil
    ) {
        self.together = together
        self.maxFailures = maxFailures
        self.rate = rate
        self.maxConcurrent = maxConcurrent
        self.totalCalls = totalCalls
        self.durationSeconds = durationSeconds
        self.rampSeconds = rampSeconds
        self.drainSeconds = drainSeconds
    }
}

/// One logged-in account and the part it plays: an initiator calls `peer`; a responder answers
/// every session-initiate or JMI propose it receives with its scenario.
public struct HarnessEndpoint: Sendable {
    public var client: XMPPClient
    public var localJID: JID
    public var scenario: Scenario
    public var peer: JID?
    /// Variables every call of this endpoint starts with, besides `local_jid` and `peer`: for
    /// one of several devices of an account, `device` (1-based) and `devices`.
    public var variables: [String: String]

    public init(client: XMPPClient, localJID: JID, scenario: Scenario, peer: JID? = nil, variables: [String: String] = [:]) {
        self.variables = variables
        self.client = client
        self.localJID = localJID
        self.scenario = scenario
        self.peer = peer
    }
}

/// The media plane of a `--media` run: each call gets a transport from `provider` and passes
/// only when the peer's first media packet was decoded within `timeout` of the call's end (or
/// of its hang-up, which waits for it), and whose received audio passes `qualityGuard`
/// (`media-concealed` when more frames were concealed than it allows).
public struct MediaPlane: Sendable {
    public var provider: any MediaTransportProvider
    public var timeout: Duration
    public var qualityGuard: MediaQualityGuard

    public init(
        provider: any MediaTransportProvider, timeout: Duration = .seconds(5),
        qualityGuard: MediaQualityGuard = MediaQualityGuard()
    ) {
        self.provider = provider
        self.timeout = timeout
        self.qualityGuard = qualityGuard
    }
    /// JingleKit's ICE/DTLS-SRTP/Opus transport with host candidates on `localAddresses` only
    /// (no STUN/TURN discovery): what a load run on one machine or a LAN needs.
    public static func ice(
        localAddresses: [String], timeout: Duration = .seconds(5),
        qualityGuard: MediaQualityGuard = MediaQualityGuard()
    ) -> MediaPlane {
        MediaPlane(
            provider: ICEMediaTransportProvider(
                settings: CallMediaSettings(localAddresses: localAddresses, discoverServers: false), client: nil),
            timeout: timeout, qualityGuard: qualityGuard)
    }
}

/// Counters for the live line.
public struct LiveCounters: Sendable, Hashable {
    public var elapsed: Double
    public var started: Int
    public var succeeded: Int
    public var failed: Int
    public var inFlight: Int
    /// True while placing new calls is paused.
    public var paused: Bool = false
    /// The offered rate in calls per second (the ramp applied); 0 when this run places no calls.
    public var rate: Double = 0
    /// Time spent paused so far.
    public var pausedSeconds: Double = 0
    /// Why placing new calls stopped, once it has (the calls in flight are draining).
    public var stopped: StopReason?
}

/// Drives `CallInterpreter`s over `XMPPClient`s: places calls at the configured rate, routes
/// incoming stanzas to calls by Jingle `sid` or JMI `id`, fires deadlines, and collects records.
///
/// Sends of one call go out in order. Incoming Jingle IQs are answered by the scenario's
/// `<answer-iq/>`, sent in order with the call's other stanzas. A call also owns every other sid
/// or JMI id it sends, and a session-initiate from its peer while it is in flight (glare,
/// XEP-0166 §7.2.16): such stanzas reach the same call.
///
/// While a run places calls it can be paused (calls in flight carry on, no new call starts),
/// resumed (the rate schedule restarts from the resume, with no burst of the calls missed), and
/// given a new rate, as SIPp's keyboard controls do; see `CallSchedule`.
public actor LoadRunner {
    private struct CallKey: Hashable {
        var endpoint: Int
        var sid: String
    }

    private struct ActiveCall {
        var interpreter: CallInterpreter
        /// The last send still waiting for the media leg (sends after it wait for it in turn).
        var lastSend: Task<Void, Never>?
        var leg: MediaLeg?
        var lastMedia: Task<Void, Never>?
    }

    let endpoints: [HarnessEndpoint]
    private let options: LoadOptions
    let media: MediaPlane?
    private var pendingMedia = 0
    private var calls: [CallKey: ActiveCall] = [:]
    /// Further sids and JMI ids of a call, to the call's own key.
    private var aliases: [CallKey: CallKey] = [:]
    /// Each call's next deadline (its interpreter's), kept apart so finding the due calls copies
    /// no call.
    private var deadlines: [CallKey: EngineInstant] = [:]
    /// The aliases of each call, to drop them with it.
    private var aliasesOf: [CallKey: [CallKey]] = [:]
    /// Each endpoint's own variables (`local_jid`, `peer`...), made once.
    private let endpointVariables: [[String: String]]
    private var startWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []
    /// The calls kept under `options.retention`; `totals` counts every call.
    private var records: [CallRecord] = []
    private var totals = RunTotals()
    private var retained = RecordRetention.State()
    /// Calls that passed so far, counted as the live line counts them.
    private var passedCalls = 0
    private var stair: StepStair?
    /// The stair step each initiator call in flight was placed in, by call number.
    private var stairSteps: [Int: Int] = [:]
    private var recordSink: (@Sendable (CallRecord) -> Void)?
    private var started = 0
    private var nextCallNumber = 0
    private var inFlightInitiators = 0
    private var initiatorsStarted = 0
    private var stopRequested = false
    /// Why placing stopped: set by `stop(_:)` or by `placeCalls` when a limit is reached.
    private var stopReason: StopReason?
    /// Calls that failed so far, counted as the live line counts them (`--max-failures`).
    private var failedCalls = 0
    private var schedule: CallSchedule
    /// When placing calls ended (nil while it goes on); later pauses have no effect.
    private var placingEndedAt: EngineInstant?
    private let origin = ContinuousClock.now
    private var seed: UInt64 = UInt64.random(in: 0...UInt64.max)
    /// Statistics per interval and call traces (LoadRunner+Observation.swift).
    var observation = RunObservation()

    /// The executor of this actor: `HarnessSetup.eventLoop`, the loop of the endpoints' connections.
    private nonisolated let executor: any SerialExecutor = HarnessSetup.eventLoop.executor

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    public init(endpoints: [HarnessEndpoint], options: LoadOptions, media: MediaPlane? = nil) {
        self.endpoints = endpoints
        endpointVariables = endpoints.map(Self.variables)
        self.options = options
        self.media = media
        schedule = CallSchedule(rate: options.rate, ramp: .seconds(options.rampSeconds), now: .zero)
        stair = options.stair.map { StepStair(options: $0, startRate: options.rate) }
        // Reports list the initiators' measures first, as a call's legs are sorted.
        let scenarios =
            endpoints.map(\.scenario).filter { $0.role == .initiator } + endpoints.map(\.scenario).filter { $0.role == .responder }
        totals.preferredOrder = CallRecordStream.measureNames(scenarios, media: media != nil)
    }

    /// Hands every finished call's record to `sink` as it finishes (before retention drops it),
    /// for per-call output written as the run goes (`CallRecordStream`).
    public func setRecordSink(_ sink: (@Sendable (CallRecord) -> Void)?) { recordSink = sink }

    /// Stops placing new calls; calls in flight may still finish (within `drainSeconds`). The
    /// report gives `reason` as what stopped the run (unless a limit stopped it first).
    public func stop(_ reason: StopReason = .interrupted("stop requested")) {
        stopRequested = true
        if placingEndedAt == nil, stopReason == nil { stopReason = reason }
    }

    /// Stops placing new calls until `resume()`; calls in flight carry on. Paused time does not
    /// count towards `durationSeconds`, the ramp or the reported rate. No effect once placing ended.
    public func pause() {
        guard placingEndedAt == nil else { return }
        schedule.pause(now: now)
    }

    /// Places calls again, the next one at once and the rest at the rate from here on.
    public func resume() { schedule.resume(now: now) }

    /// Sets the rate (calls per second, at least `CallSchedule.minimumRate`) from now on.
    public func setRate(_ rate: Double) { schedule.setRate(rate, now: now) }

    /// True while placing new calls is paused.
    public var isPaused: Bool { schedule.isPaused }

    /// The configured rate (before any ramp), as last set.
    public var rate: Double { schedule.rate }

    /// Returns once `count` initiator calls have started (their first sends are under way), or
    /// the run has ended.
    public func waitUntilStarted(_ count: Int) async {
        if initiatorsStarted >= count || finished { return }
        await withCheckedContinuation { startWaiters.append((count, $0)) }
    }

    private var finished = false

    private func wakeStartWaiters() {
        let ready = startWaiters.filter { finished || initiatorsStarted >= $0.count }
        startWaiters.removeAll { finished || initiatorsStarted >= $0.count }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// Counts calls by their initiator legs when this process places calls, else by responder legs.
    public var counters: LiveCounters {
        let placing = endpoints.contains { $0.scenario.role == .initiator }
        let t = now
        return LiveCounters(
            elapsed: t.inSeconds, started: placing ? initiatorsStarted : started, succeeded: passedCalls,
            failed: failedCalls, inFlight: placing ? inFlightInitiators : calls.count,
            paused: schedule.isPaused && placingEndedAt == nil, rate: placing ? schedule.currentRate(now: t) : 0,
            pausedSeconds: pausedSeconds, stopped: placingEndedAt == nil ? nil : stopReason)
    }

    private var pausedSeconds: Double { schedule.paused(now: placingEndedAt ?? now).inSeconds }

    /// The runner's clock: the time since it was made.
    var now: EngineInstant { ContinuousClock.now - origin }

    /// Places calls until the total, the duration or `stop()`, lets them finish, and reports.
    /// `progress` gets the counters every `progressInterval`.
    public func run(
        scenarioName: String, progressInterval: Duration = .seconds(1),
        progress: (@Sendable (LiveCounters) -> Void)? = nil
    ) async -> RunReport {
        for (index, endpoint) in endpoints.enumerated() {
            // Jingle requests come in order with the messages around them, and the scenario
            // answers them itself (`answer-iq`), in order with its other sends.
            await endpoint.client.streamIQRequests(namespace: JingleNamespace.jingle)
            // Each stanza goes to its call as it is read, on the loop this runner runs on.
            endpoint.client.receiveStanzas { [weak self] element in
                self?.onRunner { $0.incoming(endpoint: index, element) }
            }
        }
        let reporter = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: progressInterval)
                if let counters = await self?.counters, !Task.isCancelled { progress?(counters) }
            }
        }

        let intervals = startObserving()
        let placingFrom = now
        await placeCalls()
        placingEndedAt = now
        let placing = max(0, (now - placingFrom).inSeconds - pausedSeconds)
        let drainUntil = now + .seconds(options.drainSeconds)
        while !calls.isEmpty || pendingMedia > 0, now < drainUntil {
            await wait(seconds: 0.01)
        }
        for key in Array(calls.keys) {
            if var call = calls.removeValue(forKey: key) { perform(call.interpreter.abort(.aborted, now: now), key: key, call: &call) }
        }
        let mediaUntil = now + .seconds(10) + (media?.timeout ?? .zero)
        while pendingMedia > 0, now < mediaUntil {
            await wait(seconds: 0.01)
        }
        finished = true
        wakeStartWaiters()
        tick?.task.cancel()
        tick = nil
        reporter.cancel()
        for endpoint in endpoints {
            endpoint.client.receiveStanzas(nil)
            await endpoint.client.streamIQRequests(namespace: JingleNamespace.jingle, false)
        }
        intervals?.cancel()
        var report = RunReport(
            scenario: scenarioName, totals: totals, records: records, elapsedSeconds: now.inSeconds, started: started,
            pausedSeconds: pausedSeconds, placingSeconds: placing, stopReason: stopReason,
            capacity: stair?.report)
        finishObserving(&report)
        return report
    }

    /// Waits on the runner's event loop: a `Task.sleep` would have a timer thread wake the loop
    /// to resume here, once per call placed.
    private func wait(seconds: Double) async {
        let delay = TimeAmount.nanoseconds(Int64(max(0, seconds) * 1e9))
        await withCheckedContinuation { (resume: CheckedContinuation<Void, Never>) in
            HarnessSetup.eventLoop.scheduleTask(in: delay) { resume.resume() }
        }
    }

    /// Runs `body` on this actor: at once when called on its event loop (where the XMPP
    /// client's callbacks come), else queued to that loop (in order, from a client on another).
    private nonisolated func onRunner(_ body: @escaping @Sendable (isolated LoadRunner) -> Void) {
        if HarnessSetup.eventLoop.inEventLoop {
            assumeIsolated { body($0) }
        } else {
            HarnessSetup.eventLoop.execute { self.assumeIsolated { body($0) } }
        }
    }

    private func placeCalls() async {
        let callers = endpoints.indices.filter { endpoints[$0].scenario.role == .initiator && endpoints[$0].peer != nil }
        var issued = 0
        // The schedule starts now (not when the runner was made); a pause made before stays.
        if !schedule.isPaused { schedule.setRate(schedule.rate, now: now) }
        func limit(_ reason: StopReason) { if stopReason == nil { stopReason = reason } }
        // The stair's steps count from here (placing time, pauses left out).
        let stairFrom = schedule.active(now: now)
        placing: while !stopRequested {
            if let total = options.totalCalls, issued >= total { limit(.calls(total)); break }
            if let duration = options.durationSeconds, schedule.active(now: now) >= .seconds(duration) { limit(.duration(duration)); break }
            if let most = options.maxFailures, failedCalls >= most { limit(.maxFailures(most)); break }
            switch stair?.advance(activeSeconds: (schedule.active(now: now) - stairFrom).inSeconds) {
            case .rate(let stepRate): schedule.setRate(stepRate, now: now)
            case .stop(let reason): limit(reason); break placing
            case .keep, nil: break
            }
            if callers.isEmpty {
                // A responder-only run answers until the duration, the total or stop.
                if options.durationSeconds == nil, let total = options.totalCalls, started >= total, calls.isEmpty {
                    limit(.calls(total))
                    break
                }
                await wait(seconds: 0.02)
                continue
            }
            guard let due = schedule.nextDue else {
                await wait(seconds: 0.02)
                continue
            }
            if due > now {
                await wait(seconds: min((due - now).inSeconds, 0.05))
                continue
            }
            if inFlightInitiators >= options.maxConcurrent {
                await wait(seconds: 0.002)
                continue
            }
            if options.together {
                for caller in callers { startCall(on: caller) }
            } else {
                startCall(on: callers[issued % callers.count])
            }
            wakeStartWaiters()
            issued += 1
            schedule.placed(now: now)
        }
    }

    private func nextSeed() -> UInt64 {
        seed = seed &* 6364136223846793005 &+ 1442695040888963407
        return seed
    }

    private func addAlias(_ alias: CallKey, of key: CallKey) {
        guard aliases.updateValue(key, forKey: alias) != key else { return }
        aliasesOf[key, default: []].append(alias)
    }

    private static func variables(_ endpoint: HarnessEndpoint) -> [String: String] {
        var vars = endpoint.variables
        vars["local_jid"] = endpoint.localJID.description
        vars["local_bare"] = endpoint.localJID.bare.description
        if let peer = endpoint.peer {
            vars["peer"] = peer.description
            vars["peer_bare"] = peer.bare.description
        }
        return vars
    }

    private func startCall(on index: Int) {
        let endpoint = endpoints[index]
        nextCallNumber += 1
        started += 1
        initiatorsStarted += 1
        inFlightInitiators += 1
        observeStarted(role: .initiator)
        let interpreter = CallInterpreter(
            scenario: endpoint.scenario, callNumber: nextCallNumber,
            variables: endpointVariables[index], seed: nextSeed(), now: now)
        let key = CallKey(endpoint: index, sid: interpreter.variables["sid"] ?? "call\(nextCallNumber)")
        if let step = stair?.placed() { stairSteps[nextCallNumber] = step }
        var call = ActiveCall(interpreter: interpreter)
        call.leg = media.map { MediaLeg(provider: $0.provider, sid: key.sid, role: .initiator, qualityGuard: $0.qualityGuard) }
        let outputs = call.interpreter.start(now: now)
        perform(outputs, key: key, call: &call)
    }

    /// The call a stanza belongs to: by Jingle sid or JMI id. A responder endpoint opens a new call
    /// for a session-initiate or propose with an unknown id.
    private func route(endpoint index: Int, _ received: XMLElement) -> CallKey? {
        // A carbon belongs to the call its forwarded message names, and never opens one.
        let carbon = CallInterpreter.carbon(in: received)
        let stanza = carbon?.1 ?? received
        let jingle = stanza.child("jingle", namespace: JingleNamespace.jingle)
        let jmi = stanza.elements.first { $0.namespace == JingleNamespace.jingleMessage }
        guard let sid = jingle?.attribute("sid") ?? jmi?.attribute("id") else { return nil }
        let key = CallKey(endpoint: index, sid: sid)
        if calls[key] != nil { return key }
        if let owner = aliases[key], calls[owner] != nil { return owner }
        let endpoint = endpoints[index]
        let opens = carbon == nil && (jingle?.attribute("action") == JingleAction.sessionInitiate.rawValue || jmi?.name == "propose")
        // Glare: a session-initiate or propose from the peer of one of our calls in flight (any
        // resource of the peer's account: its call may come from another device) belongs to the
        // oldest such call whose waiting step takes it.
        if opens, endpoint.scenario.role == .initiator, let from = stanza.attribute("from").flatMap(JID.init),
            let owner = calls.lazy.filter({ k, call in
                k.endpoint == index && call.interpreter.variables["peer"].flatMap(JID.init)?.bare == from.bare
                    && call.interpreter.wants(stanza)
            }).min(by: { $0.value.interpreter.startedAt < $1.value.interpreter.startedAt })?.key
        {
            addAlias(key, of: owner)
            return owner
        }
        guard endpoint.scenario.role == .responder, opens, !stopRequested || options.durationSeconds == nil else { return nil }
        nextCallNumber += 1
        started += 1
        observeStarted(role: .responder)
        var vars = endpointVariables[index]
        vars["sid"] = sid
        if let from = stanza.attribute("from") { vars["peer"] = from; vars["peer_bare"] = JID(from)?.bare.description ?? from }
        var call = ActiveCall(
            interpreter: CallInterpreter(
                scenario: endpoint.scenario, callNumber: nextCallNumber,
                variables: vars, seed: nextSeed(), now: now))
        call.leg = media.map { MediaLeg(provider: $0.provider, sid: sid, role: .responder, qualityGuard: $0.qualityGuard) }
        let outputs = call.interpreter.start(now: now)
        perform(outputs, key: key, call: &call)
        return calls[key] != nil ? key : nil
    }

    private func incoming(endpoint index: Int, _ stanza: XMLElement) {
        // XEP-0280 §11: a carbon is only believed from our own bare JID.
        if CallInterpreter.carbon(in: stanza) != nil, stanza.attribute("from").flatMap(JID.init) != endpoints[index].localJID.bare {
            return
        }
        guard let key = route(endpoint: index, stanza), var call = calls.removeValue(forKey: key) else {
            // XEP-0166 §7.3: a Jingle request for a session we do not have. (The scenario
            // answers those of its calls with `answer-iq`; one it never answers stays unanswered.)
            if stanza.name == "iq", let iq = IQ(element: stanza), iq.type == .set || iq.type == .get {
                let error = iq.error(
                    StanzaError(
                        .itemNotFound,
                        applicationCondition:
                            XMLElement("unknown-session", namespace: JingleNamespace.errors)))
                endpoints[index].client.enqueue(error.element) { _ in }
            }
            return
        }
        toMedia(stanza, call: &call)
        let outputs = call.interpreter.receive(stanza, now: now)
        perform(outputs, key: key, call: &call)
    }

    /// Hands a received stanza to the call's media leg, in arrival order.
    private func toMedia(_ stanza: XMLElement, call: inout ActiveCall) {
        guard let leg = call.leg, stanza.child("jingle", namespace: JingleNamespace.jingle) != nil else { return }
        let previous = call.lastMedia
        call.lastMedia = Task {
            await previous?.value
            await leg.received(stanza)
        }
    }

    private func deliver(_ key: CallKey, _ stanza: XMLElement) {
        guard var call = calls.removeValue(forKey: key) else { return }
        let outputs = call.interpreter.receive(stanza, now: now)
        perform(outputs, key: key, call: &call)
    }

    private func abortCall(_ key: CallKey, _ cause: FailureCause) {
        guard var call = calls.removeValue(forKey: key) else { return }
        perform(call.interpreter.abort(cause, now: now), key: key, call: &call)
    }

    /// Fires at the earliest deadline of the calls (a pause's end, an expect's timeout) on the
    /// event loop; none while no call waits on time.
    private var tick: (at: EngineInstant, task: Scheduled<Void>)?

    /// Makes sure the tick fires by `deadline`.
    private func armTick(by deadline: EngineInstant) {
        guard !finished else { return }
        if let tick, tick.at <= deadline { return }
        tick?.task.cancel()
        let delay = TimeAmount.nanoseconds(Int64(max(0, (deadline - now).inSeconds) * 1e9))
        let task = HarnessSetup.eventLoop.scheduleTask(in: delay) { [weak self] () -> Void in
            guard let self else { return }
            self.assumeIsolated { $0.tickAll() }
        }
        tick = (deadline, task)
    }

    private func tickAll() {
        tick = nil
        defer { if let next = deadlines.values.min() { armTick(by: next) } }
        let t = now
        // Each due call is taken out of the table while it runs, so neither the table nor the
        // call's interpreter is copied (a copy of either would be copied again on write).
        let due = deadlines.compactMap { $0.value <= t ? $0.key : nil }
        for key in due {
            guard var call = calls.removeValue(forKey: key) else { continue }
            perform(call.interpreter.handleTimeout(now: t), key: key, call: &call)
        }
    }

    /// Carries out interpreter outputs and stores the call back (or records it when finished).
    /// Callers take the call out of `calls` first: mutating a copy the table still holds would
    /// copy the interpreter's arrays on every stanza.
    private func perform(_ outputs: [CallInterpreter.Output], key: CallKey, call: inout ActiveCall) {
        observeMeasurements(call.interpreter)
        let client = endpoints[key.endpoint].client
        for output in outputs {
            switch output {
            case .send(let element):
                let sent =
                    element.child("jingle", namespace: JingleNamespace.jingle)?.attribute("sid")
                    ?? element.elements.first { $0.namespace == JingleNamespace.jingleMessage }?.attribute("id")
                if let sent, sent != key.sid { addAlias(CallKey(endpoint: key.endpoint, sid: sent), of: key) }
                let previous = call.lastSend
                guard let leg = call.leg else {
                    // Signalling only: written now, in order (the XMPP client queues it on its event loop).
                    transmit(element, client: client, key: key)
                    continue
                }
                let timeout = media?.timeout ?? .zero
                call.lastSend = Task { [weak self] in
                    await previous?.value
                    var element = element
                    // A hang-up waits (bounded) for media to flow; an offer or answer carries the leg's transport.
                    if element.child("jingle", namespace: JingleNamespace.jingle)?.attribute("action")
                        == JingleAction.sessionTerminate.rawValue
                    {
                        await leg.settle(timeout: timeout)
                    }
                    element = await leg.fill(element)
                    await self?.transmit(element, client: client, key: key)
                }
            case .answerIQ(_, let response):
                guard let previous = call.lastSend else {
                    transmit(response, client: client, key: key)
                    continue
                }
                call.lastSend = Task { [weak self] in
                    await previous.value
                    await self?.transmit(response, client: client, key: key)
                }
            case .finished(let verdict):
                let interpreter = call.interpreter
                if let leg = call.leg {
                    // The media leg settles (bounded) after the signalling; the record waits for it.
                    pendingMedia += 1
                    let timeout = media?.timeout ?? .zero
                    let lastMedia = call.lastMedia
                    Task { [weak self] in
                        await lastMedia?.value
                        if verdict.passed { await leg.settle(timeout: timeout) }
                        let outcome = await leg.outcome()
                        await leg.close()
                        await self?.record(interpreter, verdict: verdict, media: outcome)
                    }
                } else {
                    record(interpreter, verdict: verdict, media: nil)
                }
                if interpreter.scenario.role == .initiator { inFlightInitiators -= 1 }
                calls[key] = nil
                for alias in aliasesOf.removeValue(forKey: key) ?? [] { aliases[alias] = nil }
                deadlines[key] = nil
                return
            }
        }
        deadlines[key] = call.interpreter.nextDeadline
        if let deadline = call.interpreter.nextDeadline { armTick(by: deadline) }
        calls[key] = call
    }

    private func record(_ interpreter: CallInterpreter, verdict: CallVerdict, media outcome: MediaLeg.Outcome?) {
        if outcome != nil { pendingMedia -= 1 }
        var verdict = verdict
        if verdict.passed, let failure = outcome?.failure { verdict = .failed(failure) }
        // Counted as the live line counts: initiator legs when this process places calls.
        let placing = endpoints.contains { $0.scenario.role == .initiator }
        if !placing || interpreter.scenario.role == .initiator {
            if verdict.passed { passedCalls += 1 } else { failedCalls += 1 }
        }
        var record = CallRecord(
            callNumber: interpreter.variables["call_number"].flatMap(Int.init) ?? 0,
            role: interpreter.scenario.role, scenario: interpreter.scenario.name, verdict: verdict,
            startedAt: interpreter.startedAt.inSeconds,
            durationSeconds: ((interpreter.finishedAt ?? now) - interpreter.startedAt).inSeconds,
            measurements: interpreter.measurements + (outcome?.measurements ?? []), kept: interpreter.kept,
            transcript: interpreter.transcript, decidingStanza: interpreter.decidingStanza)
        observeFinished(&record, interpreter: interpreter)
        totals.add(record)
        if record.role == .initiator, let step = stairSteps.removeValue(forKey: record.callNumber) {
            stair?.finished(step: step, passed: verdict.passed, measurements: record.measurements)
        }
        recordSink?(record)
        if let kept = retained.admit(record, under: options.retention) { records.append(kept) }
    }

    /// Queues `element` for writing on the endpoint's connection (in order with earlier ones);
    /// a request's response (result or error) comes back to the call as a received stanza, and
    /// later sends of the call are not held up by it (the answer may itself wait on them, as in glare).
    private func transmit(_ element: XMLElement, client: XMPPClient, key: CallKey) {
        let type = element.attribute("type")
        let tracked =
            element.name == "iq" && (type == "set" || type == "get")
            && client.enqueueRequest(element, timeout: .seconds(120)) { [weak self] result in
                guard let self else { return }
                // A response comes from a read, never from inside this call's `perform`; a
                // failure may (no connection) and goes through a task, after the call is back.
                if case .success = result { onRunner { $0.responded(key, result) } } else { Task { await self.responded(key, result) } }
            }
        // Anything else, an IQ request with a malformed address included, goes out as written.
        if !tracked {
            client.enqueue(element) { [weak self] error in Task { await self?.abortCall(key, .transport("\(error)")) } }
        }
    }

    private func responded(_ key: CallKey, _ result: Result<IQ, XMPPError>) {
        switch result {
        case .success(let response): deliver(key, response.element)
        case .failure(.timeout): return
        case .failure(let error): abortCall(key, .transport("\(error)"))
        }
    }
}
