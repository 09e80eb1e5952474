#if canImport(Glibc)
    import Glibc
#endif
import Prometheus
import RelayFastPath
import Synchronization
import TURNServer

/// Prometheus metrics for the relay: allocations, packets and bytes per direction (and how many
/// of those packets went in Send/Data indications), drops by cause, authentication failures,
/// receive and send errors, and for TCP allocations (RFC 6062) peer connections by how they
/// came about and the bytes carried over them. Counters are brought up to date from the engine's statistics when
/// scraped, so the packet path never touches them.
final class RelayMetrics: @unchecked Sendable {
    let registry: PrometheusCollectorRegistry
    let allocations: Gauge
    let created: Counter
    let deleted: Counter
    let packets: DirectedCounter
    let bytes: DirectedCounter
    let indications: DirectedCounter
    let authFailures: Counter
    let unauthenticatedRepliesLimited: Counter
    let authFailureLogsSuppressed: Counter
    let receiveErrors: Counter
    let sendErrors: Counter
    var drops: [DropReason: Counter] = [:]
    let peerConnections: Gauge
    let peerConnectionsConnected: Counter
    let peerConnectionsAccepted: Counter
    let peerConnectionsFailed: Counter
    let peerConnectionsJoined: Counter
    let tcpBytes: DirectedCounter
    let fastPathPackets: DirectedCounter
    let fastPathBytes: DirectedCounter
    let fastPathRoutes: Gauge
    /// What each counter has been raised to so far, by counter name (under `lock`).
    private let lock = Mutex<[String: UInt64]>([:])
    /// Whether the relay is draining (SIGTERM): `/health` answers 503 from then on.
    let draining = Atomic<Bool>(false)
    /// The version `jingle_relay_build_info` reports.
    let buildVersion = Mutex<String>("unknown")

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        allocations = registry.gauge("turn_allocations", help: "Live TURN allocations")
        created = registry.totalCounter("turn_allocations_created", help: "Allocations created")
        deleted = registry.totalCounter("turn_allocations_deleted", help: "Allocations deleted")
        packets = DirectedCounter(registry, "turn_packets", help: "Relayed packets")
        bytes = DirectedCounter(registry, "turn_bytes", help: "Relayed payload bytes")
        indications = DirectedCounter(
            registry, "turn_indications", help: "Relayed packets carried in Send/Data indications rather than ChannelData")
        authFailures = registry.totalCounter("turn_auth_failures", help: "Failed authentications")
        unauthenticatedRepliesLimited = registry.totalCounter(
            "turn_unauthenticated_replies_limited",
            help: "Answers to unauthenticated requests not sent because their source had had its share per second")
        authFailureLogsSuppressed = registry.totalCounter(
            "turn_auth_failure_logs_suppressed",
            help: "Failed authentications not logged because their source had had its share (all are in turn_auth_failures_total)")
        receiveErrors = registry.totalCounter("turn_receive_errors", help: "Socket receive errors")
        sendErrors = registry.totalCounter("turn_send_errors", help: "Datagrams the kernel refused to send")
        peerConnections = registry.gauge("turn_tcp_peer_connections", help: "Live peer connections of TCP allocations")
        func connections(_ outcome: String) -> Counter {
            registry.totalCounter(
                "turn_tcp_peer_connections", help: "TCP allocations' peer connections (RFC 6062) by outcome",
                labels: [("outcome", outcome)])
        }
        peerConnectionsConnected = connections("connected")
        peerConnectionsAccepted = connections("accepted")
        peerConnectionsFailed = connections("failed")
        peerConnectionsJoined = connections("joined")
        tcpBytes = DirectedCounter(registry, "turn_tcp_bytes", help: "Bytes relayed over TCP allocations' data connections")
        fastPathPackets = DirectedCounter(
            registry, "turn_fast_path_packets", help: "Packets the kernel fast path relayed (also in turn_packets_total)")
        fastPathBytes = DirectedCounter(
            registry, "turn_fast_path_bytes", help: "Payload bytes the kernel fast path relayed (also in turn_bytes_total)")
        fastPathRoutes = registry.gauge("turn_fast_path_routes", help: "Channels the kernel fast path relays")
        for reason in DropReason.allCases {
            drops[reason] = registry.totalCounter("turn_drops", help: "Dropped packets by cause", labels: [("cause", reason.rawValue)])
        }
    }

    /// Brings the counters up to date and renders the text exposition format. Safe from any
    /// thread; a snapshot older than one already rendered never lowers or double-counts.
    func render(
        statistics s: TURNStatistics, allocationCount: Int, receiveErrorCount: UInt64, sendErrorCount: UInt64,
        tcp: (live: Int, bytesToPeer: UInt64, bytesToClient: UInt64) = (0, 0, 0),
        kernel: KernelChannelTable.Relayed = .init(), kernelRoutes: Int = 0
    ) -> String {
        lock.withLock { seen in
            func advance(_ counter: Counter, _ key: String, to value: UInt64) {
                let old = seen[key, default: 0]
                guard value > old else { return }
                counter.increment(by: Int64(value - old))
                seen[key] = value
            }
            func advance(_ counter: DirectedCounter, _ key: String, toPeer: UInt64, toClient: UInt64) {
                advance(counter.toPeer, key + "ToPeer", to: toPeer)
                advance(counter.toClient, key + "ToClient", to: toClient)
            }
            allocations.set(Int64(allocationCount))
            advance(created, "created", to: s.allocationsCreated)
            advance(deleted, "deleted", to: s.allocationsDeleted)
            advance(packets, "packets", toPeer: s.packetsToPeer, toClient: s.packetsToClient)
            advance(bytes, "bytes", toPeer: s.bytesToPeer, toClient: s.bytesToClient)
            advance(indications, "indications", toPeer: s.indicationsToPeer, toClient: s.indicationsToClient)
            advance(authFailures, "authFailures", to: s.authFailures)
            advance(unauthenticatedRepliesLimited, "unauthenticatedRepliesLimited", to: s.unauthenticatedRepliesLimited)
            advance(authFailureLogsSuppressed, "authFailureEventsSuppressed", to: s.authFailureEventsSuppressed)
            advance(receiveErrors, "receiveErrors", to: receiveErrorCount)
            advance(sendErrors, "sendErrors", to: sendErrorCount)
            peerConnections.set(Int64(tcp.live))
            advance(peerConnectionsConnected, "tcpConnected", to: s.peerConnectionsConnected)
            advance(peerConnectionsAccepted, "tcpAccepted", to: s.peerConnectionsAccepted)
            advance(peerConnectionsFailed, "tcpFailed", to: s.peerConnectionsFailed)
            advance(peerConnectionsJoined, "tcpJoined", to: s.peerConnectionsJoined)
            advance(tcpBytes, "tcpBytes", toPeer: tcp.bytesToPeer, toClient: tcp.bytesToClient)
            fastPathRoutes.set(Int64(kernelRoutes))
            advance(fastPathPackets, "fastPathPackets", toPeer: kernel.packetsToPeer, toClient: kernel.packetsToClient)
            advance(fastPathBytes, "fastPathBytes", toPeer: kernel.bytesToPeer, toClient: kernel.bytesToClient)
            for reason in DropReason.allCases {
                if let counter = drops[reason] { advance(counter, "drop." + reason.rawValue, to: s.drops[reason, default: 0]) }
            }
            return registry.emitToString() + ProcessMetrics.exposition(version: buildVersion.withLock { $0 })
        }
    }

    /// Hands the metrics endpoint's answer for `route` to `reply` (on a data-plane thread).
    func answer(_ route: MetricsRoute, cores: [RelayCore], reply: @escaping @Sendable (MetricsResponse) -> Void) {
        switch route {
        case .metrics:
            RelayServer.snapshot(cores) { snapshot in
                reply(MetricsResponse(status: .ok, contentType: MetricsResponse.prometheusType, body: self.render(snapshot)))
            }
        case .health:
            // Serving only while the data-plane threads answer (a wedged thread never replies).
            RelayServer.snapshot(cores) { _ in
                reply(
                    self.draining.load(ordering: .relaxed)
                        ? MetricsResponse(status: .serviceUnavailable, body: "draining\n")
                        : MetricsResponse(status: .ok, body: "serving\n"))
            }
        case .notFound:
            reply(MetricsResponse(status: .notFound, body: "not found (try /metrics or /health)\n"))
        }
    }
}

extension RelayServer {
    /// The version reported by the `jingle_relay_build_info` metric.
    public var buildVersion: String {
        get { metrics.buildVersion.withLock { $0 } }
        set { metrics.buildVersion.withLock { $0 = newValue } }
    }

    /// Whether the relay is draining (new allocations refused, `/health` 503).
    public var isDraining: Bool { metrics.draining.load(ordering: .relaxed) }
}

/// The standard Prometheus process metrics (resident and virtual memory, CPU seconds, open and
/// maximum descriptors, start time) from /proc/self, and `jingle_relay_build_info`.
enum ProcessMetrics {
    struct Sample: Sendable {
        var residentBytes: Int = 0
        var virtualBytes: Int = 0
        var cpuSeconds: Double = 0
        var openFDs: Int = 0
        var maxFDs: Int = 0
        var startTimeSeconds: Double = 0
    }

    /// Reads the sample now (fields stay 0 where /proc is unreadable).
    static func sample() -> Sample {
        var s = Sample()
        let ticks = Double(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        // /proc/self/stat: fields after the parenthesised command name, from field 3 (state).
        if let stat = readFile("/proc/self/stat"), let close = stat.lastIndex(of: ")") {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ n: Int) -> Double { n - 3 < fields.count ? Double(fields[n - 3]) ?? 0 : 0 }
            s.cpuSeconds = (field(14) + field(15)) / ticks
            s.virtualBytes = Int(field(23))
            s.residentBytes = Int(field(24)) * pageSize
            if let procStat = readFile("/proc/stat"),
                let line = procStat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
                let boot = Double(line.dropFirst(6).trimmingPrefix(" "))
            {
                s.startTimeSeconds = boot + field(22) / ticks
            }
        }
        if let dir = opendir("/proc/self/fd") {
            var count = 0
            while let entry = readdir(dir) {
                if UInt8(bitPattern: entry.pointee.d_name.0) != UInt8(ascii: ".") { count += 1 }
            }
            closedir(dir)
            s.openFDs = max(count - 1, 0) // not the one opendir holds
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { s.maxFDs = Int(clamping: limit.rlim_cur) }
        return s
    }

    /// The text exposition of a fresh sample and the build information.
    static func exposition(version: String) -> String {
        let s = sample()
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: String, labels: String = "") {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name)\(labels) \(value)\n"
        }
        metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", "\(s.residentBytes)")
        metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", "\(s.virtualBytes)")
        metric("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.", "\(s.cpuSeconds)")
        metric("process_open_fds", "gauge", "Number of open file descriptors.", "\(s.openFDs)")
        metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", "\(s.maxFDs)")
        metric("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.", "\(s.startTimeSeconds)")
        #if arch(x86_64)
            let arch = "x86_64"
        #elseif arch(arm64)
            let arch = "arm64"
        #else
            let arch = "other"
        #endif
        var escaped = ""
        for c in version {
            switch c {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(c)
            }
        }
        metric(
            "jingle_relay_build_info", "gauge", "Build information: version and architecture (always 1).",
            "1", labels: "{version=\"\(escaped)\",arch=\"\(arch)\"}")
        return out
    }

    /// A whole file's text, read without Foundation (for /proc files, whose size is unknown).
    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// One relay metric counted per direction, as `direction="to_peer"` and `direction="to_client"`.
struct DirectedCounter {
    let toPeer: Counter
    let toClient: Counter

    init(_ registry: PrometheusCollectorRegistry, _ name: String, help: String) {
        toPeer = registry.totalCounter(name, help: help, labels: [("direction", "to_peer")])
        toClient = registry.totalCounter(name, help: help, labels: [("direction", "to_client")])
    }
}

extension PrometheusCollectorRegistry {
    /// The counter `NAME_total` (with `labels`).
    fileprivate func totalCounter(_ name: String, help: String, labels: [(String, String)] = []) -> Counter {
        makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "total", helpText: help), labels: labels)
    }

    /// The gauge `NAME`.
    fileprivate func gauge(_ name: String, help: String) -> Gauge {
        makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
    }
}
