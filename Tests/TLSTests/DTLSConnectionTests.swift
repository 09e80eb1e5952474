import DriverClock
import EngineTime
import Testing
import TLS

/// Two DTLS endpoints over a simulated network with a virtual clock.
struct DTLSLink {
    let client: DTLSConnection
    let server: DTLSConnection
    var now = EngineClock.process.now
    var clientMaterial: SRTPKeyingMaterial?
    var serverMaterial: SRTPKeyingMaterial?
    var clientData: [[UInt8]] = []
    var serverData: [[UInt8]] = []
    /// Datagrams delivered so far, per direction (for drop decisions).
    var toServerCount = 0
    var toClientCount = 0
    /// Sizes of every datagram delivered, in order: positive to the server, negative to the client.
    var sizes: [Int] = []

    init(
        clientProfiles: [SRTPProtectionProfile] = [.aeadAES128GCM, .aes128CMHMACSHA1_80],
        serverProfiles: [SRTPProtectionProfile] = [.aeadAES128GCM, .aes128CMHMACSHA1_80],
        clientExpects: String? = nil, mtu: Int = 1200
    ) throws {
        let clientCertificate = try DTLSCertificate.generate()
        let serverCertificate = try DTLSCertificate.generate()
        client = try DTLSConnection(
            role: .client, certificate: clientCertificate,
            expectedPeerFingerprint: ("sha-256", clientExpects ?? serverCertificate.fingerprint(.sha256)),
            profiles: clientProfiles, mtu: mtu)
        server = try DTLSConnection(
            role: .server, certificate: serverCertificate,
            expectedPeerFingerprint: ("SHA-256", clientCertificate.fingerprint(.sha256).lowercased()),
            profiles: serverProfiles, mtu: mtu)
    }

    /// Delivers datagrams both ways until quiet; `drop` decides per (direction, index) what is lost.
    mutating func run(
        toServer: [[UInt8]], toClient: [[UInt8]] = [],
        drop: (_ toServer: Bool, _ index: Int) -> Bool = { _, _ in false }
    ) throws(DTLSError) {
        var toServer = toServer
        var toClient = toClient
        for _ in 0..<50 where !toServer.isEmpty || !toClient.isEmpty {
            for datagram in toServer {
                sizes.append(datagram.count)
                toServerCount += 1
                if drop(true, toServerCount) { continue }
                let output = try server.receive(datagram: datagram, now: now)
                toClient += output.datagrams
                serverData += output.applicationData
                serverMaterial = output.handshakeCompleted ?? serverMaterial
            }
            toServer = []
            for datagram in toClient {
                sizes.append(-datagram.count)
                toClientCount += 1
                if drop(false, toClientCount) { continue }
                let output = try client.receive(datagram: datagram, now: now)
                toServer += output.datagrams
                clientData += output.applicationData
                clientMaterial = output.handshakeCompleted ?? clientMaterial
            }
            toClient = []
        }
    }

    /// Advances the virtual clock to the earliest deadline and lets both sides retransmit.
    mutating func fireTimers(drop: (_ toServer: Bool, _ index: Int) -> Bool = { _, _ in false }) throws(DTLSError) {
        let deadlines = [client.nextDeadline, server.nextDeadline].compactMap { $0 }
        guard let earliest = deadlines.min() else { return }
        now = max(now, earliest)
        let fromClient = client.handleTimeout(now: now)
        let fromServer = server.handleTimeout(now: now)
        try run(toServer: fromClient, toClient: fromServer, drop: drop)
    }
}

@Suite struct DTLSConnectionTests {
    @Test func handshakeGivesMirroredKeysWithGCMPreferred() throws {
        var link = try DTLSLink()
        try link.run(toServer: link.client.start(now: link.now))
        let client = try #require(link.clientMaterial)
        let server = try #require(link.serverMaterial)
        #expect(client.profile == .aeadAES128GCM)
        #expect(server.profile == .aeadAES128GCM)
        #expect(client.localKey.count == 16 && client.localSalt.count == 12)
        #expect(client.localKey == server.remoteKey)
        #expect(client.localSalt == server.remoteSalt)
        #expect(client.remoteKey == server.localKey)
        #expect(client.remoteSalt == server.localSalt)
        #expect(client.localKey != client.remoteKey)
        #expect(link.client.state == .established && link.server.state == .established)

        try link.run(
            toServer: try link.client.send(applicationData: [1, 2, 3]),
            toClient: try link.server.send(applicationData: [4, 5]))
        #expect(link.serverData == [[1, 2, 3]])
        #expect(link.clientData == [[4, 5]])
    }

    @Test(arguments: [
        (
            [SRTPProtectionProfile.aes128CMHMACSHA1_80], [SRTPProtectionProfile.aeadAES128GCM, .aes128CMHMACSHA1_80],
            SRTPProtectionProfile.aes128CMHMACSHA1_80
        ),
        ([.aeadAES128GCM, .aes128CMHMACSHA1_80], [.aes128CMHMACSHA1_80], .aes128CMHMACSHA1_80),
        ([.aeadAES128GCM, .aes128CMHMACSHA1_80], [.aeadAES128GCM], .aeadAES128GCM),
    ])
    func bothProfilesAreNegotiable(
        client: [SRTPProtectionProfile], server: [SRTPProtectionProfile],
        expected: SRTPProtectionProfile
    ) throws {
        var link = try DTLSLink(clientProfiles: client, serverProfiles: server)
        try link.run(toServer: link.client.start(now: link.now))
        let material = try #require(link.clientMaterial)
        #expect(material.profile == expected)
        #expect(
            material.localKey.count + material.localSalt.count + material.remoteKey.count + material.remoteSalt.count
                == (expected == .aeadAES128GCM ? 56 : 60))
        #expect(link.serverMaterial?.remoteKey == material.localKey)
    }

    @Test func flightsAreSplitIntoDatagramsWithinTheMTU() throws {
        var link = try DTLSLink(mtu: 300)
        try link.run(toServer: link.client.start(now: link.now))
        #expect(link.clientMaterial != nil && link.serverMaterial != nil)
        // OpenSSL packs the last records of a flight into one datagram and does not count the
        // expansion of the first encrypted record (Finished) against the MTU: allow that much.
        #expect(link.sizes.allSatisfy { abs($0) <= 300 + 32 })
        // The server's first flight (certificate included) is split: several datagrams in a row to the client.
        #expect(link.sizes.prefix(4).filter { $0 < 0 }.count >= 2)
    }

    @Test func noCommonSRTPProfileFailsTheHandshake() throws {
        var link = try DTLSLink(clientProfiles: [.aes128CMHMACSHA1_80], serverProfiles: [.aeadAES128GCM])
        let error = #expect(throws: DTLSError.self) { try link.run(toServer: link.client.start(now: link.now)) }
        #expect(error == .handshakeFailed(reason: "no SRTP protection profile negotiated"))
        #expect(link.clientMaterial == nil && link.serverMaterial == nil)
    }

    @Test func timersStopOnceEstablished() throws {
        var link = try DTLSLink()
        let flight1 = link.client.start(now: link.now)
        #expect(link.client.nextDeadline != nil)
        #expect(link.server.nextDeadline == nil)
        try link.run(toServer: flight1)
        #expect(link.client.nextDeadline == nil)
        #expect(link.server.nextDeadline == nil)
        // Far in the future nothing is retransmitted by the client.
        #expect(link.client.handleTimeout(now: link.now + .seconds(120)).isEmpty)
    }

    @Test func droppedClientHelloIsRetransmittedWhenTheTimerFires() throws {
        var link = try DTLSLink()
        let start = link.now
        try link.run(toServer: link.client.start(now: link.now), drop: { toServer, _ in toServer }) // lose flight 1
        #expect(link.serverMaterial == nil)
        let deadline = try #require(link.client.nextDeadline)
        #expect(deadline > start && deadline <= start + .seconds(1))
        #expect(link.client.handleTimeout(now: start + .milliseconds(500)).isEmpty) // too early: nothing

        try link.fireTimers()
        #expect(link.clientMaterial != nil)
        #expect(
            link.serverMaterial
                == link.clientMaterial.map {
                    SRTPKeyingMaterial(
                        profile: $0.profile, localKey: $0.remoteKey, localSalt: $0.remoteSalt, remoteKey: $0.localKey,
                        remoteSalt: $0.localSalt)
                })
    }

    @Test func retransmissionsBackOffThenGiveUp() throws {
        let link = try DTLSLink()
        var now = link.now
        #expect(!link.client.start(now: now).isEmpty) // lost, as is everything after it
        var intervals: [Duration] = []
        var retransmissions = 0
        for _ in 0..<30 {
            guard let deadline = link.client.nextDeadline else { break }
            intervals.append(deadline - now)
            now = deadline
            if !link.client.handleTimeout(now: now).isEmpty { retransmissions += 1 }
        }
        // RFC 6347 §4.2.4.1: start at 1 s, double each time, cap at 60 s.
        let seconds = intervals.map { Int(($0 / .milliseconds(1)).rounded() / 1000) }
        #expect(Array(seconds.prefix(7)) == [1, 2, 4, 8, 16, 32, 60])
        #expect(retransmissions >= 10)
        #expect(link.client.state == .failed)
        guard case .handshakeFailed? = link.client.failure else {
            Issue.record("expected handshakeFailed, got \(String(describing: link.client.failure))")
            return
        }
        #expect(link.client.nextDeadline == nil)
        #expect(now - link.now > .seconds(300)) // minutes of virtual time, no real waiting
    }

    @Test func lostFinalFlightIsRecoveredByRetransmission() throws {
        var link = try DTLSLink()
        var flight2: [[UInt8]] = []
        for datagram in link.client.start(now: link.now) {
            flight2 += try link.server.receive(datagram: datagram, now: link.now).datagrams
        }
        var flight5: [[UInt8]] = []
        for datagram in flight2 {
            flight5 += try link.client.receive(datagram: datagram, now: link.now).datagrams
        }
        var finalFlight: [[UInt8]] = []
        for datagram in flight5 {
            let output = try link.server.receive(datagram: datagram, now: link.now)
            finalFlight += output.datagrams
            link.serverMaterial = output.handshakeCompleted ?? link.serverMaterial
        }
        #expect(!finalFlight.isEmpty) // lost on the way
        #expect(link.serverMaterial != nil)
        #expect(link.client.state == .handshaking)
        let before = link.now
        for _ in 0..<3 where link.clientMaterial == nil {
            try link.fireTimers()
        }
        #expect(link.now >= before + .milliseconds(900))
        let material = try #require(link.clientMaterial)
        #expect(material.localKey == link.serverMaterial?.remoteKey)
    }

    @Test func fingerprintMismatchFailsTheHandshake() throws {
        let wrong = [String](repeating: "AB", count: 32).joined(separator: ":")
        var link = try DTLSLink(clientExpects: wrong)
        let error = #expect(throws: DTLSError.self) { try link.run(toServer: link.client.start(now: link.now)) }
        guard case .fingerprintMismatch(let expected, let actual)? = error else {
            Issue.record("expected fingerprintMismatch, got \(String(describing: error))")
            return
        }
        #expect(expected == wrong)
        #expect(actual.count == 95 && actual != wrong)
        #expect(link.client.state == .failed)
        #expect(link.client.keyingMaterial == nil)
        #expect(link.client.failure == error)
        // The client aborted inside the handshake: its alert tells the server at once.
        let alert = link.client.takePendingDatagrams()
        #expect(!alert.isEmpty)
        let serverError = #expect(throws: DTLSError.self) {
            for datagram in alert { _ = try link.server.receive(datagram: datagram, now: link.now) }
        }
        guard case .handshakeFailed(let reason)? = serverError else {
            Issue.record("expected handshakeFailed on the server, got \(String(describing: serverError))")
            return
        }
        #expect(reason.contains("bad certificate"))
        #expect(link.server.keyingMaterial == nil)
    }

    @Test func garbageDatagramsDoNotCrashOrDerail() throws {
        var link = try DTLSLink()
        var generator = SystemRandomNumberGenerator()
        // Before the handshake: records of every content type with random bodies.
        for length in [1, 13, 14, 25, 100, 1500] {
            var datagram = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            datagram[0] = UInt8.random(in: 20...25, using: &generator)
            _ = try? link.server.receive(datagram: datagram, now: link.now)
        }
        #expect(throws: DTLSError.protocolError(reason: "not a DTLS record (first byte 128)")) {
            _ = try link.server.receive(datagram: [0x80, 0, 0, 0], now: link.now)
        }
        #expect(throws: DTLSError.protocolError(reason: "empty datagram")) {
            _ = try link.server.receive(datagram: [], now: link.now)
        }
        try link.run(toServer: link.client.start(now: link.now))
        #expect(link.clientMaterial != nil && link.serverMaterial != nil)
        // After the handshake: a forged application-data record is discarded.
        var forged = [UInt8](repeating: 0, count: 60)
        forged[0] = 23; forged[1] = 0xFE; forged[2] = 0xFD; forged[4] = 1
        let output = try link.server.receive(datagram: forged, now: link.now)
        #expect(output.applicationData.isEmpty)
        #expect(link.server.state == .established)
    }

    @Test func closeNotifyReachesThePeer() throws {
        var link = try DTLSLink()
        try link.run(toServer: link.client.start(now: link.now))
        let notify = link.client.close()
        #expect(notify.count == 1)
        let output = try link.server.receive(datagram: notify[0], now: link.now)
        #expect(output.peerClosed)
        #expect(link.server.state == .closed)
        #expect(throws: DTLSError.closed) { _ = try link.client.send(applicationData: [1]) }
    }

    @Test func certificateFingerprintsAndSetupRoles() throws {
        let certificate = try DTLSCertificate.generate()
        #expect(certificate.fingerprint(.sha256).count == 95)
        #expect(certificate.fingerprint(.sha1).count == 59)
        #expect(DTLSConnection.Role(setup: "active") == .client)
        #expect(DTLSConnection.Role(setup: "passive") == .server)
        #expect(DTLSConnection.Role(setup: "actpass") == nil)
        #expect(throws: DTLSError.self) {
            _ = try DTLSConnection(role: .client, certificate: certificate, expectedPeerFingerprint: ("md2", "00"))
        }
    }
}
