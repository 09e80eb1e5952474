/// An ICE candidate as signalled (RFC 8445 §5.1, RFC 8839 §5.1 attribute fields; XEP-0176 carries
/// the same fields): foundation, component, transport, priority, address, port, type and the
/// related address of reflexive and relayed candidates.
public struct ICECandidate: Sendable, Hashable {
    /// Candidate type (RFC 8445 §5.1.1).
    public enum Kind: String, Sendable, Hashable {
        case host
        case serverReflexive = "srflx"
        case peerReflexive = "prflx"
        case relayed = "relay"
    }

    /// Transport, with the RFC 6544 TCP candidate types.
    public enum TransportProtocol: String, Sendable, Hashable {
        case udp
        case tcpActive = "tcp-active"
        case tcpPassive = "tcp-passive"
        case tcpSimultaneousOpen = "tcp-so"
    }

    public var foundation: String
    public var component: Int
    public var transport: TransportProtocol
    public var priority: UInt32
    public var address: String
    public var port: UInt16
    public var kind: Kind
    public var relatedAddress: String?
    public var relatedPort: UInt16?
    /// For our own relayed candidates: the TURN server (`address:port`, IPv6 in brackets) that
    /// allocated it, so each configured server's outcome can be told apart. nil otherwise.
    public var relayServer: String?

    public init(
        foundation: String, component: Int = 1, transport: TransportProtocol = .udp, priority: UInt32,
        address: String, port: UInt16, kind: Kind, relatedAddress: String? = nil, relatedPort: UInt16? = nil
    ) {
        self.foundation = foundation
        self.component = component
        self.transport = transport
        self.priority = priority
        self.address = address
        self.port = port
        self.kind = kind
        self.relatedAddress = relatedAddress
        self.relatedPort = relatedPort
    }
}

/// The ICE username fragment and password of one side (RFC 8445 §5.3).
public struct ICECredentials: Sendable, Hashable {
    public var usernameFragment: String
    public var password: String
    public init(usernameFragment: String, password: String) {
        self.usernameFragment = usernameFragment
        self.password = password
    }
}

/// Component state as libnice reports it (RFC 8445 §6.1.3 check-list states, seen per component).
public enum ICEComponentState: Sendable, Hashable {
    case disconnected, gathering, connecting, connected, ready, failed
}

/// What an `ICEAgent` reports, in order, through its event stream.
public enum ICEEvent: Sendable, Equatable {
    case localCandidate(ICECandidate)
    /// All local candidates are gathered (RFC 8838 end-of-candidates on our side).
    case gatheringDone
    case stateChanged(ICEComponentState)
    case selectedPair(local: ICECandidate, remote: ICECandidate)
    case datagram([UInt8])
}

/// An ICE server to use: STUN for server-reflexive candidates, TURN (RFC 8656) for relayed ones.
/// libnice wants literal IP addresses here, not host names.
public struct ICEServer: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case stun
        case turnUDP(username: String, password: String)
        case turnTCP(username: String, password: String)
        case turnTLS(username: String, password: String)
    }
    public var address: String
    public var port: UInt16
    public var kind: Kind
    public init(address: String, port: UInt16, kind: Kind) {
        self.address = address
        self.port = port
        self.kind = kind
    }
}

/// How an `ICEAgent` is set up.
public struct ICEConfiguration: Sendable {
    /// Controlling (the initiator) or controlled (RFC 8445 §6.1.1).
    public var controlling: Bool
    /// Local addresses to gather host candidates on; empty lets libnice pick every interface.
    /// Loopback is only used when listed here.
    public var localAddresses: [String]
    public var servers: [ICEServer]
    /// Use only relayed candidates (privacy, or to test a TURN server).
    public var relayOnly: Bool
    /// RFC 6544 ICE-TCP candidates (off: UDP only).
    public var tcpCandidates: Bool
    /// Trickle ICE (RFC 8838): checks start before the peer's candidates are all known; call
    /// `remoteGatheringDone()` on the peer's end-of-candidates.
    public var trickle: Bool

    public init(
        controlling: Bool, localAddresses: [String] = [], servers: [ICEServer] = [], relayOnly: Bool = false,
        tcpCandidates: Bool = false, trickle: Bool = true
    ) {
        self.controlling = controlling
        self.localAddresses = localAddresses
        self.servers = servers
        self.relayOnly = relayOnly
        self.tcpCandidates = tcpCandidates
        self.trickle = trickle
    }
}

/// Why an `ICEAgent` call failed.
public enum ICEError: Error, Equatable, Sendable {
    case agentCreationFailed
    case invalidAddress(String)
    case gatheringFailed
    case candidatesRejected
    case credentialsRejected
    case sendFailed
    case restartFailed
    case closed
}
