import Testing
import EngineTime
import STUN
@testable import TURNServer

/// TURN REST ephemeral credentials: expiry, several secrets, rotation by reload.
@Suite struct TURNCredentialTests {
    func restClient(_ h: TURNHarness, _ n: Int, secret: String, expiry: Int) -> FiveTuple {
        let username = CredentialStore.restUsername(expiry: expiry, name: "carol")
        return h.addClient(
            TURNHarness.tuple(n), username: username,
            password: CredentialStore.restPassword(username: username, secret: secret))
    }

    @Test func restCredentialValidAndExpired() {
        let h = TURNHarness(users: [:], secrets: ["s3cret"])
        let now = Int(h.wallClock.seconds)
        let ok = restClient(h, 1, secret: "s3cret", expiry: now + 3600)
        h.client(ok) { $0.allocate(now: $1) }
        #expect(h.server.allocationCount == 1)
        let expired = restClient(h, 2, secret: "s3cret", expiry: now - 1)
        h.client(expired) { $0.allocate(now: $1) }
        #expect(h.lastEvent(expired) == .failed(.allocate, STUNErrorCode(401)))
        #expect(h.serverEvents.contains { if case .authenticationFailed(_, _, .expiredCredential) = $0 { true } else { false } })
        let wrong = restClient(h, 3, secret: "other", expiry: now + 3600)
        h.client(wrong) { $0.allocate(now: $1) }
        #expect(h.lastEvent(wrong) == .failed(.allocate, STUNErrorCode(401)))
        let notNumeric = h.addClient(TURNHarness.tuple(4), username: "abc:carol", password: "x")
        h.client(notNumeric) { $0.allocate(now: $1) }
        #expect(h.lastEvent(notNumeric) == .failed(.allocate, STUNErrorCode(401)))
    }

    @Test func restPasswordFormat() {
        // base64(HMAC-SHA1(secret, username)), 20 bytes -> 28 characters.
        let p = CredentialStore.restPassword(username: "1700000000:carol", secret: "s3cret")
        #expect(p.count == 28)
        #expect(p == CredentialStore.restPassword(username: "1700000000:carol", secret: "s3cret"))
        #expect(p != CredentialStore.restPassword(username: "1700000001:carol", secret: "s3cret"))
    }

    @Test func rotationAcceptsEverySecretThenDropsRetired() {
        let h = TURNHarness(users: [:], secrets: ["old", "new"])
        let expiry = Int(h.wallClock.seconds) + 86_400
        let a = restClient(h, 1, secret: "old", expiry: expiry)
        let b = restClient(h, 2, secret: "new", expiry: expiry)
        h.client(a) { $0.allocate(now: $1) }
        h.client(b) { $0.allocate(now: $1) }
        #expect(h.server.allocationCount == 2)
        h.server.replaceCredentials(users: [:], secrets: ["new"])
        let c = restClient(h, 3, secret: "old", expiry: expiry)
        h.client(c) { $0.allocate(now: $1) }
        #expect(h.lastEvent(c) == .failed(.allocate, STUNErrorCode(401)))
        let d = restClient(h, 4, secret: "new", expiry: expiry)
        h.client(d) { $0.allocate(now: $1) }
        #expect(h.server.allocationCount == 3)
    }

    @Test func credentialExpiryDuringAllocationStopsRefresh() {
        let h = TURNHarness(users: [:], secrets: ["s"])
        let t = restClient(h, 1, secret: "s", expiry: Int(h.wallClock.seconds) + 1000)
        h.client(t) { $0.allocate(now: $1) }
        h.advance(by: 3000)
        #expect(h.server.allocationCount == 0)
        #expect(h.events[t]?.contains(.failed(.refresh, STUNErrorCode(401))) == true)
    }

    @Test func nonceIssuerChecks() {
        let issuer = NonceIssuer(secret: [1, 2, 3], lifetime: 10)
        let ip = IPAddress("203.0.113.1")!
        let now: EngineInstant = .seconds(1000)
        let nonce = issuer.issue(for: ip, now: now)
        #expect(nonce.hasPrefix("obMatJos2"))
        #expect(issuer.check(nonce, for: ip, now: now + .seconds(5)) == .valid)
        #expect(issuer.check(nonce, for: ip, now: now + .seconds(11)) == .stale)
        #expect(issuer.check(nonce, for: IPAddress("203.0.113.2")!, now: now) == .invalid)
        #expect(issuer.check("garbage", for: ip, now: now) == .invalid)
        #expect(NonceIssuer(secret: [9], lifetime: 10).check(nonce, for: ip, now: now) == .invalid)
    }
}
