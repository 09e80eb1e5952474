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
    let packetsToPeer: Counter
    let packetsToClient: Counter
    let bytesToPeer: Counter
    let bytesToClient: Counter
    let indicationsToPeer: Counter
    let indicationsToClient: Counter
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
    let tcpBytesToPeer: Counter
    let tcpBytesToClient: Counter
    let fastPathPacketsToPeer: Counter
    let fastPathPacketsToClient: Counter
    let fastPathBytesToPeer: Counter
    let fastPathBytesToClient: Counter
    let fastPathRoutes: Gauge
    /// What each counter has been raised to so far, by counter name (under `lock`).
    private let lock = Mutex<[String: UInt64]>([:])
    /// Whether the relay is draining (SIGTERM): `/health` answers 503 from then on.
    let draining = Atomic<Bool>(false)
    /// The version `jingle_relay_build_info` reports.
    let buildVersion = Mutex<String>("unknown")

    init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        allocations = registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "turn_allocations", unitName: "", helpText: "Live TURN allocations"))
        created = registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "turn_allocations_created", unitName: "total", helpText: "Allocations created"))
        deleted = registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "turn_allocations_deleted", unitName: "total", helpText: "Allocations deleted"))
        packetsToPeer = registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "turn_packets", unitName: "total", helpText: "Relayed packets"),
            labels: [("direction", "to_peer")])
        packetsToClient = registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "turn_packets", unitName: "total", helpText: "Relayed packets"),
            labels: [("direction", "to_client")])
        bytesToPeer = registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "turn_bytes", unitName: "total", helpText: "Relayed payload bytes"),
            labels: [("direction", "to_peer")])
        bytesToClient = registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "turn_bytes", unitName: "total", helpText: "Relayed payload bytes"),
            labels: [("direction", "to_client")])
        indicationsToPeer = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "turn_indications", unitName: "total",
                helpText: "Relayed packets carried in Send/Data indications rather than ChannelData"), labels: [("direction", "to_peer")])
        indicationsToClient = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "turn_indications", unitName: "total",
                helpText: "Relayed packets carried in Send/Data indications rather than ChannelData"), labels: [("direction", "to_client")])
        authFailures = registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "turn_auth_failures", unitName: "total", helpText: "Failed authentications"))
        unauthenticatedRepliesLimited = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "turn_unauthenticated_replies_limited", unitName: "total",
                helpText: "Answers to unauthenticated requests not sent because their source had had its share per second"))
        authFailureLogsSuppressed = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "turn_auth_failure_logs_suppressed", unitName: "total",
                helpText: "Failed authentications not logged because their source had had its share (all are in turn_auth_failures_total)"))
        receiveErrors = registry.makeCounter(
            descriptor: MetricNameDescriptor(metricName: "turn_receive_errors", unitName: "total", helpText: "Socket receive errors"))
        sendErrors = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                metricName: "turn_send_errors", unitName: "total", helpText: "Datagrams the kernel refused to send"))
        let connectionsName = MetricNameDescriptor(
            metricName: "turn_tcp_peer_connections", unitName: "total",
            helpText: "TCP allocations' peer connections (RFC 6062) by outcome")
        peerConnections = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "turn_tcp_peer_connections", unitName: "",
                helpText: "Live peer connections of TCP allocations"))
        peerConnectionsConnected = registry.makeCounter(descriptor: connectionsName, labels: [("outcome", "connected")])
        peerConnectionsAccepted = registry.makeCounter(descriptor: connectionsName, labels: [("outcome", "accepted")])
        peerConnectionsFailed = registry.makeCounter(descriptor: connectionsName, labels: [("outcome", "failed")])
        peerConnectionsJoined = registry.makeCounter(descriptor: connectionsName, labels: [("outcome", "joined")])
        let tcpBytesName = MetricNameDescriptor(
            metricName: "turn_tcp_bytes", unitName: "total", helpText: "Bytes relayed over TCP allocations' data connections")
        tcpBytesToPeer = registry.makeCounter(descriptor: tcpBytesName, labels: [("direction", "to_peer")])
        tcpBytesToClient = registry.makeCounter(descriptor: tcpBytesName, labels: [("direction", "to_client")])
        let fastPackets = MetricNameDescriptor(
            metricName: "turn_fast_path_packets", unitName: "total",
            helpText: "Packets the kernel fast path relayed (also in turn_packets_total)")
        let fastBytes = MetricNameDescriptor(
            metricName: "turn_fast_path_bytes", unitName: "total",
            helpText: "Payload bytes the kernel fast path relayed (also in turn_bytes_total)")
        fastPathPacketsToPeer = registry.makeCounter(descriptor: fastPackets, labels: [("direction", "to_peer")])
        fastPathPacketsToClient = registry.makeCounter(descriptor: fastPackets, labels: [("direction", "to_client")])
        fastPathBytesToPeer = registry.makeCounter(descriptor: fastBytes, labels: [("direction", "to_peer")])
        fastPathBytesToClient = registry.makeCounter(descriptor: fastBytes, labels: [("direction", "to_client")])
        fastPathRoutes = registry.makeGauge(
            descriptor: MetricNameDescriptor(
                metricName: "turn_fast_path_routes", unitName: "",
                helpText: "Channels the kernel fast path relays"))
        for reason in DropReason.allCases {
            drops[reason] = registry.makeCounter(
                descriptor: MetricNameDescriptor(metricName: "turn_drops", unitName: "total", helpText: "Dropped packets by cause"),
                labels: [("cause", reason.rawValue)])
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
            allocations.set(Int64(allocationCount))
            advance(created, "created", to: s.allocationsCreated)
            advance(deleted, "deleted", to: s.allocationsDeleted)
            advance(packetsToPeer, "packetsToPeer", to: s.packetsToPeer)
            advance(packetsToClient, "packetsToClient", to: s.packetsToClient)
            advance(bytesToPeer, "bytesToPeer", to: s.bytesToPeer)
            advance(bytesToClient, "bytesToClient", to: s.bytesToClient)
            advance(indicationsToPeer, "indicationsToPeer", to: s.indicationsToPeer)
            advance(indicationsToClient, "indicationsToClient", to: s.indicationsToClient)
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
            advance(tcpBytesToPeer, "tcpBytesToPeer", to: tcp.bytesToPeer)
            advance(tcpBytesToClient, "tcpBytesToClient", to: tcp.bytesToClient)
            fastPathRoutes.set(Int64(kernelRoutes))
            advance(fastPathPacketsToPeer, "fastPathPacketsToPeer", to: kernel.packetsToPeer)
            advance(fastPathPacketsToClient, "fastPathPacketsToClient", to: kernel.packetsToClient)
            advance(fastPathBytesToPeer, "fastPathBytesToPeer", to: kernel.bytesToPeer)
            advance(fastPathBytesToClient, "fastPathBytesToClient", to: kernel.bytesToClient)
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
