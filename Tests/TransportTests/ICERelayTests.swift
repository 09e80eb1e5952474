import Foundation
import Synchronization
import Testing
import ICETestSupport
@testable import Transport

/// A coturn (Debian `coturn`) process on loopback for relay tests, stopped on deinit.
final class CoturnProcess: @unchecked Sendable {
    let process = Process()
    let port: UInt16
    let output = Pipe()

    init(port: UInt16, user: String, password: String) throws {
        self.port = port
        process.executableURL = URL(fileURLWithPath: "/usr/bin/turnserver")
        let dir = FileManager.default.temporaryDirectory.path
        process.arguments = [
            "-n", "--listening-ip=127.0.0.1", "--listening-port=\(port)", "--relay-ip=127.0.0.1",
            "--min-port=\(Int(port) + 1)", "--max-port=\(Int(port) + 200)", "--allow-loopback-peers",
            "--lt-cred-mech", "--user=\(user):\(password)", "--realm=jinglekit.test", "--no-tls", "--no-dtls",
            "--no-cli", "--fingerprint", "--log-file=stdout", "--simple-log",
            "--pidfile=\(dir)/jk-turnserver-\(port).pid", "--userdb=\(dir)/jk-turndb-\(port)",
        ]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// Waits until coturn's log says its servers are up (bounded by `seconds`). The log is drained
    /// continuously so coturn never blocks writing to a full pipe.
    func waitUntilReady(seconds: Int = 60) async -> Bool {
        let (ready, signal) = AsyncStream<Void>.makeStream()
        let seen = Mutex("")
        output.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            let text = seen.withLock { text -> String in
                if text.count < 100_000 { text += String(decoding: chunk, as: UTF8.self) }
                return text
            }
            if text.contains("Total General servers") { signal.yield(()) }
            if chunk.isEmpty { signal.finish() }
        }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await _ in ready { return true }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    deinit {
        // coturn does not stop on SIGTERM while it is relaying; it holds no state worth keeping.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        output.fileHandleForReading.readabilityHandler = nil
    }
}

@Suite(.serialized) struct ICERelayTests {
    @Test func relayOnlyAgentsConnectThroughCoturn() async throws {
        let port = UInt16(35_000 + Int(getpid()) % 2000)
        let turn = try CoturnProcess(port: port, user: "jk", password: "secret")
        let ready = await turn.waitUntilReady()
        #expect(ready)
        let server = ICEServer(address: "127.0.0.1", port: port, kind: .turnUDP(username: "jk", password: "secret"))
        let (a, b) = try ICEPump.relayOnlyAgents(server: server)
        let agents = try await ICEPump.connect(a, b)
        let (notes, sink, pumpA, pumpB) = (agents.notes, agents.sink, agents.pumpA, agents.pumpB)
        #expect(agents.connected.isSuperset(of: ["a:ready", "b:ready"]), "\(agents.connected)")
        try a.send(Array("via relay".utf8))
        let got = await ICEPump.waitFor(["b:data:via relay"], in: notes)
        #expect(got.contains("b:data:via relay"))
        a.close()
        b.close()
        let logA = await pumpA.value
        _ = await pumpB.value
        sink.finish()
        let local = logA.compactMap { if case .localCandidate(let c) = $0 { c } else { nil } }
        #expect(!local.isEmpty && local.allSatisfy { $0.kind == .relayed })
        #expect(local.allSatisfy { $0.relatedAddress == "127.0.0.1" })
        let pair = logA.compactMap { if case .selectedPair(let l, _) = $0 { l } else { nil } }.last
        #expect(pair?.kind == .relayed)
    }
}
