#if canImport(Glibc)
    import Glibc
#endif
import Foundation
import Testing
import STUN
import TURNClientEngine
import TURNServer
@testable import RelayServer

/// What running the relay in production needs (issue "jingle-relay in production"): the
/// configuration file's rules, secrets kept off the command line, NAT (external-ip), and
/// idle TCP/TLS connections that must not take the descriptors allocations need.
@Suite struct RelayConfigurationRulesTests {
    /// Item 11: `#` starts a comment only first on a line or after whitespace.
    @Test func hashInsideAValueIsNotAComment() throws {
        let c = try RelayConfiguration.parse(
            """
            # a comment
            user = alice:pa#ss
            user = bob:x # trailing comment
            realm = example.org\t# tab then comment
            secret = s#1
            """)
        #expect(c.users == ["alice": "pa#ss", "bob": "x"])
        #expect(c.realm == "example.org")
        #expect(c.secrets == ["s#1"])
    }

    /// Item 9: users and secrets from files (comments and blank lines skipped, errors named).
    @Test func usersAndSecretsFromFiles() throws {
        let directory = NSTemporaryDirectory() + "relay-secrets-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "# users\nalice:pa#ss:with:colons\n\nbob:hunter2\n".write(toFile: directory + "/users", atomically: true, encoding: .utf8)
        try "first-secret\n  second-secret  \n# old\n".write(toFile: directory + "/secret", atomically: true, encoding: .utf8)
        let c = try RelayConfiguration.parse("user-file = \(directory)/users\nsecret-file = \(directory)/secret\n")
        #expect(c.users == ["alice": "pa#ss:with:colons", "bob": "hunter2"])
        #expect(c.secrets == ["first-secret", "second-secret"])
        #expect(!c.redactedSummary.contains("hunter2") && !c.redactedSummary.contains("first-secret"))

        #expect(throws: RelayConfigurationError.self) { try RelayConfiguration.parse("secret-file = \(directory)/missing\n") }
        do {
            _ = try RelayConfiguration.parse("\n\nuser-file = \(directory)/missing\n")
        } catch {
            #expect(error.description == "line 3: user-file: cannot read \(directory)/missing: No such file or directory")
        }
        try "no-colon\n".write(toFile: directory + "/bad", atomically: true, encoding: .utf8)
        #expect(throws: RelayConfigurationError.self) { try RelayConfiguration.parse("user-file = \(directory)/bad\n") }
    }

    /// Item 10: external-ip forms and the checks made at start.
    @Test func externalIPAndRelayAddressChecks() throws {
        var c = try RelayConfiguration.parse("listen = 127.0.0.1:3478\nrelay-ip = 127.0.0.2\nsecret = s\nexternal-ip = 203.0.113.9\n")
        #expect(c.externalIPs == [.init(advertised: IPAddress("203.0.113.9")!, relay: nil)])
        try c.validate()
        #expect(c.engineConfiguration.externalIPv4 == IPAddress("203.0.113.9"))

        c = try RelayConfiguration.parse("listen = 127.0.0.1:3478\nrelay-ip = 127.0.0.2\nsecret = s\nexternal-ip = 203.0.113.9/127.0.0.3\n")
        #expect(throws: RelayConfigurationError.self) { try c.validate() }
        c = try RelayConfiguration.parse("listen = 127.0.0.1:3478\nrelay-ip = 127.0.0.2\nsecret = s\nexternal-ip = 2001:db8::1\n")
        #expect(throws: RelayConfigurationError.self) { try c.validate() }
        #expect(throws: RelayConfigurationError.self) { try RelayConfiguration.parse("external-ip = 203.0.113.9/::1\n") }
        #expect(throws: RelayConfigurationError.self) { try RelayConfiguration.parse("relay-ip = 0.0.0.0\n") }
        #expect(throws: RelayConfigurationError.self) { try RelayConfiguration.parse("relay-ip = ::\n") }

        // A relay-ip that is not an address of this machine is refused at start.
        c = try RelayConfiguration.parse("listen = 127.0.0.1:0\nrelay-ip = 192.0.2.1\nsecret = s\n")
        #expect(throws: RelayConfigurationError.self) { try c.checkRelayAddresses() }
        #expect(throws: RelayConfigurationError.self) { try RelayServer(configuration: c) }
        c.relayIPv4 = IPAddress("127.0.0.1")
        try c.checkRelayAddresses()
    }

    @Test func connectionLimitKeys() throws {
        let c = try RelayConfiguration.parse(
            """
            max-connections = 500
            max-connections-per-ip = 20
            tls-handshake-timeout = 2.5
            first-message-timeout = 4
            idle-timeout = 30
            """)
        #expect(c.maxConnections == 500 && c.maxConnectionsPerIP == 20)
        #expect(c.tlsHandshakeTimeout == 2.5 && c.firstMessageTimeout == 4 && c.idleTimeout == 30)
        #expect(throws: RelayConfigurationError.self) { try RelayConfiguration.parse("idle-timeout = 0\n") }
        #expect(throws: RelayConfigurationError.self) { try RelayConfiguration.parse("max-connections-per-ip = 0\n") }
    }
}

/// The relay's front door as an operator meets it: the executable's errors, flags, secrets
/// from files and the environment, NAT, TLS certificates and idle connections.
@Suite(.serialized) struct RelayDeploymentTests {
    /// The built executable next to the test bundle, else in .build/debug.
    static var executable: String {
        let bundle = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
        let nextToTests = bundle.appendingPathComponent("jingle-relay").path
        if FileManager.default.isExecutableFile(atPath: nextToTests) { return nextToTests }
        return FileManager.default.currentDirectoryPath + "/.build/debug/jingle-relay"
    }

    static var tools: String { URL(fileURLWithPath: executable).deletingLastPathComponent().path }

    /// Runs a process to completion (bounded): status, standard output, standard error.
    static func run(
        _ path: String, _ arguments: [String], environment: [String: String]? = nil,
        limit: Double = 20
    ) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let directory = NSTemporaryDirectory() + "relay-run-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = FileManager.default.createFile(atPath: directory + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: directory + "/err", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: directory + "/err"))
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(limit)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        CoturnInteropTests.stop(process)
        try out.close()
        try err.close()
        return (
            process.terminationStatus, (try? String(contentsOfFile: directory + "/out", encoding: .utf8)) ?? "",
            (try? String(contentsOfFile: directory + "/err", encoding: .utf8)) ?? ""
        )
    }

    /// A relay child process, its standard error in a file.
    final class Child {
        let process = Process()
        let log: String

        /// `prefix`: a command the relay runs under (`ip netns exec NAME`, `setpriv ...`);
        /// `program`: another program than the relay to run so.
        init(
            _ arguments: [String], environment: [String: String] = [:], descriptorLimit: Int? = nil, prefix: [String] = [],
            program: String = RelayDeploymentTests.executable
        ) throws {
            log = NSTemporaryDirectory() + "relay-child-\(UUID().uuidString.prefix(8)).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            if let command = prefix.first {
                process.executableURL = URL(fileURLWithPath: command)
                process.arguments = Array(prefix.dropFirst()) + [program] + arguments
            } else if let descriptorLimit {
                process.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
                process.arguments = ["--nofile=\(descriptorLimit):\(descriptorLimit)", RelayDeploymentTests.executable] + arguments
            } else {
                process.executableURL = URL(fileURLWithPath: RelayDeploymentTests.executable)
                process.arguments = arguments
            }
            var env = ProcessInfo.processInfo.environment
            env.removeValue(forKey: "NOTIFY_SOCKET")
            for (key, value) in environment { env[key] = value }
            process.environment = env
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = handle
            try process.run()
        }

        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        /// Waits (bounded) until the log holds `text`.
        func wait(for text: String, timeout: Double = 20) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if output.contains(text) { return true }
                if !process.isRunning { return output.contains(text) }
                usleep(50_000)
            }
            return false
        }

        func stop() {
            CoturnInteropTests.stop(process)
            try? FileManager.default.removeItem(atPath: log)
        }
    }

    /// Drives a TURN client over UDP until it is allocated or fails (5 s at most).
    static func allocate(_ client: inout TURNClient, _ socket: UDPTestSocket, server: TransportAddress) -> TURNClient.Event? {
        var queue = client.allocate(now: currentTime())
        let limit = Date().addingTimeInterval(5)
        while Date() < limit {
            for action in queue {
                switch action {
                case .send(let bytes): socket.send(bytes, to: server)
                case .event(let event):
                    if case .allocated = event { return event }
                    if case .failed = event { return event }
                }
            }
            queue = []
            if let (bytes, _) = socket.receive(timeout: 0.2) {
                queue = client.handle(bytes, now: currentTime())
            } else if let deadline = client.nextDeadline, deadline <= currentTime() {
                queue = client.handleTimeout(now: currentTime())
            }
        }
        return nil
    }

    static func isAllocated(_ event: TURNClient.Event?) -> Bool {
        if case .allocated? = event { true } else { false }
    }

    static func temporaryDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "relay-deploy-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Item 11: a missing configuration file, an unknown log level and a foreign relay-ip are
    /// one-line errors with exit status 64; a port in use names the address.
    @Test func configurationErrorsAreOneLineWithStatus64() throws {
        var r = try Self.run(Self.executable, ["--config", "/nonexistent/jingle-relay.conf"])
        #expect(r.status == 64)
        #expect(r.err == "jingle-relay: cannot read configuration file /nonexistent/jingle-relay.conf: No such file or directory\n")

        let base = ["--listen", "127.0.0.1:0", "--relay-ip", "127.0.0.1", "--secret-file", "/dev/null"]
        r = try Self.run(Self.executable, ["--log-level", "verbose", "--listen", "127.0.0.1:0", "--relay-ip", "127.0.0.1"])
        #expect(r.status == 64)
        #expect(r.err.split(separator: "\n").count == 1 && r.err.contains("--log-level") && r.err.contains("verbose"))

        r = try Self.run(Self.executable, base)
        #expect(r.status == 64, "an empty secret file: \(r.err)")
        #expect(r.err.contains("secret-file") && r.err.split(separator: "\n").count == 1)

        r = try Self.run(Self.executable, ["--listen", "127.0.0.1:0", "--relay-ip", "192.0.2.1", "--secret", "s"])
        #expect(r.status == 64)
        #expect(r.err.split(separator: "\n").count == 1 && r.err.contains("relay-ip") && r.err.contains("192.0.2.1"))

        r = try Self.run(Self.executable, ["--listen", "127.0.0.1:0", "--relay-ip", "0.0.0.0", "--secret", "s"])
        #expect(r.status == 64 && r.err.contains("0.0.0.0"))

        // A listening port another socket holds: the error names it.
        let busy = try UDPTestSocket()
        r = try Self.run(
            Self.executable,
            [
                "--listen", "\(busy.address)", "--relay-ip", "127.0.0.1", "--secret", "s",
                "--log-level", "error",
            ])
        #expect(r.status != 0)
        #expect(r.err.contains("cannot listen on udp \(busy.address): Address already in use"), "\(r.err)")
    }

    /// Item 11: every key the sample configuration documents (commented out or not) is a flag.
    @Test func everySampleKeyIsAFlag() throws {
        let sample = try String(
            contentsOfFile: FileManager.default.currentDirectoryPath + "/Samples/jingle-relay/jingle-relay.conf",
            encoding: .utf8)
        var keys: Set<String> = []
        for line in sample.split(separator: "\n") {
            var text = line.drop { $0 == " " }
            if text.hasPrefix("#") { text = text.dropFirst().drop { $0 == " " } }
            guard let equals = text.firstIndex(of: "=") else { continue }
            let key = text[..<equals].trimmingCharacters(in: .whitespaces)
            if !key.isEmpty, key.allSatisfy({ $0.isLowercase || $0 == "-" || $0.isNumber }) { keys.insert(key) }
        }
        #expect(keys.count >= 30, "\(keys.sorted())")
        let help = try Self.run(Self.executable, ["--help"]).out
        for key in keys.sorted() { #expect(help.contains("--\(key)"), "--\(key) missing from jingle-relay --help") }
    }

    /// Item 11: `--version` on every tool, one shared version string.
    @Test func everyToolPrintsTheSharedVersion() throws {
        var versions: [String] = []
        for tool in ["jingle-relay", "jingle-agent", "jingle-harness", "jingle-bench"] {
            let r = try Self.run(Self.tools + "/" + tool, ["--version"])
            #expect(r.status == 0, "\(tool): \(r.err)")
            versions.append(r.out.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        #expect(Set(versions).count == 1 && !versions[0].isEmpty, "\(versions)")
    }

    /// Item 9: the secret from JINGLE_RELAY_SECRET and users from --user-file work, and
    /// neither appears on the process's command line.
    @Test func secretsFromTheEnvironmentAndFilesStayOffTheCommandLine() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "alice:pass#word-from-file\n".write(toFile: directory + "/users", atomically: true, encoding: .utf8)
        let port = try TestPorts.freeUDPPort()
        let range = TestPorts.relayRange()
        let relay = try Child(
            [
                "--listen", "127.0.0.1:\(port)", "--relay-ip", "127.0.0.1", "--realm", "relay.test",
                "--user-file", directory + "/users", "--ports", "\(range.lowerBound)-\(range.upperBound)",
            ],
            environment: ["JINGLE_RELAY_SECRET": "env-secret-value"])
        defer { relay.stop() }
        #expect(relay.wait(for: "relay started"), "\(relay.output)")
        let commandLine = (try? String(contentsOfFile: "/proc/\(relay.process.processIdentifier)/cmdline", encoding: .utf8)) ?? ""
        #expect(!commandLine.isEmpty && !commandLine.contains("env-secret-value") && !commandLine.contains("pass#word"))
        #expect(!relay.output.contains("env-secret-value") && !relay.output.contains("pass#word"))

        let server = TransportAddress(ip: IPAddress("127.0.0.1")!, port: port)
        let username = CredentialStore.restUsername(expiry: Int(Date().timeIntervalSince1970) + 600, name: "bob")
        var rest = TURNClient(
            configuration: .init(
                username: username,
                password: CredentialStore.restPassword(username: username, secret: "env-secret-value")))
        #expect(Self.isAllocated(Self.allocate(&rest, try UDPTestSocket(), server: server)))
        var user = TURNClient(configuration: .init(username: "alice", password: "pass#word-from-file"))
        #expect(Self.isAllocated(Self.allocate(&user, try UDPTestSocket(), server: server)))
    }

    /// Items 9 and 1: SIGHUP re-reads the user file and rebuilds the TLS context from the
    /// certificate files.
    @Test func hangupRereadsTheUserFileAndTheCertificate() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificate = try CoturnInteropTests.certificate()
        try "alice:first\n".write(toFile: directory + "/users", atomically: true, encoding: .utf8)
        let port = try TestPorts.freeUDPPort()
        var tlsPort = try TestPorts.freeUDPPort()
        while tlsPort == port { tlsPort = try TestPorts.freeUDPPort() }
        let range = TestPorts.relayRange()
        let relay = try Child([
            "--listen", "127.0.0.1:\(port)", "--tls-listen", "127.0.0.1:\(tlsPort)",
            "--tls-certificate", certificate.certificate, "--tls-private-key", certificate.key,
            "--relay-ip", "127.0.0.1", "--realm", "relay.test", "--user-file", directory + "/users",
            "--ports", "\(range.lowerBound)-\(range.upperBound)",
        ])
        defer { relay.stop() }
        #expect(relay.wait(for: "relay started"), "\(relay.output)")
        let server = TransportAddress(ip: IPAddress("127.0.0.1")!, port: port)
        var carol = TURNClient(configuration: .init(username: "carol", password: "second"))
        #expect(!Self.isAllocated(Self.allocate(&carol, try UDPTestSocket(), server: server)))

        try "alice:first\ncarol:second\n".write(toFile: directory + "/users", atomically: true, encoding: .utf8)
        kill(relay.process.processIdentifier, SIGHUP)
        #expect(relay.wait(for: "credentials reloaded"), "\(relay.output)")
        #expect(relay.wait(for: "TLS certificate reloaded"), "\(relay.output)")
        carol = TURNClient(configuration: .init(username: "carol", password: "second"))
        #expect(Self.isAllocated(Self.allocate(&carol, try UDPTestSocket(), server: server)))
        #expect(!relay.output.contains("second"))
    }

    /// Item 10: behind NAT, the relayed address handed out is the public one (203.0.113.9, a
    /// documentation address) with the port of the socket bound on the private relay-ip
    /// (127.0.0.2), and that socket relays.
    @Test func externalIPIsAdvertisedInXorRelayedAddress() async throws {
        for form in ["203.0.113.9/127.0.0.2", "203.0.113.9"] {
            var c = RelayUDPTests.configuration()
            c.relayIPv4 = IPAddress("127.0.0.2")
            try c.apply(key: "external-ip", value: form)
            let server = try RelayServer(configuration: c)
            try await server.start()
            let listen = try #require(server.udpAddresses.first)
            let socket = try UDPTestSocket()
            var client = TURNClient(configuration: .init(username: "alice", password: "secret"))
            guard case .allocated(let relays, _, _, _)? = Self.allocate(&client, socket, server: listen) else {
                Issue.record("no allocation with external-ip \(form)")
                try await server.stop()
                continue
            }
            let relayed = try #require(relays.first)
            #expect(relayed.ip == IPAddress("203.0.113.9"))
            #expect(c.portRange.contains(relayed.port))

            // The socket really is on 127.0.0.2 at that port: a peer's datagram to it arrives.
            let peer = try UDPTestSocket()
            var queue = client.createPermission([peer.address.ip], now: currentTime())
            for action in queue { if case .send(let bytes) = action { socket.send(bytes, to: listen) } }
            let permitted = Date().addingTimeInterval(5)
            var granted = false
            while !granted, Date() < permitted, let (bytes, _) = socket.receive(timeout: 1) {
                queue = client.handle(bytes, now: currentTime())
                granted = queue.contains { if case .event(.permissionCreated) = $0 { true } else { false } }
            }
            #expect(granted)
            peer.send([9, 9, 9], to: TransportAddress(ip: IPAddress("127.0.0.2")!, port: relayed.port))
            let data = socket.receive(timeout: 5)
            #expect(data != nil)
            try await server.stop()
        }
    }

    /// Item 1: the TLS certificate and key are read once at start (connections keep working
    /// after the files are gone) and again on reload (SIGHUP), when new connections get the new
    /// certificate.
    @Test func tlsContextIsBuiltOnceAndRebuiltOnReload() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let openssl = try CoturnInteropTests.tool("openssl")
        func makeCertificate(_ name: String) throws {
            _ = try Self.run(
                openssl,
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem", "-days", "1",
                    "-subj", "/CN=\(name)",
                ])
        }
        try makeCertificate("first-certificate")
        var c = RelayUDPTests.configuration()
        c.tlsListen = [TransportAddress("127.0.0.1:0")!]
        c.tlsCertificateFile = directory + "/cert.pem"
        c.tlsPrivateKeyFile = directory + "/key.pem"
        let server = try RelayServer(configuration: c)
        try await server.start()
        let tls = try #require(server.tlsAddresses.first)
        func handshake() throws -> String {
            try Self.run(openssl, ["s_client", "-connect", "\(tls)", "-brief"], limit: 10).err
        }
        try FileManager.default.removeItem(atPath: directory + "/cert.pem")
        try FileManager.default.removeItem(atPath: directory + "/key.pem")
        let first = try handshake()
        #expect(first.contains("CONNECTION ESTABLISHED") && first.contains("first-certificate"), "\(first)")

        try makeCertificate("second-certificate")
        server.reloadTLS(certificateChainFile: c.tlsCertificateFile, privateKeyFile: c.tlsPrivateKeyFile)
        let second = try handshake()
        #expect(second.contains("CONNECTION ESTABLISHED") && second.contains("second-certificate"), "\(second)")
        try await server.stop()
    }

    /// Item 1: a connection that sent a valid message but holds no allocation is closed after
    /// the idle timeout; one holding an allocation stays open past it.
    @Test func idleConnectionsWithoutAnAllocationAreClosed() async throws {
        var c = RelayUDPTests.configuration()
        c.idleTimeout = 1
        c.firstMessageTimeout = 1
        let server = try RelayServer(configuration: c)
        try await server.start()
        let listen = try #require(server.tcpAddresses.first)

        let allocated = try #require(TCPTestStream.connect(to: listen))
        allocated.send(STUNMessage(.allocate, .request, attributes: [.requestedTransport(17)]).encode())
        let nonce = try #require(allocated.message(timeout: 5)?.nonce)
        allocated.send(
            STUNMessage(
                .allocate, .request,
                attributes: [
                    .requestedTransport(17), .username("alice"), .realm("relay.test"),
                    .nonce(nonce),
                ]
            ).encode(key: RelayTCPAllocationTests.key))
        #expect(allocated.message(timeout: 5)?.type.messageClass == .successResponse)

        let binding = try #require(TCPTestStream.connect(to: listen))
        binding.send(STUNMessage(.binding, .request).encode())
        #expect(binding.message(timeout: 5)?.type.messageClass == .successResponse)
        let started = Date()
        #expect(binding.closedByPeer(timeout: 4))
        #expect(Date().timeIntervalSince(started) >= 0.5)
        // The allocation's connection outlived two idle periods.
        #expect(allocated.read(timeout: 1.5) == nil)
        #expect(try await server.allocationCount() == 1)
        try await server.stop()
    }

    /// Item 1: a TLS client that never completes its handshake is closed at the handshake
    /// timeout, well before the first-message deadline; one TCP source address is held to
    /// max-connections-per-ip.
    @Test func tlsHandshakeTimeoutAndPerAddressCap() async throws {
        let certificate = try CoturnInteropTests.certificate()
        var c = RelayUDPTests.configuration()
        c.tlsListen = [TransportAddress("127.0.0.1:0")!]
        c.tlsCertificateFile = certificate.certificate
        c.tlsPrivateKeyFile = certificate.key
        c.tlsHandshakeTimeout = 0.5
        c.firstMessageTimeout = 30
        c.maxConnectionsPerIP = 3
        let server = try RelayServer(configuration: c)
        try await server.start()
        let tls = try #require(server.tlsAddresses.first)
        let silent = try #require(TCPTestStream.connect(to: tls))
        let started = Date()
        #expect(silent.closedByPeer(timeout: 10))
        let took = Date().timeIntervalSince(started)
        #expect(took >= 0.3 && took < 5, "\(took)")

        // Three connections from 127.0.0.1 are kept; the fourth is closed at once.
        let tcp = try #require(server.tcpAddresses.first)
        let kept = (0..<3).compactMap { _ in TCPTestStream.connect(to: tcp) }
        #expect(kept.count == 3)
        for stream in kept {
            stream.send(STUNMessage(.binding, .request).encode())
            #expect(stream.message(timeout: 5)?.type.messageClass == .successResponse)
        }
        let fourth = try #require(TCPTestStream.connect(to: tcp))
        #expect(fourth.closedByPeer(timeout: 5))
        #expect(server.connectionLimits.refused.load(ordering: .relaxed) >= 1)
        // A closed connection frees its place.
        kept[0].shutdownBoth()
        var admitted = false
        for _ in 0..<50 where !admitted {
            let again = try #require(TCPTestStream.connect(to: tcp))
            again.send(STUNMessage(.binding, .request).encode())
            admitted = again.message(timeout: 0.5)?.type.messageClass == .successResponse
        }
        #expect(admitted)
        try await server.stop()
    }

    /// Item 1: 120 connections that send nothing (60 TCP, 60 TLS) against a relay limited to
    /// 128 descriptors: the caps refuse what would exhaust them, UDP allocations keep
    /// succeeding, and every idle connection is closed within its deadline.
    @Test func idleConnectionsCannotExhaustDescriptors() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let certificate = try CoturnInteropTests.certificate()
        try "alice:secret\n".write(toFile: directory + "/users", atomically: true, encoding: .utf8)
        let port = try TestPorts.freeUDPPort()
        var tlsPort = try TestPorts.freeUDPPort()
        while tlsPort == port { tlsPort = try TestPorts.freeUDPPort() }
        let range = TestPorts.relayRange()
        let relay = try Child(
            [
                "--listen", "127.0.0.1:\(port)", "--tls-listen", "127.0.0.1:\(tlsPort)",
                "--tls-certificate", certificate.certificate, "--tls-private-key", certificate.key,
                "--relay-ip", "127.0.0.1", "--realm", "relay.test", "--user-file", directory + "/users",
                "--ports", "\(range.lowerBound)-\(range.upperBound)", "--socket-buffer", "0",
                "--tls-handshake-timeout", "2", "--first-message-timeout", "3", "--idle-timeout", "3",
                "--max-connections-per-ip", "1000",
            ],
            descriptorLimit: 128)
        defer { relay.stop() }
        #expect(relay.wait(for: "relay started"), "\(relay.output)")
        #expect(relay.output.contains("descriptor limit") && relay.output.contains("soft=128"), "\(relay.output)")

        let server = TransportAddress(ip: IPAddress("127.0.0.1")!, port: port)
        var idle: [TCPTestStream] = []
        for _ in 0..<60 {
            if let s = TCPTestStream.connect(to: server) { idle.append(s) }
            if let s = TCPTestStream.connect(to: TransportAddress(ip: IPAddress("127.0.0.1")!, port: tlsPort)) { idle.append(s) }
        }
        let opened = Date()
        #expect(idle.count == 120)

        // Allocations keep succeeding while the idle connections are held.
        var sockets: [UDPTestSocket] = []
        for _ in 0..<10 {
            let socket = try UDPTestSocket()
            sockets.append(socket)
            var client = TURNClient(configuration: .init(username: "alice", password: "secret"))
            let event = Self.allocate(&client, socket, server: server)
            #expect(Self.isAllocated(event), "\(String(describing: event))")
        }

        // Every idle connection is closed by the first-message deadline (3 s), with margin.
        var stillOpen = 0
        for stream in idle where !stream.closedByPeer(timeout: max(0.1, 6 - Date().timeIntervalSince(opened))) { stillOpen += 1 }
        #expect(stillOpen == 0)
        #expect(Date().timeIntervalSince(opened) < 7)

        // And allocations still succeed afterwards.
        let socket = try UDPTestSocket()
        var client = TURNClient(configuration: .init(username: "alice", password: "secret"))
        #expect(Self.isAllocated(Self.allocate(&client, socket, server: server)))
        #expect(relay.process.isRunning)
    }
}
