import Foundation
import Logging
import Synchronization
import Testing
import STUN
import TURNClientEngine
import TURNServer
@testable import RelayServer

/// Operating the relay: the metrics endpoint over NIOHTTP1 (`/health`, process and build
/// metrics, HEAD, query strings, keep-alive, 405), and the log line that ends an allocation.
@Suite struct RelayOperationsTests {
    /// One HTTP exchange on a fresh loopback connection: sends `requests` (pipelined) and reads
    /// until the peer closes or 5 seconds pass.
    static func http(_ requests: String, to address: TransportAddress) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var storage = sockaddr_storage()
        let length = SocketAddressBytes.write(address, family: .ipv4, into: &storage)
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        let bytes = Array(requests.utf8)
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { throw POSIXError(.EIO) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        return String(decoding: response, as: UTF8.self)
    }

    static func status(_ response: String) -> Int? {
        let parts = response.split(separator: " ", maxSplits: 2)
        return parts.count > 1 ? Int(parts[1]) : nil
    }

    static func body(_ response: String) -> String {
        guard let range = response.range(of: "\r\n\r\n") else { return "" }
        return String(response[range.upperBound...])
    }

    @Test func healthMetricsHeadQueryAndMethods() async throws {
        let server = try RelayServer(configuration: RelayUDPTests.configuration())
        server.buildVersion = "1.2.3-test"
        try await server.start()
        defer { Task { try? await server.stop() } }
        let endpoint = try #require(server.metricsAddress)

        let health = try Self.http("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", to: endpoint)
        #expect(Self.status(health) == 200, "\(health)")
        #expect(Self.body(health) == "serving\n")

        // A query string does not change the route.
        let metrics = try Self.http(
            "GET /metrics?name[]=turn_allocations&x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", to: endpoint)
        #expect(Self.status(metrics) == 200)
        #expect(metrics.lowercased().contains("content-type: text/plain; version=0.0.4"))
        let text = Self.body(metrics)
        #expect(text.contains("turn_allocations 0"))
        for name in [
            "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds", "process_max_fds",
            "process_start_time_seconds", "process_virtual_memory_bytes",
        ] {
            let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
            let value = try #require(line.flatMap { Double($0.split(separator: " ")[1]) }, "\(name) missing")
            #expect(value > 0, "\(name) = \(value)")
        }
        #expect(text.contains("jingle_relay_build_info{version=\"1.2.3-test\",arch="))
        #expect(text.contains("# TYPE process_cpu_seconds_total counter"))
        let rss = try #require(text.split(separator: "\n").first { $0.hasPrefix("process_resident_memory_bytes ") })
        #expect(Double(rss.split(separator: " ")[1])! > 1_000_000)
        let start = try #require(text.split(separator: "\n").first { $0.hasPrefix("process_start_time_seconds ") })
        let started = Double(start.split(separator: " ")[1])!
        #expect(abs(started - Date().timeIntervalSince1970) < 24 * 3600)

        // HEAD: the same status and length, no body.
        let head = try Self.http("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", to: endpoint)
        #expect(Self.status(head) == 200)
        let lengthLine = try #require(head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") })
        #expect(Int(lengthLine.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))! > 1000)
        #expect(Self.body(head).isEmpty)

        // Other methods and paths.
        let post = try Self.http("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", to: endpoint)
        #expect(Self.status(post) == 405)
        #expect(post.contains("Allow: GET, HEAD"))
        let missing = try Self.http("GET /nope?health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", to: endpoint)
        #expect(Self.status(missing) == 404)
        let garbage = try Self.http("NOT HTTP AT ALL\r\n\r\n", to: endpoint)
        #expect(Self.status(garbage) == 400)

        // Keep-alive: two pipelined requests on one connection, answered in order.
        let both = try Self.http(
            "GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /health?verbose HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            to: endpoint)
        #expect(both.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "\(both)")

        // Draining: 503.
        try await server.beginDrain()
        #expect(server.isDraining)
        let draining = try Self.http("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", to: endpoint)
        #expect(Self.status(draining) == 503)
        #expect(Self.body(draining) == "draining\n")
        let headDraining = try Self.http("HEAD /health HTTP/1.0\r\n\r\n", to: endpoint)
        #expect(Self.status(headDraining) == 503)
    }

    /// A log handler that keeps every record (shared by the loggers it makes).
    final class Capture: @unchecked Sendable {
        struct Record: Sendable { var message: String; var metadata: [String: String] }
        let records = Mutex<[Record]>([])

        func handler() -> some LogHandler { Handler(capture: self) }

        struct Handler: LogHandler {
            let capture: Capture
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(event: LogEvent) {
                let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
                let record = Record(message: "\(event.message)", metadata: merged.mapValues { "\($0)" })
                capture.records.withLock { $0.append(record) }
            }
        }
    }

    @Test func theLogLineEndingAnAllocationCarriesUserDurationPacketsAndBytes() async throws {
        let capture = Capture()
        let logger = Logger(label: "relay-test") { _ in capture.handler() }
        var configuration = RelayUDPTests.configuration()
        configuration.metrics = nil
        let server = try RelayServer(configuration: configuration, logger: logger)
        try await server.start()
        defer { Task { try? await server.stop() } }
        let listen = try #require(server.udpAddresses.first)
        let socket = try UDPTestSocket()
        let peer = try UDPTestSocket()
        let driver = RelayUDPTests()
        var client = TURNClient(configuration: .init(username: "alice", password: "secret"))
        var events = driver.drive(&client, socket, server: listen, client.allocate(now: currentTime())) {
            if case .allocated = $0 { true } else if case .failed = $0 { true } else { false }
        }
        guard case .allocated(let relays, _, _, _)? = events.last else { Issue.record("no allocation: \(events)"); return }
        let relay = try #require(relays.first)
        events = driver.drive(&client, socket, server: listen, client.bindChannel(peer.address, now: currentTime())) {
            if case .channelBound = $0 { true } else if case .failed = $0 { true } else { false }
        }
        // Two datagrams out (100 + 200 bytes), one back (50 bytes).
        socket.send(client.frame(Array(repeating: 1, count: 100), to: peer.address), to: listen)
        socket.send(client.frame(Array(repeating: 2, count: 200), to: peer.address), to: listen)
        _ = try #require(peer.receive(timeout: 5))
        _ = try #require(peer.receive(timeout: 5))
        peer.send(Array(repeating: 3, count: 50), to: relay)
        events = driver.drive(&client, socket, server: listen, []) { if case .data = $0 { true } else { false } }
        events = driver.drive(&client, socket, server: listen, client.refresh(lifetime: 0, now: currentTime())) { $0 == .deallocated }
        #expect(events.last == .deallocated)
        #expect(try await server.allocationCount() == 0)

        let ended = try #require(capture.records.withLock { $0 }.last { $0.message == "allocation deleted" })
        #expect(ended.metadata["user"] == "alice")
        #expect(ended.metadata["packets"] == "3")
        #expect(ended.metadata["bytes"] == "350")
        #expect(ended.metadata["to_peer"] == "2/300")
        #expect(ended.metadata["to_client"] == "1/50")
        #expect(ended.metadata["reason"] != nil)
        let duration = try #require(ended.metadata["duration"])
        #expect(duration.hasSuffix("s"))
        #expect(Double(duration.dropLast()).map { $0 >= 0 && $0 < 60 } == true, "\(duration)")
        // Nothing kept for it afterwards.
        #expect(await server.cores[0].submit { server.cores[0].allocationRecords.isEmpty })
    }
}
