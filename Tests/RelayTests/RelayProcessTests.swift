import Foundation
import Testing
import STUN
import TURNClientEngine
import TURNServer
@testable import RelayServer

/// The `jingle-relay` executable as systemd runs it: `Type=notify` notifications over the
/// test's own `$NOTIFY_SOCKET` (READY=1, WATCHDOG=1 with `WATCHDOG_USEC`, STOPPING=1), and
/// SIGTERM handling (one drains, a second exits at once).
@Suite struct RelayProcessTests {
    /// The built executable next to the test bundle.
    static var executable: String {
        let bundle = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent()
        let nextToTests = bundle.appendingPathComponent("jingle-relay").path
        if FileManager.default.isExecutableFile(atPath: nextToTests) { return nextToTests }
        return FileManager.default.currentDirectoryPath + "/.build/debug/jingle-relay"
    }

    /// An AF_UNIX datagram socket bound to a fresh path: what systemd listens on.
    final class NotifySocket {
        let fd: CInt
        let path: String
        private(set) var messages: [String] = []

        init() throws {
            path = NSTemporaryDirectory() + "jr-notify-\(UUID().uuidString.prefix(8))"
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw POSIXError(.EIO) }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, byte) in path.utf8.enumerated() { raw[i] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard bound == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit {
            close(fd)
            unlink(path)
        }

        /// Waits (bounded) for a datagram containing the line `line`; returns whether it came.
        func waitFor(_ line: String, within limit: TimeInterval = 20, while running: () -> Bool = { true }) -> Bool {
            let deadline = Date().addingTimeInterval(limit)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while Date() < deadline {
                if messages.contains(where: { $0.split(separator: "\n").contains(Substring(line)) }) { return true }
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 0 { messages.append(String(decoding: buffer[0..<n], as: UTF8.self)); continue }
                if !running() { return messages.contains { $0.split(separator: "\n").contains(Substring(line)) } }
            }
            return false
        }
    }

    final class RelayProcess {
        let process = Process()
        let stderrPath = NSTemporaryDirectory() + "jr-\(UUID().uuidString).err"
        let listen: TransportAddress
        let metrics: TransportAddress

        init(notify: NotifySocket, watchdogMicroseconds: Int?, drainTimeout: Int) throws {
            let port = try TestPorts.freeUDPPort()
            var metricsPort = try TestPorts.freeUDPPort()
            while metricsPort == port { metricsPort = try TestPorts.freeUDPPort() }
            listen = TransportAddress("127.0.0.1:\(port)")!
            metrics = TransportAddress("127.0.0.1:\(metricsPort)")!
            let range = TestPorts.relayRange()
            process.executableURL = URL(fileURLWithPath: RelayProcessTests.executable)
            process.arguments = [
                "--listen", "\(listen)", "--relay-ip", "127.0.0.1", "--realm", "relay.test",
                "--user", "alice:secret", "--allow-loopback-peers", "--ports", "\(range.lowerBound)-\(range.upperBound)",
                "--metrics", "\(metrics)", "--drain-timeout", "\(drainTimeout)",
            ]
            var environment = ProcessInfo.processInfo.environment
            environment["NOTIFY_SOCKET"] = notify.path
            environment["WATCHDOG_USEC"] = watchdogMicroseconds.map { "\($0)" }
            environment["WATCHDOG_PID"] = nil
            process.environment = environment
            _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }

        deinit {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: stderrPath)
        }

        var log: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

        func signal(_ number: Int32) { kill(process.processIdentifier, number) }

        /// Waits (bounded) for the process to exit; returns whether it did.
        func waitForExit(within limit: TimeInterval) async throws -> Bool {
            let deadline = Date().addingTimeInterval(limit)
            while process.isRunning, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            return !process.isRunning
        }
    }

    @Test func notifiesReadyWatchdogAndStoppingOverNotifySocket() async throws {
        let notify = try NotifySocket()
        let relay = try RelayProcess(notify: notify, watchdogMicroseconds: 200_000, drainTimeout: 5)
        #expect(notify.waitFor("READY=1", while: { relay.process.isRunning }), "\(notify.messages)\n\(relay.log)")
        #expect(notify.messages.contains { $0.contains("MAINPID=\(relay.process.processIdentifier)") })
        // Listening by then: the health endpoint answers.
        let health = try RelayOperationsTests.http("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", to: relay.metrics)
        #expect(RelayOperationsTests.status(health) == 200)
        // WATCHDOG=1 at half of 200 ms: two within a few seconds.
        #expect(notify.waitFor("WATCHDOG=1", within: 10))
        let first = notify.messages.filter { $0 == "WATCHDOG=1" }.count
        let deadline = Date().addingTimeInterval(10)
        while notify.messages.filter({ $0 == "WATCHDOG=1" }).count <= first, Date() < deadline { _ = notify.waitFor("none", within: 0.3) }
        #expect(notify.messages.filter { $0 == "WATCHDOG=1" }.count > first)

        relay.signal(SIGTERM)
        #expect(notify.waitFor("STOPPING=1", within: 10), "\(notify.messages)\n\(relay.log)")
        #expect(try await relay.waitForExit(within: 15))
        #expect(relay.process.terminationReason == .exit)
        #expect(relay.process.terminationStatus == 0, "\(relay.log)")
    }

    @Test func aSecondSIGTERMExitsAtOnceWhileDraining() async throws {
        let notify = try NotifySocket()
        let relay = try RelayProcess(notify: notify, watchdogMicroseconds: nil, drainTimeout: 300)
        #expect(notify.waitFor("READY=1", while: { relay.process.isRunning }), "\(relay.log)")
        #expect(!notify.messages.contains("WATCHDOG=1"))

        // A live allocation keeps the drain waiting.
        let socket = try UDPTestSocket()
        var client = TURNClient(configuration: .init(username: "alice", password: "secret"))
        let events = RelayUDPTests().drive(&client, socket, server: relay.listen, client.allocate(now: currentTime())) {
            if case .allocated = $0 { true } else if case .failed = $0 { true } else { false }
        }
        guard case .allocated? = events.last else { Issue.record("no allocation: \(events)\n\(relay.log)"); return }

        relay.signal(SIGTERM)
        #expect(notify.waitFor("STOPPING=1", within: 10), "\(relay.log)")
        // Draining, not gone: /health says 503.
        var status: Int?
        let deadline = Date().addingTimeInterval(10)
        while status != 503, Date() < deadline {
            status = RelayOperationsTests.status(
                (try? RelayOperationsTests.http("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", to: relay.metrics)) ?? "")
        }
        #expect(status == 503)
        #expect(relay.process.isRunning)

        // Gone long before the 300 s drain would end. The bound is generous: on a CI machine
        // loaded by the parallel relay suites the exit once took 10.8 s after the signal.
        let second = ContinuousClock.now
        relay.signal(SIGTERM)
        #expect(try await relay.waitForExit(within: 60), "\(relay.log)")
        #expect(ContinuousClock.now - second < .seconds(60))
        #expect(relay.process.terminationReason == .uncaughtSignal)
        #expect(relay.process.terminationStatus == SIGTERM)
        #expect(relay.log.contains("second signal"))
    }
}
