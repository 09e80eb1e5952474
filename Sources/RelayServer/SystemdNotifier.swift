#if canImport(Glibc)
    import Glibc
#endif

/// sd_notify(3) without libsystemd: datagrams such as `READY=1`, `STOPPING=1` and `WATCHDOG=1`
/// to the AF_UNIX socket named by `$NOTIFY_SOCKET` (a path, or `@name` in the abstract
/// namespace). `WATCHDOG_USEC` (with `WATCHDOG_PID`, when set, naming this process) asks for
/// a `WATCHDOG=1` at least that often. Without `$NOTIFY_SOCKET` every call does nothing.
public struct SystemdNotifier: Sendable {
    /// The socket address, nil when not started by systemd with `Type=notify`.
    public let socketPath: String?
    /// How often systemd wants `WATCHDOG=1` (nil: no watchdog).
    public let watchdogInterval: Duration?

    public init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path.flatMap { $0.hasPrefix("/") || $0.hasPrefix("@") ? $0 : nil }
        if let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0,
            environment["WATCHDOG_PID"].map({ Int32($0) == getpid() }) ?? true
        {
            watchdogInterval = .microseconds(Int64(clamping: usec))
        } else {
            watchdogInterval = nil
        }
    }

    /// From this process's environment.
    public static func fromEnvironment() -> SystemdNotifier {
        var environment: [String: String] = [:]
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        return SystemdNotifier(environment: environment)
    }

    public var isEnabled: Bool { socketPath != nil }

    /// Sends `state` (newline-separated assignments); returns whether it went.
    @discardableResult
    public func notify(_ state: String) -> Bool {
        guard let socketPath else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { _ = close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(socketPath.utf8)
        let abstract = pathBytes.first == UInt8(ascii: "@")
        if abstract { pathBytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in pathBytes.enumerated() { raw[i] = byte }
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        // An abstract name's length counts exactly its bytes; a path also its terminating NUL.
        let length = socklen_t(pathOffset + pathBytes.count + (abstract ? 0 : 1))
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, message, message.count, Int32(MSG_NOSIGNAL), $0, length) }
        }
        return sent == message.count
    }

    /// `READY=1`: listening and serving.
    @discardableResult public func ready(status: String? = nil) -> Bool {
        notify("READY=1\nMAINPID=\(getpid())" + (status.map { "\nSTATUS=\($0)" } ?? ""))
    }

    /// `STOPPING=1`: draining has begun.
    @discardableResult public func stopping(status: String? = nil) -> Bool {
        notify("STOPPING=1" + (status.map { "\nSTATUS=\($0)" } ?? ""))
    }

    /// `WATCHDOG=1`: still alive.
    @discardableResult public func watchdog() -> Bool { notify("WATCHDOG=1") }

    /// `RELOADING=1` before re-reading the configuration (SIGHUP); `ready()` after.
    @discardableResult public func reloading() -> Bool { notify("RELOADING=1") }
}
