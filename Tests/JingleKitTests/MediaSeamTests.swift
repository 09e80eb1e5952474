import CallTestSupport
import Jingle
import JingleKit
import Testing
import XMPPCore

/// A media transport that records what the call hands it and lets the test speak for ICE/DTLS;
/// with `restarts`, it restarts ICE as `SignallingOnlyTransport` does and records each restart.
actor RecordingTransport: MediaTransport {
    let inner = SignallingOnlyTransport()
    let restarts: Bool
    nonisolated let events: AsyncStream<MediaTransportEvent>
    let sink: AsyncStream<MediaTransportEvent>.Continuation
    /// What the call told us, in order: the remote parameters, then trickled candidates.
    nonisolated let told: AsyncStream<Told>
    private let toldSink: AsyncStream<Told>.Continuation

    enum Told: Sendable, Hashable {
        case start(RemoteMediaParameters), candidates([Candidate]), restart(RemoteMediaParameters?), closed
    }

    init(restarts: Bool = false) {
        self.restarts = restarts
        (events, sink) = AsyncStream.makeStream(of: MediaTransportEvent.self)
        (told, toldSink) = AsyncStream.makeStream(of: Told.self)
    }

    func localTransport() async -> LocalTransport { await inner.localTransport() }
    func localCandidates() async -> [Candidate] { await inner.localCandidates() }
    func start(remote: RemoteMediaParameters) async { toldSink.yield(.start(remote)) }
    func addRemoteCandidates(_ candidates: [Candidate]) async { toldSink.yield(.candidates(candidates)) }
    func close() async { toldSink.yield(.closed); sink.finish() }
    func restartICE(remote: RemoteMediaParameters?) async -> LocalTransport? {
        guard restarts else { return nil }
        toldSink.yield(.restart(remote))
        return await inner.restartICE(remote: remote)
    }
    nonisolated func emit(_ e: MediaTransportEvent) { sink.yield(e) }
}

actor RecordingProvider: MediaTransportProvider {
    nonisolated let made: AsyncStream<RecordingTransport>
    private let madeSink: AsyncStream<RecordingTransport>.Continuation
    /// Whether the transports restart ICE (`RecordingTransport.restarts`).
    let restarts: Bool
    init(restarts: Bool = false) {
        self.restarts = restarts
        (made, madeSink) = AsyncStream.makeStream(of: RecordingTransport.self)
    }
    func makeTransport(sid: String, role: Creator) async throws -> any MediaTransport {
        let t = RecordingTransport(restarts: restarts)
        madeSink.yield(t)
        return t
    }
}

func first<T: Sendable>(_ stream: AsyncStream<T>, _ what: String) async throws -> T {
    try await within(.seconds(10), what) {
        for await x in stream { return x }
        throw TimedOut(what: "\(what) (stream ended)")
    }
}

/// Alice and bob (`…/desk`) on one in-memory router, each with its own media transports, both started.
func startedAliceAndBob(
    aliceMedia: any MediaTransportProvider, bobMedia: any MediaTransportProvider
) async -> (alice: CallManager, bob: CallManager, bobJID: JID) {
    let router = InMemoryRouter()
    let ac = await router.client("alice@localhost/desk"), bc = await router.client("bob@localhost/desk")
    let alice = CallManager(transport: ac, local: ac.jid, configuration: CallConfiguration(mediaTransports: aliceMedia))
    let bob = CallManager(transport: bc, local: bc.jid, configuration: CallConfiguration(mediaTransports: bobMedia))
    await alice.start()
    await bob.start()
    return (alice, bob, bc.jid)
}

/// The seam where ICE + DTLS-SRTP plug in: what each side's transport is given, and how its
/// reports become signalling (transport-info) and call events.
@Suite struct MediaSeamTests {
    @Test func transportsGetThePeersParametersAndTheirReportsReachTheCall() async throws {
        let aliceMedia = RecordingProvider(), bobMedia = RecordingProvider()
        let (alice, bob, bobJID) = await startedAliceAndBob(aliceMedia: aliceMedia, bobMedia: bobMedia)

        let outgoing = try await alice.placeCall(to: bobJID, useJMI: false, timeout: .seconds(30))
        let aliceEvents = EventReader(outgoing)
        let aliceTransport = try await first(aliceMedia.made, "alice's transport")
        let incoming = try await nextIncoming(bob)
        let bobEvents = EventReader(incoming)
        try await incoming.accept()
        let bobTransport = try await first(bobMedia.made, "bob's transport")
        _ = try await aliceEvents.next("accepted") { $0 == .accepted }

        // Each side is started with the other's ICE credentials, candidates and fingerprint;
        // the offerer (actpass) ends up DTLS server, the answerer (active) DTLS client.
        guard case .start(let aliceSaw) = try await first(aliceTransport.told, "alice started"),
            case .start(let bobSaw) = try await first(bobTransport.told, "bob started")
        else {
            Issue.record("transports were not started first"); return
        }
        #expect(aliceSaw.ufrag == (await bobTransport.localTransport()).ufrag)
        #expect(bobSaw.pwd == (await aliceTransport.localTransport()).pwd)
        #expect(bobSaw.fingerprint?.value == (await aliceTransport.localTransport()).fingerprint)
        #expect(aliceSaw.candidates == (await bobTransport.localCandidates()))
        #expect(aliceSaw.dtlsRole == .server)
        #expect(bobSaw.dtlsRole == .client)

        // A candidate bob gathers later is trickled to alice.
        let late = Candidate(
            component: 1, foundation: "2", id: "late1", ip: "127.0.0.1", network: 0, port: 40000,
            priority: 100, type: .host)
        bobTransport.emit(.localCandidates([late]))
        _ = try await aliceEvents.next("remote candidates") { $0 == .remoteCandidates([late]) }
        #expect(try await first(aliceTransport.told, "alice told of the candidate") == .candidates([late]))

        aliceTransport.emit(.connected)
        _ = try await aliceEvents.next("media connected") { $0 == .mediaConnected }

        // A transport failure ends the call on both sides with <failed-transport/>.
        aliceTransport.emit(.failed(Reason(.failedTransport)))
        #expect(try await aliceEvents.ended() == .failed(Reason(.failedTransport), byPeer: false))
        #expect(try await bobEvents.ended() == .failed(Reason(.failedTransport), byPeer: true))
        #expect(try await first(bobTransport.told, "bob's transport closed") == .closed)
    }
}
