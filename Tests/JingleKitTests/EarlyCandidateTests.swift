import CallTestSupport
import Jingle
import JingleKit
import Testing
import XMPPCore

/// A provider whose transports are made only when the test opens the gate, so the peer's
/// trickled candidates can arrive before the transport exists.
actor GatedProvider: MediaTransportProvider {
    private let inner = RecordingProvider()
    private var gate: CheckedContinuation<Void, Never>?
    private var open = false
    nonisolated var made: AsyncStream<RecordingTransport> { inner.made }
    /// Signals that a transport is waiting at the gate.
    nonisolated let waiting: AsyncStream<Void>
    private let waitingSink: AsyncStream<Void>.Continuation
    init() { (waiting, waitingSink) = AsyncStream.makeStream(of: Void.self) }

    func makeTransport(sid: String, role: Creator) async throws -> any MediaTransport {
        if !open {
            await withCheckedContinuation {
                gate = $0; waitingSink.yield()
            }
        }
        return try await inner.makeTransport(sid: sid, role: role)
    }

    func openGate() {
        open = true
        gate?.resume()
        gate = nil
    }
}

@Suite struct EarlyCandidateTests {
    /// A direct call from alice to bob that bob is answering while his transport waits at the gate.
    struct GatedAnswer {
        /// Kept alive for the call.
        let managers: [CallManager]
        let outgoing: Call
        let aliceTransport: RecordingTransport
        let bobEvents: EventReader
        let bobMedia: GatedProvider
        let answering: Task<Void, any Error>
    }

    static func answeringAtTheGate() async throws -> GatedAnswer {
        let aliceMedia = RecordingProvider(), bobMedia = GatedProvider()
        let (alice, bob, bobJID) = await startedAliceAndBob(aliceMedia: aliceMedia, bobMedia: bobMedia)
        let outgoing = try await alice.placeCall(to: bobJID, useJMI: false, timeout: .seconds(30))
        let aliceTransport = try await first(aliceMedia.made, "alice's transport")
        let incoming = try await nextIncoming(bob)
        let bobEvents = EventReader(incoming)
        let answering = Task { try await incoming.accept() }
        try await first(bobMedia.waiting, "bob's transport waits at the gate")
        return GatedAnswer(
            managers: [alice, bob], outgoing: outgoing, aliceTransport: aliceTransport, bobEvents: bobEvents, bobMedia: bobMedia,
            answering: answering)
    }

    @Test func candidatesTrickledBeforeOurTransportExistsAreHandedToIt() async throws {
        let call = try await Self.answeringAtTheGate()
        let (outgoing, aliceTransport, bobEvents, bobMedia, answering) = (
            call.outgoing, call.aliceTransport, call.bobEvents, call.bobMedia, call.answering
        )

        // Alice trickles a candidate while bob's transport is still being made.
        let late = Candidate(
            component: 1, foundation: "9", id: "early1", ip: "127.0.0.1", network: 0, port: 40001,
            priority: 100, type: .host)
        aliceTransport.emit(.localCandidates([late]))
        _ = try await bobEvents.next("remote candidates") { $0 == .remoteCandidates([late]) }

        await bobMedia.openGate()
        try await answering.value
        let bobTransport = try await first(bobMedia.made, "bob's transport")
        let told = try await within(.seconds(10), "the early candidate at bob's transport") {
            var seen: [RecordingTransport.Told] = []
            for await t in bobTransport.told {
                seen.append(t)
                if seen.contains(.candidates([late])) { break }
            }
            return seen
        }
        #expect(told.contains(.candidates([late])), "the early candidate reached bob's transport")
        await outgoing.hangUp()
    }

    /// A hostile peer trickling thousands of candidates before our transport exists: only
    /// `CallMediaSettings.maximumRemoteCandidates` are kept and handed over.
    @Test func earlyCandidatesAreBounded() async throws {
        let call = try await Self.answeringAtTheGate()
        let (outgoing, aliceTransport, bobEvents, bobMedia, answering) = (
            call.outgoing, call.aliceTransport, call.bobEvents, call.bobMedia, call.answering
        )
        let flood = (0..<500).map { i in
            Candidate(
                component: 1, foundation: "\(i)", id: "c\(i)", ip: "127.0.0.1", network: 0, port: UInt16(20_000 + i),
                priority: 100, type: .host)
        }
        for chunk in stride(from: 0, to: flood.count, by: 50) {
            aliceTransport.emit(.localCandidates(Array(flood[chunk..<chunk + 50])))
        }
        _ = try await bobEvents.next("the last chunk") { $0 == .remoteCandidates(Array(flood[450..<500])) }
        await bobMedia.openGate()
        try await answering.value
        let bobTransport = try await first(bobMedia.made, "bob's transport")
        let handed = try await within(.seconds(10), "the early candidates at bob's transport") {
            for await t in bobTransport.told { if case .candidates(let c) = t { return c } }
            return []
        }
        #expect(handed.count == CallMediaSettings.maximumRemoteCandidates)
        #expect(handed == Array(flood.prefix(CallMediaSettings.maximumRemoteCandidates)))
        await outgoing.hangUp()
    }
}
