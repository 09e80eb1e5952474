import STUN
import TURNServer

/// The relay daemon's settings: where to listen, the relay addresses, credentials, peer
/// policy, quotas and metrics. Read from a `key = value` file (see
/// Samples/jingle-relay/jingle-relay.conf for every key) and overridden from the command line.
public struct RelayConfiguration: Sendable {
    /// UDP and TCP listening addresses (both transports on each).
    public var listen: [TransportAddress] = []
    /// TLS-over-TCP listening addresses.
    public var tlsListen: [TransportAddress] = []
    public var tlsCertificateFile: String?
    public var tlsPrivateKeyFile: String?
    public var relayIPv4: IPAddress?
    public var relayIPv6: IPAddress?
    public var realm = "jinglekit"
    /// Long-term users, name to password.
    public var users: [String: String] = [:]
    /// TURN REST shared secrets; all are accepted (rotation).
    public var secrets: [String] = []
    public var allowPeers: [CIDR] = []
    public var allowLoopbackPeers = false
    public var metrics: TransportAddress?
    public var portRange: ClosedRange<UInt16> = 49152...65535
    public var maxAllocations = 10_000
    public var maxAllocationsPerUser = 100
    public var bandwidthBytesPerSecond: Int?
    public var maxLifetime: UInt32 = 3600
    public var software: String? = "jingle-relay"
    public var alternateServer: TransportAddress?
    public var nonceLifetime: Double = 600
    /// How long SIGTERM waits for allocations to end before closing everything.
    public var drainTimeout: Double = 30
    /// Socket buffer sizes for the listeners and relay sockets (0 keeps the system default).
    public var socketBufferBytes = 4 << 20
    /// Accept RFC 5766 channel numbers 0x4000-0x7FFF (older clients, coturn's tools).
    public var rfc5766Channels = false
    /// UDP data-plane threads. Each has its own `SO_REUSEPORT` socket on every UDP listening
    /// address (the kernel keeps each client 5-tuple on one of them), its own allocation table
    /// and its own share of the relay port range; `max-allocations` is split between them and
    /// `user-quota` applies per thread.
    public var threads = 1
    /// TCP allocations (RFC 6062); off answers REQUESTED-TRANSPORT TCP with 442.
    public var tcpRelay = true
    /// Peer TCP connections one TCP allocation may hold (Connect beyond it: 403).
    public var tcpConnectionsPerAllocation = 64

    public init() {}

    /// The engine configuration these settings describe.
    public var engineConfiguration: TURNServerConfiguration {
        var c = TURNServerConfiguration(realm: realm, relayIPv4: relayIPv4, relayIPv6: relayIPv6)
        c.portRange = portRange
        c.maxAllocations = maxAllocations
        c.maxAllocationsPerUser = maxAllocationsPerUser
        c.bandwidthBytesPerSecond = bandwidthBytesPerSecond
        c.maxLifetime = maxLifetime
        c.peerFilter = PeerFilter(allowList: allowPeers, allowLoopback: allowLoopbackPeers)
        c.software = software
        c.alternateServer = alternateServer
        c.nonceLifetime = nonceLifetime
        c.channelNumbers = rfc5766Channels ? ChannelData.legacyChannelRange : ChannelData.channelRange
        c.tcpAllocations = tcpRelay
        c.maxPeerConnectionsPerAllocation = tcpConnectionsPerAllocation
        return c
    }

    /// The engine configuration of data-plane thread `shard` (0..<threads): its own slice of
    /// the relay port range (so threads never race for a port; the whole range when it is
    /// smaller than two ports a thread) and its share of `max-allocations`.
    public func engineConfiguration(shard: Int) -> TURNServerConfiguration {
        var c = engineConfiguration
        let count = max(threads, 1)
        guard count > 1 else { return c }
        // CONNECTION-IDs name their thread, so a ConnectionBind finds it (RFC 6062 §5.4).
        c.connectionIDShard = (UInt32(shard), UInt32(count))
        c.maxAllocations = (maxAllocations + count - 1) / count
        let size = portRange.count
        if size >= 2 * count {
            let low = Int(portRange.lowerBound) + size * shard / count
            let high = Int(portRange.lowerBound) + size * (shard + 1) / count - 1
            c.portRange = UInt16(low)...UInt16(high)
        }
        return c
    }

    /// A one-line summary safe for logs: passwords and secrets are never included.
    public var redactedSummary: String {
        let listeners = (listen.map { "udp+tcp://\($0)" } + tlsListen.map { "tls://\($0)" }).joined(separator: ",")
        return "listen=\(listeners) relay=\(relayIPv4.map { "\($0)" } ?? "-")/\(relayIPv6.map { "\($0)" } ?? "-") "
            + "realm=\(realm) users=\(users.count)(redacted) secrets=\(secrets.count)(redacted) "
            + "ports=\(portRange.lowerBound)-\(portRange.upperBound) allow-peers=\(allowPeers.map(\.description)) "
            + "loopback-peers=\(allowLoopbackPeers) threads=\(threads) tcp-relay=\(tcpRelay)"
    }
}

/// A configuration error naming the key and the line it was on.
public struct RelayConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var key: String
    public var line: Int?
    public var reason: String

    public init(key: String, line: Int?, reason: String) {
        self.key = key
        self.line = line
        self.reason = reason
    }

    public var description: String {
        if let line { return "line \(line): \(key): \(reason)" }
        return "\(key): \(reason)"
    }
}

extension RelayConfiguration {
    /// Parses the configuration file format: one `key = value` per line, `#` starts a comment,
    /// repeatable keys (`listen`, `tls-listen`, `relay-ip`, `user`, `secret`, `allow-peer`)
    /// accumulate.
    public static func parse(_ text: String) throws(RelayConfigurationError) -> RelayConfiguration {
        var configuration = RelayConfiguration()
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            if let hash = line.firstIndex(of: "#") { line = line[..<hash] }
            let trimmed = line.trimmingSpaces
            guard !trimmed.isEmpty else { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw RelayConfigurationError(key: String(trimmed), line: lineNumber, reason: "expected `key = value`")
            }
            let key = String(trimmed[..<equals].trimmingSpaces)
            let value = String(trimmed[trimmed.index(after: equals)...].trimmingSpaces)
            try configuration.apply(key: key, value: value, line: lineNumber)
        }
        return configuration
    }

    /// Applies one setting (from the file or the command line).
    public mutating func apply(key: String, value: String, line: Int? = nil) throws(RelayConfigurationError) {
        func fail(_ reason: String) -> RelayConfigurationError { RelayConfigurationError(key: key, line: line, reason: reason) }
        func address() throws(RelayConfigurationError) -> TransportAddress {
            guard let a = TransportAddress(value) else { throw fail("expected HOST:PORT or [IPv6]:PORT, got \"\(value)\"") }
            return a
        }
        func integer(_ range: ClosedRange<Int>) throws(RelayConfigurationError) -> Int {
            guard let n = Int(value), range.contains(n) else { throw fail("expected an integer in \(range.lowerBound)...\(range.upperBound), got \"\(value)\"") }
            return n
        }
        func boolean() throws(RelayConfigurationError) -> Bool {
            switch value.lowercased() {
            case "true", "yes", "on", "1": return true
            case "false", "no", "off", "0": return false
            default: throw fail("expected true or false, got \"\(value)\"")
            }
        }
        switch key {
        case "listen": listen.append(try address())
        case "tls-listen": tlsListen.append(try address())
        case "tls-certificate": tlsCertificateFile = value
        case "tls-private-key": tlsPrivateKeyFile = value
        case "relay-ip":
            guard let ip = IPAddress(value) else { throw fail("expected an IP address, got \"\(value)\"") }
            if ip.family == .ipv4 { relayIPv4 = ip } else { relayIPv6 = ip }
        case "realm":
            guard !value.isEmpty else { throw fail("must not be empty") }
            realm = value
        case "user":
            guard let colon = value.firstIndex(of: ":"), colon != value.startIndex, value.index(after: colon) != value.endIndex else {
                throw fail("expected NAME:PASSWORD")
            }
            users[String(value[..<colon])] = String(value[value.index(after: colon)...])
        case "secret":
            guard !value.isEmpty else { throw fail("must not be empty") }
            secrets.append(value)
        case "allow-peer":
            guard let cidr = CIDR(value) else { throw fail("expected ADDRESS/PREFIX, got \"\(value)\"") }
            allowPeers.append(cidr)
        case "allow-loopback-peers": allowLoopbackPeers = try boolean()
        case "rfc5766-channels": rfc5766Channels = try boolean()
        case "metrics": metrics = try address()
        case "ports":
            let parts = value.split(separator: "-")
            guard parts.count == 2, let low = UInt16(parts[0]), let high = UInt16(parts[1]), low <= high, low > 0 else {
                throw fail("expected MIN-MAX, got \"\(value)\"")
            }
            portRange = low...high
        case "max-allocations": maxAllocations = try integer(1...10_000_000)
        case "user-quota": maxAllocationsPerUser = try integer(1...10_000_000)
        case "bandwidth": bandwidthBytesPerSecond = try integer(0...Int(Int32.max)).nonZero
        case "max-lifetime": maxLifetime = UInt32(try integer(600...86_400))
        case "software": software = value.isEmpty ? nil : value
        case "alternate-server": alternateServer = try address()
        case "nonce-lifetime": nonceLifetime = Double(try integer(10...86_400))
        case "drain-timeout": drainTimeout = Double(try integer(0...3600))
        case "socket-buffer": socketBufferBytes = try integer(0...(256 << 20))
        case "threads": threads = try integer(1...64)
        case "tcp-relay": tcpRelay = try boolean()
        case "tcp-connections-per-allocation": tcpConnectionsPerAllocation = try integer(1...10_000)
        default: throw fail("unknown key")
        }
    }

    /// Checks the settings make a working server.
    public func validate() throws(RelayConfigurationError) {
        if listen.isEmpty && tlsListen.isEmpty { throw RelayConfigurationError(key: "listen", line: nil, reason: "no listening address") }
        if relayIPv4 == nil && relayIPv6 == nil { throw RelayConfigurationError(key: "relay-ip", line: nil, reason: "no relay address") }
        if users.isEmpty && secrets.isEmpty { throw RelayConfigurationError(key: "user", line: nil, reason: "no users and no secrets: nobody could allocate") }
        if !tlsListen.isEmpty && (tlsCertificateFile == nil || tlsPrivateKeyFile == nil) {
            throw RelayConfigurationError(key: "tls-certificate", line: nil, reason: "tls-listen needs tls-certificate and tls-private-key")
        }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return s
    }
}

extension Int {
    var nonZero: Int? { self == 0 ? nil : self }
}
