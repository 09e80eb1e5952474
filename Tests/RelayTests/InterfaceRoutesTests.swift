import Testing
import STUN
@testable import RelayFastPath

/// Reading the main routing table as the kernel prints it, and choosing the interface a relayed
/// datagram leaves by.
@Suite struct InterfaceRoutesTests {
    /// /proc/net/route of a cloud VM: a default route and its subnet on eth0, a container bridge.
    static let ipv4 = """
        Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
        eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0
        eth0\t0000000A\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0
        docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
        down0\t00004DC0\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0
        """

    /// /proc/net/ipv6_route: a default route, a /64 on eth0, and a reject route.
    static let ipv6 = """
        00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003     eth0
        20010db8000100000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
        20010db8000200000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000201       lo
        """

    static func table() -> InterfaceRoutes {
        var t = InterfaceRoutes()
        t.routes = InterfaceRoutes.parseIPv4(ipv4) + InterfaceRoutes.parseIPv6(ipv6)
        t.localAddresses = [IPAddress("10.0.0.5")!, IPAddress("2001:db8:1::5")!]
        t.loopbackIndex = 1
        t.indexes = ["eth0": 2, "docker0": 3, "down0": 4, "lo": 1]
        return t
    }

    @Test func routesParseWithTheirPrefixes() {
        let v4 = InterfaceRoutes.parseIPv4(Self.ipv4)
        #expect(v4.map(\.interface) == ["eth0", "eth0", "docker0"], "routes that are not up are left out")
        #expect(v4.map(\.prefixLength) == [0, 24, 16])
        #expect(v4[1].destination == IPAddress("10.0.0.0"))
        let v6 = InterfaceRoutes.parseIPv6(Self.ipv6)
        #expect(v6.map(\.prefixLength) == [0, 64], "the reject route is left out")
        #expect(v6[1].destination == IPAddress("2001:db8:1::"))
    }

    @Test func theLongestPrefixWinsAndOwnAddressesAreLocal() {
        let t = Self.table()
        #expect(t.egress(to: IPAddress("10.0.0.9")!) == .init(interfaceIndex: 2, local: false))
        #expect(t.egress(to: IPAddress("172.17.0.2")!) == .init(interfaceIndex: 3, local: false))
        #expect(t.egress(to: IPAddress("198.51.100.7")!) == .init(interfaceIndex: 2, local: false), "the default route")
        #expect(t.egress(to: IPAddress("10.0.0.5")!) == .init(interfaceIndex: 1, local: true))
        #expect(t.egress(to: IPAddress("127.0.0.1")!) == .init(interfaceIndex: 1, local: true))
        #expect(t.egress(to: IPAddress("2001:db8:1::77")!) == .init(interfaceIndex: 2, local: false))
        #expect(t.egress(to: IPAddress("2001:db8:1::5")!) == .init(interfaceIndex: 1, local: true))
        #expect(t.egress(to: IPAddress("::1")!) == .init(interfaceIndex: 1, local: true))
        var none = Self.table()
        none.routes = []
        #expect(none.egress(to: IPAddress("198.51.100.7")!) == nil, "no route: user space")
    }
}
