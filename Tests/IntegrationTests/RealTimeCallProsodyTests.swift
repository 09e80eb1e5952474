import CallTestSupport
import Foundation
import Jingle
import JingleKit
import Synchronization
import Testing
import Transport
import XMPPClient
import XMPPCore

/// Whole calls with media, end to end: two XMPP sessions on the private Prosody, JMI then Jingle,
/// TURN credentials from Prosody over XEP-0215 for jingle-relay, relay-only ICE over libnice,
/// DTLS-SRTP and Opus; the callee records and the recording is scored with wideband PESQ.
/// Real time: Tools/test runs these on their own after the other suites.
@Suite(.serialized) struct RealTimeCallProsodyTests {
    func connect(_ account: (jid: JID, password: String), _ resource: String, _ prosody: ProsodyFixture) async throws -> XMPPClient {
        let client = XMPPClient(
            configuration: XMPPClientConfiguration(
                jid: account.jid.with(resource: resource), password: account.password,
                server: .init(host: "127.0.0.1", port: prosody.port), trustedCAFile: prosody.caFile,
                connectTimeout: .seconds(5), negotiationStepTimeout: .seconds(10), requestTimeout: .seconds(10)))
        try await client.connect()
        return client
    }

    /// - Parameter recorder: the settings a call recorder would pick, fidelity over latency: a
    ///   deeper jitter buffer and no time stretching, so every played frame is 20 ms of what was sent.
    func manager(_ client: XMPPClient, relayOnly: Bool, recorder: Bool = false) async throws -> CallManager {
        var settings = CallMediaSettings(localAddresses: ["127.0.0.1"], relayOnly: relayOnly)
        if recorder {
            settings.jitterBuffer = AdaptiveJitterBufferSettings(minimumDelay: .milliseconds(120))
            settings.timeStretching = false
        }
        let media = ICEMediaTransportProvider(settings: settings, client: client)
        let m = try await CallManager.forClient(client, configuration: CallConfiguration(mediaTransports: media))
        await m.start()
        return m
    }

    @Test func speechThroughJingleRelayWithProsodyCredentialsScoresAbove3_8() async throws {
        let prosody = try await ProsodyFixture.shared()
        let relay = try await RelayFixture.shared(for: prosody)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jk-rt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { if ProcessInfo.processInfo.environment["JINGLEKIT_KEEP_AUDIO"] == nil { try? FileManager.default.removeItem(at: dir) } }
        let speech = dir.appendingPathComponent("speech.wav")
        let made = try await Repository.run("\(Repository.root)/Tools/speech-sample", [speech.path])
        #expect(made.status == 0, "Tools/speech-sample: \(made.output)")

        let callerClient = try await connect(try await prosody.account("rt-caller"), "agent", prosody)
        let calleeClient = try await connect(try await prosody.account("rt-callee"), "agent", prosody)
        defer {
            Task {
                await callerClient.disconnect(); await calleeClient.disconnect()
            }
        }
        let caller = try await manager(callerClient, relayOnly: true)
        let callee = try await manager(calleeClient, relayOnly: true, recorder: true)
        _ = try await calleeClient.ping(nil, timeout: .seconds(10)) // presence settled before the proposal

        let calleeJID = try #require(await calleeClient.connectionInfo?.boundJID).bare
        let call = try await caller.placeCall(to: calleeJID, timeout: .seconds(30))
        let callerEvents = EventReader(call)
        let incoming = try await nextIncoming(callee)
        let recorder = try WAVFileRecorder(url: dir.appendingPathComponent("received.wav"))
        let silence = SilenceAfterSound()
        incoming.setAudioSink(TeeSink([recorder, silence]))
        let calleeEvents = EventReader(incoming)
        try await incoming.accept()

        let ice = try await callerEvents.next("ICE connected") { if case .iceConnected = $0 { true } else { false } }
        guard case .iceConnected(let pair) = ice else { return }
        #expect(pair.localType == .relay, "relay-only: our side uses the relay, got \(pair)")
        _ = try await callerEvents.next("media connected") { $0 == .mediaConnected }
        call.setAudioSource(try PCMBufferSource.file(speech))
        _ = try await callerEvents.next("speech sent", within: .seconds(60)) { $0 == .audioSourceFinished }
        _ = try await calleeEvents.next("first audio") { $0 == .firstAudio }
        // The jitter buffer drains: wait for half a second of silence after the speech.
        try await within(.seconds(15), "silence after the speech") { await silence.wait() }

        let sent = try #require(await call.mediaStatistics)
        let received = try #require(await incoming.mediaStatistics)
        #expect(received.selectedPair?.isRelayed == true)
        #expect(sent.srtpProfile != nil && sent.srtpProfile == received.srtpProfile)
        #expect(received.packetsReceived > 400, "nine seconds of speech is about 450 packets")
        #expect(try await relay.allocationCount() >= 2)
        let timings = await call.statistics
        #expect(timings.proposeToProceed != nil && timings.iceConnected != nil && timings.dtlsConnected != nil)

        // DTMF through the relay: every digit once, in order.
        try await call.sendDTMF("159#")
        var digits = ""
        while digits.count < 4 {
            if case .dtmf(let d) = try await calleeEvents.next("DTMF", where: { if case .dtmf = $0 { true } else { false } }) {
                digits.append(d)
            }
        }
        #expect(digits == "159#")

        await call.hangUp()
        #expect(try await calleeEvents.ended() == .completed(byPeer: true))
        try recorder.finish()
        let score = try await Repository.run("\(Repository.root)/Tools/pesq", [speech.path, recorder.url.path])
        let mos = try #require(
            score.output.split(separator: "\n").lazy.compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }.first,
            "Tools/pesq: \(score.output)")
        print("RealTimeCallProsodyTests: wideband PESQ \(mos) through jingle-relay, pair \(pair); received \(received); sent \(sent)")
        #expect(mos >= 3.8)
    }
}

/// Hands each frame to several sinks.
final class TeeSink: CallAudioSink {
    let sinks: [any CallAudioSink]
    init(_ sinks: [any CallAudioSink]) { self.sinks = sinks }
    func receive(frame: [Int16]) { sinks.forEach { $0.receive(frame: frame) } }
}

/// Waits for half a second of quiet (25 frames in a row below -60 dBFS) counted from the call to `wait()`.
final class SilenceAfterSound: CallAudioSink {
    private struct State {
        var armed = false
        var quietRun = 0
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    func receive(frame: [Int16]) {
        let quiet = CallAudio.level(of: frame) < -60
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.armed else { return nil }
            s.quietRun = quiet ? s.quietRun + 1 : 0
            guard s.quietRun >= 25 else { return nil }
            s.armed = false
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            state.withLock { s in
                s.armed = true
                s.quietRun = 0
                s.waiter = c
            }
        }
    }
}
