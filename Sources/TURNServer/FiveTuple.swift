import STUN

/// The transport a client reaches the server over (RFC 8656 §3.1).
public enum ClientTransport: UInt8, Hashable, Sendable, CustomStringConvertible {
    case udp, tcp, tls

    public var description: String {
        switch self {
        case .udp: "udp"
        case .tcp: "tcp"
        case .tls: "tls"
        }
    }
}

/// The 5-tuple identifying an allocation: client address, server address and transport
/// (RFC 8656 §2, "5-tuple").
public struct FiveTuple: Hashable, Sendable, CustomStringConvertible {
    public var client: TransportAddress
    public var server: TransportAddress
    public var transport: ClientTransport

    public init(client: TransportAddress, server: TransportAddress, transport: ClientTransport) {
        self.client = client
        self.server = server
        self.transport = transport
    }

    /// Two 64-bit words for IPv4 tuples (hashed on every relayed packet).
    public func hash(into hasher: inout Hasher) {
        if case .v4(let c) = client.ip, case .v4(let s) = server.ip {
            hasher.combine(UInt64(c) << 32 | UInt64(s))
            hasher.combine(UInt64(client.port) << 24 | UInt64(server.port) << 8 | UInt64(transport.rawValue))
        } else {
            hasher.combine(client)
            hasher.combine(server)
            hasher.combine(transport)
        }
    }

    public var description: String { "\(transport):\(client)->\(server)" }
}
