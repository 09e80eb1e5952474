import ArgumentParser
import Foundation
import Jingle
import JingleKit
import XMPPClient
import XMPPCore
#if canImport(Glibc)
    import Glibc
#endif

/// `jingle-bench calls`: whole calls through a real XMPP server in one process: for each level N,
/// N concurrent JMI calls from one account to another (the callee echoes, the caller plays a
/// tone), with ICE, DTLS-SRTP and Opus both ways. Reports call setup (propose -> first audio) and
/// whether the media clocks kept up (late ticks), with the process's CPU use.
struct CallsBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calls",
        abstract: "Concurrent calls with media through an XMPP server: setup time and late frames per level.")

    @Option(help: "XMPP server HOST:PORT.") var server: String
    @Option(name: .customLong("ca-file"), help: "PEM CA file to trust.") var caFile: String?
    @Option(help: "Caller account JID.") var caller: String
    @Option(name: .customLong("caller-password-file")) var callerPasswordFile: String
    @Option(help: "Callee account JID.") var callee: String
    @Option(name: .customLong("callee-password-file")) var calleePasswordFile: String
    @Option(help: "Comma-separated numbers of concurrent calls to measure.") var levels: String = "1,4,8,16"
    @Option(help: "Seconds each level's calls stay up once all are connected.") var seconds: Int = 10
    @Option(name: .customLong("local-address"), help: "Address for ICE host candidates.") var localAddress: String = "127.0.0.1"
    @Flag(name: .customLong("relay-only"), help: "Force media through the server's TURN relay (XEP-0215).") var relayOnly = false
    @Option(name: .customLong("opus-complexity"), help: "Opus encoder complexity 0-10 (default: libopus's, 9).") var opusComplexity: Int?
    @Flag(help: "Print every call event with its time since the call was placed.") var trace = false

    func run() async throws {
        let counts = levels.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--levels: positive integers, e.g. 1,4,8") }
        let settings = CallMediaSettings(localAddresses: [localAddress], relayOnly: relayOnly, opusComplexity: opusComplexity)
        let most = counts.max() ?? 1
        let (callerClient, callerCalls) = try await login(caller, callerPasswordFile, "bench-caller", settings, maximumCalls: most)
        let (calleeClient, calleeCalls) = try await login(callee, calleePasswordFile, "bench-callee", settings, maximumCalls: most)
        _ = try await calleeClient.ping(nil, timeout: .seconds(10))
        let answering = Task {
            for await call in calleeCalls.incomingCalls {
                let echo = EchoAudio(capacity: 5)
                call.setAudioSink(echo)
                call.setAudioSource(echo)
                try? await call.accept()
            }
        }
        guard let calleeBare = JID(callee)?.bare else { throw ValidationError("bad callee JID") }
        print("calls  setup p50  setup p95  setup max  late ticks  frames    CPU (of one core)  per endpoint")
        for n in counts {
            try await measure(n, callerCalls, calleeCalls, calleeBare)
        }
        answering.cancel()
        await callerCalls.stop()
        await calleeCalls.stop()
        await callerClient.disconnect()
        await calleeClient.disconnect()
    }

    private func measure(_ n: Int, _ callerCalls: CallManager, _ calleeCalls: CallManager, _ calleeBare: JID) async throws {
        // Place n calls at once and wait until each has decoded the peer's first audio.
        let calls = try await withThrowingTaskGroup(of: Call.self) { group in
            for _ in 0..<n {
                group.addTask {
                    let call = try await callerCalls.placeCall(to: calleeBare, timeout: .seconds(30))
                    call.setAudioSource(ToneSource(frequency: 440))
                    let t0 = ContinuousClock.now
                    let trace = self.trace
                    for await event in call.events {
                        if trace { print("trace \(call.sid.prefix(4)) +\(ContinuousClock.now - t0) \(event)") }
                        switch event {
                        case .firstAudio: return call
                        case .ended(let reason): throw BenchFailure("a call ended before audio: \(reason)")
                        default: continue
                        }
                    }
                    throw BenchFailure("a call's events ended before audio")
                }
            }
            var made: [Call] = []
            for try await call in group { made.append(call) }
            return made
        }
        var setups: [Double] = []
        var steps: [String: [Double]] = [:]
        func inSeconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        for call in calls {
            let t = await call.statistics
            if let d = t.firstAudio { setups.append(inSeconds(d)) }
            for (name, value) in [
                ("proceed", t.proposeToProceed), ("accept", t.setup), ("ICE", t.iceConnected),
                ("DTLS", t.dtlsConnected), ("audio", t.firstAudio),
            ] {
                if let value { steps[name, default: []].append(inSeconds(value)) }
            }
        }
        let medians = ["proceed", "accept", "ICE", "DTLS", "audio"].map { name -> String in
            let v = (steps[name] ?? []).sorted()
            return v.isEmpty ? "\(name) -" : String(format: "%@ %.0f ms", name, v[v.count / 2] * 1000)
        }
        let before = await ticks(callerCalls, calleeCalls)
        let cpuBefore = processCPUSeconds()
        let wallBefore = ContinuousClock.now
        try await Task.sleep(for: .seconds(seconds)) // the measured period: calls run on their own
        let wall = ContinuousClock.now - wallBefore
        let cpu = processCPUSeconds() - cpuBefore
        let after = await ticks(callerCalls, calleeCalls)
        for call in calls { await call.hangUp() }
        for call in calls { for await _ in call.events {} } // wait for each end

        setups.sort()
        func pct(_ p: Double) -> Double { setups.isEmpty ? .nan : setups[min(setups.count - 1, Int(Double(setups.count - 1) * p))] * 1000 }
        let late = after.late - before.late, frames = after.frames - before.frames
        let wallSeconds = inSeconds(wall)
        // One endpoint in real time plays 50 frames a second: CPU per endpoint is the process's
        // CPU over the endpoint-seconds of media actually ticked (so skipped ticks do not flatter it).
        let endpointSeconds = Double(frames) * inSeconds(CallAudio.frameDuration)
        print(
            String(
                format: "%5d  %7.0f ms %7.0f ms %7.0f ms  %9.3f%%  %8d  %5.0f%%             %5.2f%%",
                n, pct(0.5), pct(0.95), pct(1), frames == 0 ? 0 : 100 * Double(late) / Double(frames), frames,
                100 * cpu / wallSeconds, endpointSeconds == 0 ? 0 : 100 * cpu / endpointSeconds))
        print("       median since propose: " + medians.joined(separator: ", "))
    }

    /// Late ticks and frames over every endpoint of both managers.
    private func ticks(_ managers: CallManager...) async -> (late: Int, frames: Int) {
        var late = 0, frames = 0
        for m in managers {
            for call in await m.activeCalls {
                if let s = await call.mediaStatistics { late += s.lateTicks; frames += s.framesPlayed }
            }
        }
        return (late, frames)
    }

    private func login(
        _ jid: String, _ passwordFile: String, _ resource: String, _ settings: CallMediaSettings,
        maximumCalls: Int = 1
    ) async throws -> (XMPPClient, CallManager) {
        guard let account = JID(jid) else { throw ValidationError("'\(jid)' is not a JID") }
        let password =
            try String(contentsOfFile: passwordFile, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let client = XMPPClient(
            configuration: XMPPClientConfiguration(
                jid: account.with(resource: resource), password: password,
                server: XMPPClientConfiguration.ServerAddress(server), trustedCAFile: caFile))
        try await client.connect()
        let media = ICEMediaTransportProvider(settings: settings, client: client)
        let calls = try await CallManager.forClient(
            client,
            configuration: CallConfiguration(
                mediaTransports: media, maximumConcurrentCalls: maximumCalls))
        await calls.start()
        return (client, calls)
    }

    private func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
