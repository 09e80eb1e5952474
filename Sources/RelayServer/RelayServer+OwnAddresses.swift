import RelayFastPath
import STUN
import TURNServer

extension RelayServer {
    /// Tells every engine's peer filter the relay's own addresses once its listeners are bound
    /// (RFC 8656 §21.1.2: a relay must not be a way into its own host). On the listening,
    /// relayed (and advertised) addresses only the relay port range is a peer (other
    /// allocations' relayed addresses, the TURN hairpin); the listeners and the metrics endpoint
    /// never are, not even with `allow-loopback-peers`; the host's other interface addresses
    /// are not peers at all. An `allow-peer` naming one of them exactly opens it.
    func protectOwnAddresses() async {
        let services = udpAddresses + tcpAddresses + tlsAddresses + (metricsAddress.map { [$0] } ?? [])
        let own =
            services.map(\.ip).filter { !PeerFilter.isUnspecifiedAddress($0) }
            + [configuration.relayIPv4, configuration.relayIPv6].compactMap { $0 } + ownAdvertisedAddresses
        let host = HostInterfaces.addresses().map(\.address)
        _ = await onEveryCore { core in core.engine.setOwnAddresses(own, host: host, services: services) }
    }

    /// The public addresses advertised for the relay addresses behind a NAT (`external-ip`):
    /// a datagram sent there comes back to the relay's own host.
    var ownAdvertisedAddresses: [IPAddress] { configuration.externalIPs.map(\.advertised) }
}
