import DriverClock
import EngineTime
import Testing
import TLS
import Transport

/// The DTLS and send-failure counters that show where a stalled handshake stopped.
@Suite struct MediaSessionCounterTests {
    /// A DTLS client whose ICE has no selected pair yet: its ClientHello is counted as sent and
    /// as refused by ICE, and nothing is counted as received.
    @Test func aClientHelloICECannotSendIsCountedAsRefused() throws {
        let agent = try ICEAgent(configuration: ICEConfiguration(controlling: true, localAddresses: ["127.0.0.1"]))
        defer { agent.close() }
        let peer = try DTLSCertificate.generate(commonName: "peer")
        let session = try MediaSession(
            agent: agent,
            configuration: MediaSessionConfiguration(
                role: .client, certificate: try DTLSCertificate.generate(commonName: "us"),
                remoteFingerprint: ("sha-256", peer.fingerprint(.sha256))), now: EngineClock.process.now, wallClock: .wallClockNow())
        defer { session.close(now: EngineClock.process.now) }
        session.handle(.stateChanged(.connected), now: EngineClock.process.now) // as if ICE had connected: DTLS starts
        let s = session.statistics
        #expect(s.dtlsDatagramsSent >= 1)
        #expect(s.sendFailures == s.dtlsDatagramsSent, "no pair was selected, so ICE refused every record")
        #expect(s.dtlsDatagramsReceived == 0)
    }
}
