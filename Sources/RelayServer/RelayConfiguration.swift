import Foundation
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
    /// Seconds a permission and a channel binding last (RFC 8656 §9, §12: 300 and 600). Only
    /// tests want others, as with coturn's options of the same names.
    public var permissionLifetime = 300
    public var channelLifetime = 600
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
    /// Permissions and channels one allocation may hold (beyond them: 508).
    public var permissionsPerAllocation = 1000
    public var channelsPerAllocation = 1000
    /// Answers to unauthenticated requests (401, 438, 400, 420) per second per source address
    /// (IPv6 per /64), as many at once; 0 for no limit.
    public var unauthenticatedRepliesPerSecond = 20
    /// Addresses advertised in XOR-RELAYED-ADDRESS instead of the relay address they stand for
    /// (behind a 1:1 NAT): `external-ip = PUBLIC[/PRIVATE]`.
    public var externalIPs: [ExternalIP] = []
    /// TCP and TLS client connections at once, in total (0: half the descriptor limit) and from
    /// one source address; connections beyond either are closed when accepted.
    public var maxConnections = 0
    public var maxConnectionsPerIP = 256
    /// Seconds a TLS client has to finish its handshake.
    public var tlsHandshakeTimeout: Double = 10
    /// Seconds a TCP or TLS connection has, from its accept, to send a valid STUN message.
    public var firstMessageTimeout: Double = 10
    /// Seconds a TCP or TLS connection without an allocation may stay silent.
    public var idleTimeout: Double = 60
    /// The kernel fast path for UDP clients' channels (`RelayFastPath`): `auto` uses it when the
    /// kernel takes the program (CAP_BPF and CAP_NET_ADMIN, Linux) and relays in user space
    /// otherwise, saying why in one log line; `on` refuses to start without it; `off` never
    /// loads it.
    public var fastPath: FastPathMode = .auto

    public enum FastPathMode: String, Sendable, CaseIterable {
        case auto, on, off
    }

    /// The configuration file's directory: relative `user-file` and `secret-file` paths in the
    /// file are resolved against it.
    public var configurationDirectory: String?

    /// One `external-ip` setting: `PUBLIC`, or `PUBLIC/PRIVATE` where PRIVATE is a relay-ip.
    public struct ExternalIP: Sendable, Hashable {
        public var advertised: IPAddress
        public var relay: IPAddress?
        public init(advertised: IPAddress, relay: IPAddress?) {
            self.advertised = advertised
            self.relay = relay
        }
    }

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
        c.permissionLifetime = Double(permissionLifetime)
        c.channelLifetime = Double(channelLifetime)
        c.channelNumbers = rfc5766Channels ? ChannelData.legacyChannelRange : ChannelData.channelRange
        c.tcpAllocations = tcpRelay
        c.maxPeerConnectionsPerAllocation = tcpConnectionsPerAllocation
        c.maxPermissionsPerAllocation = permissionsPerAllocation
        c.maxChannelsPerAllocation = channelsPerAllocation
        c.unauthenticatedRepliesPerSecond = unauthenticatedRepliesPerSecond == 0 ? nil : Double(unauthenticatedRepliesPerSecond)
        // On the relay's own addresses only relay ports are peers (all threads' slices).
        c.peerFilter.relayPorts = portRange
        for external in externalIPs {
            if external.advertised.family == .ipv4 { c.externalIPv4 = external.advertised } else { c.externalIPv6 = external.advertised }
        }
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
            + "loopback-peers=\(allowLoopbackPeers) threads=\(threads) tcp-relay=\(tcpRelay) fast-path=\(fastPath.rawValue)"
            + (externalIPs.isEmpty ? "" : " nat=\(externalIPs.map { "\($0.advertised)/\($0.relay.map { "\($0)" } ?? "-")" })")
            + " connections=\(maxConnections == 0 ? "auto" : "\(maxConnections)") per-ip=\(maxConnectionsPerIP)"
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
    /// Parses the configuration file format: one `key = value` per line, `#` at the start of a
    /// line or after a space or tab starts a comment (`user = alice:pa#ss` keeps its `#`),
    /// repeatable keys (`listen`, `tls-listen`, `relay-ip`, `user`, `secret`, `allow-peer`)
    /// accumulate.
    public static func parse(_ text: String, directory: String? = nil) throws(RelayConfigurationError) -> RelayConfiguration {
        var configuration = RelayConfiguration()
        configuration.configurationDirectory = directory
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            if let hash = line.commentStart { line = line[..<hash] }
            let trimmed = line.trimmingSpaces
            guard !trimmed.isEmpty else { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw RelayConfigurationError(key: String(trimmed), line: lineNumber, reason: "expected `key = value`")
            }
            let key = String(trimmed[..<equals].trimmingSpaces)
            let value = String(trimmed[trimmed.index(after: equals)...].trimmingSpaces)
            try configuration.apply(key: key, value: value, line: lineNumber)
        }
        configuration.configurationDirectory = nil
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
            guard let n = Int(value), range.contains(n) else {
                throw fail("expected an integer in \(range.lowerBound)...\(range.upperBound), got \"\(value)\"")
            }
            return n
        }
        func seconds() throws(RelayConfigurationError) -> Double {
            guard let n = Double(value), n >= 0.1, n <= 86_400 else { throw fail("expected seconds in 0.1...86400, got \"\(value)\"") }
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
            // A wildcard would be handed to clients as their relayed address.
            guard ip != IPAddress(ip.family == .ipv4 ? "0.0.0.0" : "::") else {
                throw fail("\(value) is a wildcard; give the local address relayed allocations bind to (and external-ip behind NAT)")
            }
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
        case "user-file":
            // NAME:PASSWORD lines; empty lines and lines starting with # are skipped.
            for (number, entry) in try Self.fileLines(resolved(value), key: key, line: line).enumerated() where entry.text != nil {
                let text = entry.text!
                guard let colon = text.firstIndex(of: ":"), colon != text.startIndex, text.index(after: colon) != text.endIndex else {
                    throw fail("\(value) line \(number + 1): expected NAME:PASSWORD")
                }
                users[String(text[..<colon])] = String(text[text.index(after: colon)...])
            }
        case "secret-file":
            // One secret a line (several for rotation); empty lines and lines starting with # are skipped.
            let found = try Self.fileLines(resolved(value), key: key, line: line).compactMap(\.text)
            guard !found.isEmpty else { throw fail("\(value) holds no secret") }
            secrets += found
        case "external-ip":
            let parts = value.split(separator: "/", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count), let advertised = IPAddress(String(parts[0])) else {
                throw fail("expected PUBLIC or PUBLIC/PRIVATE IP addresses, got \"\(value)\"")
            }
            var relay: IPAddress?
            if parts.count == 2 {
                guard let ip = IPAddress(String(parts[1])), ip.family == advertised.family else {
                    throw fail("expected PUBLIC/PRIVATE, two addresses of one family, got \"\(value)\"")
                }
                relay = ip
            }
            externalIPs.removeAll { $0.advertised.family == advertised.family }
            externalIPs.append(ExternalIP(advertised: advertised, relay: relay))
        case "max-connections": maxConnections = try integer(0...10_000_000)
        case "max-connections-per-ip": maxConnectionsPerIP = try integer(1...10_000_000)
        case "tls-handshake-timeout": tlsHandshakeTimeout = try seconds()
        case "first-message-timeout": firstMessageTimeout = try seconds()
        case "idle-timeout": idleTimeout = try seconds()
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
        case "permission-lifetime": permissionLifetime = try integer(1...3600)
        case "channel-lifetime": channelLifetime = try integer(1...3600)
        case "drain-timeout": drainTimeout = Double(try integer(0...3600))
        case "socket-buffer": socketBufferBytes = try integer(0...(256 << 20))
        case "threads": threads = try integer(1...64)
        case "fast-path":
            guard let mode = FastPathMode(rawValue: value.lowercased()) else { throw fail("expected auto, on or off") }
            fastPath = mode
        case "tcp-relay": tcpRelay = try boolean()
        case "tcp-connections-per-allocation": tcpConnectionsPerAllocation = try integer(1...10_000)
        case "permissions-per-allocation": permissionsPerAllocation = try integer(1...1_000_000)
        case "channels-per-allocation": channelsPerAllocation = try integer(1...16_384)
        case "unauthenticated-replies-per-second": unauthenticatedRepliesPerSecond = try integer(0...1_000_000)
        default: throw fail("unknown key")
        }
    }

    /// Checks the settings make a working server.
    public func validate() throws(RelayConfigurationError) {
        if listen.isEmpty && tlsListen.isEmpty { throw RelayConfigurationError(key: "listen", line: nil, reason: "no listening address") }
        if relayIPv4 == nil && relayIPv6 == nil { throw RelayConfigurationError(key: "relay-ip", line: nil, reason: "no relay address") }
        if users.isEmpty && secrets.isEmpty {
            throw RelayConfigurationError(key: "user", line: nil, reason: "no users and no secrets: nobody could allocate")
        }
        if !tlsListen.isEmpty && (tlsCertificateFile == nil || tlsPrivateKeyFile == nil) {
            throw RelayConfigurationError(key: "tls-certificate", line: nil, reason: "tls-listen needs tls-certificate and tls-private-key")
        }
        for external in externalIPs {
            let relay = external.advertised.family == .ipv4 ? relayIPv4 : relayIPv6
            guard let relay else {
                throw RelayConfigurationError(key: "external-ip", line: nil, reason: "\(external.advertised) has no relay-ip of its family")
            }
            if let named = external.relay, named != relay {
                throw RelayConfigurationError(key: "external-ip", line: nil, reason: "\(named) is not a relay-ip (relay-ip is \(relay))")
            }
        }
    }

    /// Checks every relay-ip is an address of this machine that a socket can bind (a foreign
    /// one would start and then fail every Allocate with 508).
    public func checkRelayAddresses() throws(RelayConfigurationError) {
        for ip in [relayIPv4, relayIPv6].compactMap({ $0 }) {
            do {
                let probe = try DirectUDPSocket(
                    binding: TransportAddress(ip: ip, port: 0), bufferBytes: 0, reuseAddress: false, batched: false)
                probe.close()
            } catch DirectUDPSocket.SocketError.bind(_, let code) {
                throw RelayConfigurationError(
                    key: "relay-ip", line: nil,
                    reason:
                        "cannot bind \(ip): \(String(cString: strerror(code))) (it must be an address of this machine; behind NAT add external-ip = PUBLIC/\(ip))"
                )
            } catch {
                throw RelayConfigurationError(key: "relay-ip", line: nil, reason: "cannot bind \(ip): \(error)")
            }
        }
    }

    /// `path`, relative to the configuration file's directory when it is relative and read
    /// from a file.
    func resolved(_ path: String) -> String {
        guard !path.hasPrefix("/"), let configurationDirectory else { return path }
        return configurationDirectory + "/" + path
    }

    /// The lines of a secrets file, trimmed; nil for empty and comment lines.
    static func fileLines(_ path: String, key: String, line: Int?) throws(RelayConfigurationError) -> [(text: String?, Void)] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw RelayConfigurationError(key: key, line: line, reason: "cannot read \(path): \(describeFileError(error))")
        }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { raw in
            let trimmed = Substring(raw).trimmingSpaces
            return (trimmed.isEmpty || trimmed.first == "#" ? nil : String(trimmed), ())
        }
    }

    /// The reason a file could not be read, in one line (no Foundation error dump).
    public static func describeFileError(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
            let reason = strerror(Int32(underlying.code))
        {
            return String(cString: reason)
        }
        switch ns.code {
        case NSFileReadNoSuchFileError: return "No such file or directory"
        case NSFileReadNoPermissionError: return "Permission denied"
        default: return ns.localizedDescription
        }
    }
}

extension Substring {
    /// Where a comment starts: a `#` first on the line or after a space or tab.
    var commentStart: Index? {
        var previous: Character?
        for index in indices {
            if self[index] == "#", previous == nil || previous == " " || previous == "\t" { return index }
            previous = self[index]
        }
        return nil
    }

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
