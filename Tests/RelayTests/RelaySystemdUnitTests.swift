import Foundation
import Testing

/// Samples/jingle-relay/jingle-relay.service: Type=notify (the relay sends READY=1, WATCHDOG=1
/// and STOPPING=1 itself, see RelayProcessTests), reload by SIGHUP, sandboxed, port 3478
/// without root; and systemd itself accepts it (`systemd-analyze verify`, where installed).
@Suite struct RelaySystemdUnitTests {
    static let path = RelayManPageTests.root + "/Samples/jingle-relay/jingle-relay.service"

    /// `Key=value` settings of the [Service] section (repeated keys keep every value).
    static func service() throws -> [String: [String]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var section = ""
        var settings: [String: [String]] = [:]
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("[") { section = line; continue }
            guard section == "[Service]", let equals = line.firstIndex(of: "=") else { continue }
            settings[String(line[..<equals]), default: []].append(String(line[line.index(after: equals)...]))
        }
        return settings
    }

    @Test func theUnitIsANotifyServiceReloadedBySIGHUPAndSandboxed() throws {
        let s = try Self.service()
        #expect(s["Type"] == ["notify"])
        #expect(s["NotifyAccess"] == ["main"])
        #expect(s["ExecReload"]?.first?.contains("-HUP $MAINPID") == true)
        #expect(s["ExecStart"]?.first?.contains("jingle-relay --config ") == true)
        #expect(s["WatchdogSec"] != nil)
        #expect(s["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"])
        #expect(s["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"])
        for (key, value) in [
            ("ProtectSystem", "strict"), ("NoNewPrivileges", "yes"), ("PrivateTmp", "yes"),
            ("ProtectHome", "yes"), ("PrivateDevices", "yes"), ("DynamicUser", "yes"),
        ] {
            #expect(s[key] == [value], "\(key)")
        }
        // Stopping waits for the drain (the sample's drain-timeout is 30 s).
        #expect(s["TimeoutStopSec"].flatMap { $0.first.flatMap(Int.init) }.map { $0 > 30 } == true)
        // /proc/stat and the descriptor limit stay reachable for process metrics and setrlimit.
        #expect(s["ProcSubset"] == nil)
        #expect(s["SystemCallFilter"]?.contains { $0.contains("~") && $0.contains("@resources") } != true)
        // bpf() is in ~@privileged: with `fast-path = auto` (the default) it must fail with EPERM,
        // which the relay answers by relaying in user space (KernelFastPathTests), not kill it.
        #expect(s["SystemCallFilter"]?.contains("~@privileged") == true)
        #expect(s["SystemCallErrorNumber"] == ["EPERM"])
    }

    @Test func systemdAcceptsTheUnit() throws {
        let analyze = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyze) else { return }
        let directory = NSTemporaryDirectory() + "jr-unit-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The same unit with ExecStart on the built binary (verify checks that it exists).
        let unit = try String(contentsOfFile: Self.path, encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/jingle-relay", with: RelayProcessTests.executable)
        try unit.write(toFile: directory + "/jingle-relay.service", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: analyze)
        process.arguments = ["verify", "--man=no", directory + "/jingle-relay.service"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(!text.contains("Unknown key"), "\(text)")
    }
}
