import CallTestSupport
import Foundation
import Jingle
import JingleKit
import Synchronization
import Testing
import Transport
import XMPPCore

/// A sink that signals once it has heard `frames` frames with sound in them.
final class SoundDetector: CallAudioSink {
    private struct State {
        var heard: [Int16] = []
        var loudFrames = 0
        var waiter: CheckedContinuation<Void, Never>?
        var done = false
    }
    private let state = Mutex(State())
    private let frames: Int
    init(frames: Int) { self.frames = frames }

    func receive(frame: [Int16]) {
        let loud = CallAudio.level(of: frame) > -40
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard loud, !s.done else { return nil }
            s.heard += frame
            s.loudFrames += 1
            guard s.loudFrames >= frames else { return nil }
            s.done = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Waits until enough loud frames arrived (bounded by the caller's `within`).
    func heard() async -> [Int16] {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.done { return true }
                s.waiter = c
                return false
            }
            if now { c.resume() }
        }
        return state.withLock { $0.heard }
    }
}

/// Waits for runs of received frames whose level (dBFS) meets a condition.
final class LevelWatcher: CallAudioSink {
    private struct Watch {
        var need: Int
        var run = 0
        let condition: @Sendable (Double) -> Bool
        let done: CheckedContinuation<Void, Never>
    }
    private let watch = Mutex<Watch?>(nil)

    func receive(frame: [Int16]) {
        let level = CallAudio.level(of: frame)
        let done = watch.withLock { w -> CheckedContinuation<Void, Never>? in
            guard var current = w else { return nil }
            current.run = current.condition(level) ? current.run + 1 : 0
            if current.run >= current.need { w = nil; return current.done }
            w = current
            return nil
        }
        done?.resume()
    }

    /// Returns once `consecutive` frames in a row (from now) meet `condition`.
    func wait(consecutive: Int, _ condition: @escaping @Sendable (Double) -> Bool) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            watch.withLock { $0 = Watch(need: consecutive, condition: condition, done: c) }
        }
    }
}

/// Zero crossings per second of a mono 48 kHz signal, halved: its dominant frequency for a pure tone.
func toneFrequency(_ samples: [Int16]) -> Double {
    var crossings = 0
    for i in 1..<samples.count where (samples[i - 1] < 0) != (samples[i] < 0) { crossings += 1 }
    return Double(crossings) / 2 / (Double(samples.count) / 48_000)
}

/// Two call managers over the in-memory router with the real media transport: libnice ICE on
/// 127.0.0.1, DTLS-SRTP with per-call certificates, Opus, and the call's PCM source and sink.
/// Real time ("RealTime" in the name): Tools/test runs it in the serial pass, where CPU-heavy
/// suites cannot hold up its media clocks and actors.
@Suite struct RealTimeMediaCallTests {
    static let loopback = CallMediaSettings(localAddresses: ["127.0.0.1"], discoverServers: false)

    func managers(
        alice aliceSettings: CallMediaSettings = loopback, bob bobSettings: CallMediaSettings = loopback,
        aliceProvider: (any MediaTransportProvider)? = nil
    ) async -> (CallManager, CallManager) {
        let router = InMemoryRouter()
        let ac = await router.client("alice@localhost/desk"), bc = await router.client("bob@localhost/desk")
        let alice = CallManager(
            transport: ac, local: ac.jid,
            configuration: CallConfiguration(
                mediaTransports: aliceProvider ?? ICEMediaTransportProvider(settings: aliceSettings)))
        let bob = CallManager(
            transport: bc, local: bc.jid,
            configuration: CallConfiguration(
                mediaTransports: ICEMediaTransportProvider(settings: bobSettings)))
        await alice.start()
        await bob.start()
        return (alice, bob)
    }

    @Test(arguments: [true, false]) func aToneSentOneWayIsHeardAtItsFrequency(useJMI: Bool) async throws {
        let (alice, bob) = await managers()
        let target = useJMI ? JID("bob@localhost")! : JID("bob@localhost/desk")!
        let outgoing = try await alice.placeCall(to: target, useJMI: useJMI, timeout: .seconds(30))
        outgoing.setAudioSource(ToneSource(frequency: 1000))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bob)
        let detector = SoundDetector(frames: 25)
        incoming.setAudioSink(detector)
        let bobEvents = EventReader(incoming)
        try await incoming.accept()

        let ice = try await aliceEvents.next("ICE connected") { if case .iceConnected = $0 { true } else { false } }
        guard case .iceConnected(let pair) = ice else { return }
        #expect(pair.localAddress == "127.0.0.1" && pair.remoteAddress == "127.0.0.1")
        #expect(!pair.isRelayed)
        do {
            _ = try await aliceEvents.next("media connected") { $0 == .mediaConnected }
            _ = try await bobEvents.next("media connected") { $0 == .mediaConnected }
        } catch {
            // Where the handshake stopped: records each side sent and received, sends ICE refused.
            let a = await outgoing.mediaStatistics, b = await incoming.mediaStatistics
            let detail =
                "DTLS not done. alice: sent \(a?.dtlsDatagramsSent ?? -1), received \(a?.dtlsDatagramsReceived ?? -1), "
                + "refused \(a?.sendFailures ?? -1); bob: sent \(b?.dtlsDatagramsSent ?? -1), "
                + "received \(b?.dtlsDatagramsReceived ?? -1), refused \(b?.sendFailures ?? -1); "
                + "SRTP alice \(a?.srtpProfile ?? "none"), bob \(b?.srtpProfile ?? "none"); "
                + "call alice \(await outgoing.state), bob \(await incoming.state)"
            Issue.record(Comment(rawValue: detail))
            throw error
        }
        _ = try await bobEvents.next("first audio") { $0 == .firstAudio }
        let aliceMedia = try #require(await outgoing.mediaStatistics)
        #expect(aliceMedia.dtlsDatagramsSent > 0 && aliceMedia.dtlsDatagramsReceived > 0, "the handshake's records are counted")

        let heard = try await within(.seconds(15), "half a second of tone") { await detector.heard() }
        let frequency = toneFrequency(heard)
        #expect(abs(frequency - 1000) < 30, "heard \(frequency) Hz")

        let sent = try #require(await outgoing.mediaStatistics)
        let received = try #require(await incoming.mediaStatistics)
        #expect(sent.packetsSent > 0 && received.packetsReceived > 0)
        #expect(received.decodedFrames >= 20, "most of the heard frames were decoded from packets")
        #expect(sent.srtpProfile == received.srtpProfile && sent.srtpProfile != nil)
        #expect(received.selectedPair != nil)
        let timings = await outgoing.statistics
        #expect(timings.iceConnected != nil && timings.dtlsConnected != nil)
        #expect(await incoming.statistics.firstAudio != nil)

        await outgoing.hangUp()
        #expect(try await bobEvents.ended() == .completed(byPeer: true))
        #expect(try await aliceEvents.ended() == .completed(byPeer: false))
    }

    @Test func theCalleesAudioReachesTheCallerToo() async throws {
        let (alice, bob) = await managers()
        let outgoing = try await alice.placeCall(to: JID("bob@localhost")!, timeout: .seconds(30))
        let detector = SoundDetector(frames: 25)
        outgoing.setAudioSink(detector)
        let incoming = try await nextIncoming(bob)
        incoming.setAudioSource(ToneSource(frequency: 600))
        try await incoming.accept()
        let heard = try await within(.seconds(15), "half a second of the callee's tone") { await detector.heard() }
        #expect(abs(toneFrequency(heard) - 600) < 30)
        await incoming.hangUp()
        #expect(try await EventReader(outgoing).ended() == .completed(byPeer: true))
    }

    @Test func aFiniteSourceReportsItsEnd() async throws {
        let (alice, bob) = await managers()
        let outgoing = try await alice.placeCall(to: JID("bob@localhost")!, timeout: .seconds(30))
        let tone = ToneSource(frequency: 800)
        outgoing.setAudioSource(PCMBufferSource(samples: (0..<10).flatMap { _ in tone.nextFrame() ?? [] }))
        let events = EventReader(outgoing)
        let incoming = try await nextIncoming(bob)
        try await incoming.accept()
        _ = try await events.next("source finished") { $0 == .audioSourceFinished }
        await outgoing.hangUp()
    }

    @Test func mutingSendsSilenceAndUnmutingResumes() async throws {
        let (alice, bob) = await managers()
        let outgoing = try await alice.placeCall(to: JID("bob@localhost")!, timeout: .seconds(30))
        outgoing.setAudioSource(ToneSource(frequency: 500))
        let incoming = try await nextIncoming(bob)
        let watcher = LevelWatcher()
        incoming.setAudioSink(watcher)
        try await incoming.accept()
        try await within(.seconds(15), "tone") { await watcher.wait(consecutive: 10) { $0 > -30 } }
        try await outgoing.setMuted(true)
        try await within(.seconds(15), "silence while muted") { await watcher.wait(consecutive: 25) { $0 < -60 } }
        try await outgoing.setMuted(false)
        try await within(.seconds(15), "tone again") { await watcher.wait(consecutive: 10) { $0 > -30 } }
        await outgoing.hangUp()
    }

    @Test func dtmfDigitsArriveAsSentAndBadDigitsAreRefused() async throws {
        let (alice, bob) = await managers()
        let outgoing = try await alice.placeCall(to: JID("bob@localhost")!, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let incoming = try await nextIncoming(bob)
        let bobEvents = EventReader(incoming)
        try await incoming.accept()
        _ = try await aliceEvents.next("media connected") { $0 == .mediaConnected }
        await #expect(throws: CallError.self) { try await outgoing.sendDTMF("12x") }
        try await outgoing.sendDTMF("123#*A")
        var digits = ""
        while digits.count < 6 {
            let e = try await bobEvents.next("digit \(digits.count + 1)") { if case .dtmf = $0 { true } else { false } }
            if case .dtmf(let d) = e { digits.append(d) }
        }
        #expect(digits == "123#*A", "no digit lost, repeated or reordered; 'x' refused the whole string")
        await outgoing.hangUp()
    }

    @Test func aTamperedFingerprintFailsTheCallWithASecurityError() async throws {
        let (alice, bob) = await managers(aliceProvider: TamperingProvider(inner: ICEMediaTransportProvider(settings: Self.loopback)))
        let outgoing = try await alice.placeCall(to: JID("bob@localhost")!, timeout: .seconds(30))
        let incoming = try await nextIncoming(bob)
        let bobEvents = EventReader(incoming)
        try await incoming.accept()
        // Bob's DTLS check of the fingerprint fails; he sends a bad-certificate alert and hangs up.
        // Alice, failing on that alert, may hang up first, so Bob's call ends either way; without
        // the check the handshake would succeed and neither call would fail.
        let end = try await bobEvents.ended()
        guard case .failed(let reason, _) = end else {
            Issue.record("expected the callee's call to fail, got \(end)")
            return
        }
        #expect(reason?.condition == .securityError)
        // The caller ends too: told by the callee's terminate, or by the DTLS alert the callee sent.
        let aliceEnd = try await EventReader(outgoing).ended()
        guard case .failed(let told, _) = aliceEnd else {
            Issue.record("expected the caller's call to fail, got \(aliceEnd)")
            return
        }
        #expect(told?.condition == .securityError)
    }

    @Test func relayOnlyWithoutATURNServerFailsTheCallClearly() async throws {
        var relayOnly = Self.loopback
        relayOnly.relayOnly = true
        let (alice, _) = await managers(alice: relayOnly)
        let outgoing = try await alice.placeCall(to: JID("bob@localhost/desk")!, useJMI: false, timeout: .seconds(30))
        let end = try await EventReader(outgoing).ended()
        guard case .failed(let reason, byPeer: false) = end else {
            Issue.record("expected a local failure, got \(end)")
            return
        }
        #expect(reason?.condition == .failedTransport)
        #expect(reason?.text?.contains("TURN") == true)
    }
}

/// Signals a fingerprint that is not the certificate's: the peer's DTLS check must refuse it.
struct TamperingProvider: MediaTransportProvider {
    let inner: ICEMediaTransportProvider
    func makeTransport(sid: String, role: Creator) async throws -> any MediaTransport {
        TamperedTransport(inner: try await inner.makeTransport(sid: sid, role: role))
    }
}

final class TamperedTransport: MediaTransport {
    let inner: any MediaTransport
    init(inner: any MediaTransport) { self.inner = inner }
    var events: AsyncStream<MediaTransportEvent> { inner.events }
    func localTransport() async -> LocalTransport {
        var t = await inner.localTransport()
        t.fingerprint = (0..<32).map { _ in "AB" }.joined(separator: ":")
        return t
    }
    func localCandidates() async -> [Candidate] { await inner.localCandidates() }
    func start(remote: RemoteMediaParameters) async { await inner.start(remote: remote) }
    func addRemoteCandidates(_ candidates: [Candidate]) async { await inner.addRemoteCandidates(candidates) }
    func close() async { await inner.close() }
}
