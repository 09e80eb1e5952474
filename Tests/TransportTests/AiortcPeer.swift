import Foundation
import Synchronization

/// A queue filled from one thread and awaited from tasks, with bounded waits: `next(where:within:)`
/// returns the first queued item that matches, waiting for one until the deadline.
final class AiortcMailbox<Item: Sendable>: Sendable {
    private struct Waiter {
        let id: Int
        let matches: @Sendable (Item) -> Bool
        let continuation: CheckedContinuation<Item?, Never>
    }
    private struct State {
        var items: [Item] = []
        var waiters: [Waiter] = []
        var closed = false
        var nextID = 0
    }
    private let state = Mutex(State())

    /// Everything delivered so far, matched or not (for failure messages).
    let history = Mutex<[Item]>([])

    func deliver(_ item: Item) {
        history.withLock { $0.append(item) }
        let resume: CheckedContinuation<Item?, Never>? = state.withLock { s in
            if let i = s.waiters.firstIndex(where: { $0.matches(item) }) {
                return s.waiters.remove(at: i).continuation
            }
            s.items.append(item)
            return nil
        }
        resume?.resume(returning: item)
    }

    /// No more items will come: every waiter gets nil.
    func close() {
        let waiters = state.withLock { s in
            s.closed = true
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        waiters.forEach { $0.continuation.resume(returning: nil) }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// The first matching item; nil when the mailbox closed first or `within` passed.
    func next(within limit: Duration, where matches: @escaping @Sendable (Item) -> Bool) async -> Item? {
        await withCheckedContinuation { (c: CheckedContinuation<Item?, Never>) in
            let (now, id): (Item??, Int) = state.withLock { s in
                if let i = s.items.firstIndex(where: matches) { return (.some(s.items.remove(at: i)), 0) }
                if s.closed { return (.some(nil), 0) }
                s.nextID += 1
                s.waiters.append(Waiter(id: s.nextID, matches: matches, continuation: c))
                return (nil, s.nextID)
            }
            if let now {
                c.resume(returning: now)
                return
            }
            Task.detached { [self] in
                try? await Task.sleep(for: limit)
                let expired = state.withLock { s -> CheckedContinuation<Item?, Never>? in
                    guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                    return s.waiters.remove(at: i).continuation
                }
                expired?.resume(returning: nil)
            }
        }
    }
}

/// One run of `Tools/peers/aiortc_peer.py`, the aiortc (PyPI) peer, talking JSON lines over its
/// standard input and output. Its standard error goes to `aiortc.log` beside the recordings.
final class AiortcPeer: @unchecked Sendable {
    enum Role: String, Sendable { case answerer, offerer }

    /// A line from the peer; which fields are set depends on `type` (see the program's header).
    struct Message: Decodable, Sendable, CustomStringConvertible {
        var type: String
        var sdp: String?
        var connection: String?
        var srtpProfile: String?
        var dtlsRole: String?
        var reason: String?
        var packetsSent: Int?
        var packetsReceived: Int?
        var packetsLost: Int?
        var recordedFrames: Int?
        /// gst_peer.py only: RTP bytes received, and the first RTP timestamp steps it sent.
        var bytesReceived: Int?
        var firstTimestampSteps: [Int]?

        var description: String {
            let fields: [(String, String?)] = [
                ("type", type), ("connection", connection), ("srtpProfile", srtpProfile), ("dtlsRole", dtlsRole),
                ("reason", reason), ("packetsSent", packetsSent.map(String.init)),
                ("packetsReceived", packetsReceived.map(String.init)), ("packetsLost", packetsLost.map(String.init)),
                ("recordedFrames", recordedFrames.map(String.init)), ("bytesReceived", bytesReceived.map(String.init)),
                ("firstTimestampSteps", firstTimestampSteps.map { "\($0)" }), ("sdp", sdp.map { _ in "..." }),
            ]
            return fields.compactMap { k, v in v.map { "\(k)=\($0)" } }.joined(separator: " ")
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static var python: URL { CallSupport.repositoryRoot.appendingPathComponent(".venv/bin/python") }
    static var program: URL { CallSupport.repositoryRoot.appendingPathComponent("Tools/peers/aiortc_peer.py") }

    /// Fails (never skips) when the venv or aiortc is missing, naming the fix.
    static func checkInstalled() throws {
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw Failure(description: "no Python venv at \(python.path): run Tools/bootstrap to install aiortc (Tools/requirements.txt)")
        }
        do {
            try CallSupport.run(python.path, ["-c", "import aiortc, av, pesq"])
        } catch {
            throw Failure(description: "aiortc is not importable from \(python.path) (\(error)): run Tools/bootstrap")
        }
    }

    let log: URL
    private let process: Process
    private let input: FileHandle
    private let messages = AiortcMailbox<Message>()

    /// Starts the peer; it plays `play` once connected and records what it receives to `record`.
    /// `options` go to aiortc_peer.py after the others (for example `--srtp-profile`).
    convenience init(role: Role, play: URL, record: URL, in dir: URL, duration: Int = 60, options: [String] = []) throws {
        try Self.checkInstalled()
        try self.init(
            executable: Self.python,
            arguments: [
                Self.program.path, "--role", role.rawValue, "--play", play.path,
                "--record", record.path, "--duration", String(duration),
            ] + options,
            log: dir.appendingPathComponent("aiortc-\(role.rawValue).log"))
    }

    /// Starts any program speaking the same JSON-lines protocol (gst_peer.py does), its standard
    /// error going to `log`.
    init(executable: URL, arguments: [String], log: URL) throws {
        self.log = log
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw Failure(description: "cannot create \(log.path)")
        }
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: log)
        input = stdin.fileHandleForWriting
        try process.run()
        let output = stdout.fileHandleForReading
        let mailbox = messages
        // One reader thread splits standard output into lines; it ends at end of file.
        Thread.detachNewThread {
            var buffer = Data()
            while true {
                let chunk = output.availableData
                if chunk.isEmpty { break }
                buffer.append(chunk)
                while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = buffer[buffer.startIndex..<newline]
                    buffer.removeSubrange(buffer.startIndex...newline)
                    if let m = try? JSONDecoder().decode(Message.self, from: line) {
                        mailbox.deliver(m)
                    } else if !line.isEmpty {
                        mailbox.deliver(Message(type: "unparsed", reason: String(decoding: line, as: UTF8.self)))
                    }
                }
            }
            mailbox.close()
        }
    }

    /// Sends one message (`{"type": ..., "sdp": ...}`).
    func send(type: String, sdp: String? = nil) throws {
        var object: [String: String] = ["type": type]
        if let sdp { object["sdp"] = sdp }
        var line = try JSONSerialization.data(withJSONObject: object)
        line.append(UInt8(ascii: "\n"))
        try input.write(contentsOf: line)
    }

    /// The next message of `type`; a failure naming what came instead when the peer exits or
    /// `seconds` pass first.
    func next(_ type: String, seconds: Int = 30) async throws -> Message {
        if let m = await messages.next(within: .seconds(seconds), where: { $0.type == type }) { return m }
        let seen = messages.history.withLock { $0.map(\.description) }
        let why = messages.isClosed ? "the peer exited" : "\(seconds) s passed"
        throw Failure(description: "no '\(type)' message from aiortc: \(why); it said \(seen); log: \(logTail())")
    }

    /// Asks the peer to stop, waits for its `stopped` report and its exit (status 0).
    func stop() async throws -> Message {
        try send(type: "stop")
        let stopped = try await next("stopped")
        _ = await messages.next(within: .seconds(10)) { _ in false } // returns at end of output
        guard messages.isClosed else { throw Failure(description: "aiortc did not exit after stopping; log: \(logTail())") }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "aiortc exited \(process.terminationStatus); log: \(logTail())")
        }
        return stopped
    }

    /// Kills the peer if it still runs (test clean-up on any path).
    func terminate() {
        try? input.close()
        if process.isRunning { process.terminate() }
    }

    func logTail() -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }
}
