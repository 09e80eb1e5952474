import Testing
import STUN
@testable import TURNServer

@Suite struct PeerFilterTests {
    static let denied: [String] = [
        // IPv4 special ranges.
        "0.1.2.3", "10.0.0.1", "100.64.0.1", "100.127.255.254", "127.0.0.1", "169.254.1.1", "172.16.0.1", "172.31.255.255",
        "192.0.0.8", "192.0.2.1", "192.88.99.1", "192.168.1.1", "198.18.0.1", "198.19.255.255", "198.51.100.7",
        "203.0.113.200", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
        // IPv6 special ranges.
        "::", "::1", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "100::1", "2001:db8::5", "64:ff9b:1::1",
        // Disguised IPv4: mapped, compatible, NAT64, 6to4, Teredo.
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:192.168.0.1", "::127.0.0.1", "::10.0.0.1",
        "64:ff9b::127.0.0.1", "64:ff9b::a9fe:101", "64:ff9b::192.168.1.1",
        "2002:7f00:1::1", "2002:a00:1::", "2002:c0a8:101::1",
        "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo client 127.0.0.1 (obfuscated)
        // SIIT (RFC 6052/7915) ::ffff:0:a.b.c.d.
        "::ffff:0:7f00:1", "::ffff:0:a00:1", "::ffff:0:a9fe:a9fe", "::ffff:0:c0a8:101",
    ]

    static let allowed: [String] = [
        "8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.1", "172.32.0.1", "2606:4700::1111",
        "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "::ffff:0:808:808",
    ]

    @Test(arguments: denied)
    func deniedByDefault(_ text: String) throws {
        let ip = try #require(IPAddress(text))
        #expect(!PeerFilter().allows(ip), "\(text) should be denied")
    }

    @Test(arguments: allowed)
    func allowedByDefault(_ text: String) throws {
        let ip = try #require(IPAddress(text))
        #expect(PeerFilter().allows(ip), "\(text) should be allowed")
    }

    @Test func allowListOverrides() throws {
        let filter = PeerFilter(allowList: [try #require(CIDR("10.5.0.0/16"))])
        #expect(filter.allows(IPAddress("10.5.1.1")!))
        #expect(filter.allows(IPAddress("::ffff:10.5.1.1")!))
        #expect(!filter.allows(IPAddress("10.6.1.1")!))
    }

    @Test func loopbackOption() {
        let filter = PeerFilter(allowLoopback: true)
        #expect(filter.allows(IPAddress("127.0.0.1")!))
        #expect(filter.allows(IPAddress("::1")!))
        #expect(filter.allows(IPAddress("::ffff:127.0.0.1")!))
        #expect(!filter.allows(IPAddress("10.0.0.1")!))
    }

    @Test func cidrParsing() {
        #expect(CIDR("10.0.0.0/8")?.contains(IPAddress("10.255.0.1")!) == true)
        #expect(CIDR("10.0.0.0/33") == nil)
        #expect(CIDR("fe80::/10")?.contains(IPAddress("febf::1")!) == true)
        #expect(CIDR("fe80::/10")?.contains(IPAddress("fec0::1")!) == false)
        #expect(CIDR("::/0")?.contains(IPAddress("1::")!) == true)
        #expect(CIDR("2001:db8::1/128")?.contains(IPAddress("2001:db8::1")!) == true)
        #expect(CIDR("bogus") == nil)
    }
}
