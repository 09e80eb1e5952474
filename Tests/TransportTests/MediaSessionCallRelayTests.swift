import Foundation
import RelayServer
import STUN
import Testing
import TURNServer
@testable import Transport

/// Real-time calls forced through a TURN relay: both ICE agents relay-only (RFC 8445 §5.1.1.2
/// relayed candidates from RFC 8656 allocations), so every RTP, RTCP and DTLS datagram crosses
/// the relay twice. Part of the serialized `MediaSessionCallTests`, so these calls never run
/// beside another real-time call and Tools/test runs them with the others, alone.
extension MediaSessionCallTests {
    @Test func callThroughCoturnScoresAtLeast3_8() async throws {
        // Ports apart from ICERelayTests' 35000-37199 and the relay suites' 20000-28999.
        let port = UInt16(40_000 + Int(getpid() % 40) * 250)
        let turn = try CoturnProcess(port: port, user: "jk-call", password: "call-secret")
        let ready = await turn.waitUntilReady()
        try #require(ready, "coturn did not start on 127.0.0.1:\(port)")
        let server = ICEServer(address: "127.0.0.1", port: port, kind: .turnUDP(username: "jk-call", password: "call-secret"))
        try await relayedCall(through: server, label: "coturn")
    }

    @Test func callThroughJingleRelayScoresAtLeast3_8() async throws {
        var configuration = RelayConfiguration()
        configuration.listen = [try #require(TransportAddress("127.0.0.1:0"))]
        configuration.relayIPv4 = IPAddress("127.0.0.1")
        configuration.realm = "jinglekit.test"
        configuration.users = ["jk-call": "call-secret"]
        configuration.allowLoopbackPeers = true // both agents live on 127.0.0.1
        let base = UInt16(50_000 + Int(getpid() % 40) * 100)
        configuration.portRange = base...(base + 99)
        configuration.socketBufferBytes = 0
        let relay = try RelayServer(configuration: configuration)
        try await relay.start()
        do {
            let listen = try #require(relay.udpAddresses.first)
            let server = ICEServer(address: "127.0.0.1", port: listen.port, kind: .turnUDP(username: "jk-call", password: "call-secret"))
            try await relayedCall(through: server, label: "jingle-relay")
            #expect(try await relay.statistics().allocationsCreated >= 2)
        } catch {
            try await relay.stop()
            throw error
        }
        try await relay.stop()
    }

    private func relayedCall(through server: ICEServer, label: String) async throws {
        let dir = try CallSupport.temporaryDirectory()
        defer { CallSupport.removeTemporary(dir) }
        let speech = try CallSupport.makeSpeech(in: dir)
        let (mos, result) = try await CallSupport.scoredCall(
            speech: speech, in: dir, .init(servers: [server], relayOnly: true), label: label)
        let s = result.sender, r = result.receiver
        print("MOS via \(label): \(mos); sender \(s); receiver \(r)")
        #expect(mos >= 3.8)
        #expect(
            s.selectedLocalCandidateKind == .relayed || r.selectedLocalCandidateKind == .relayed,
            "pairs: \(String(describing: s.selectedPair)) / \(String(describing: r.selectedPair))")
        #expect(
            s.selectedLocalCandidateKind == .relayed && r.selectedLocalCandidateKind == .relayed,
            "relay-only agents offer nothing else")
        let frames = speech.wav.samples.count / MediaSession.samplesPerFrame
        #expect(r.packetsReceived == frames && r.packetsLost == 0)
        #expect(s.srtpProfile != nil && s.roundTripTime != nil)
    }
}
