import CallTestSupport
import Foundation
import Jingle
import JingleKit
import Media
import Synchronization
import Testing
import XMPPClient
import XMPPCore

/// A program started as a child, whose output lines can be awaited.
final class OutputLines: @unchecked Sendable {
    let process = Process()
    private let lines: AsyncStream<String>
    private var iterator: AsyncStream<String>.AsyncIterator
    private final class Seen: Sendable {
        let lines = Mutex([String]())
    }
    private let seen = Seen()

    init(_ executable: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let (stream, sink) = AsyncStream.makeStream(of: String.self)
        lines = stream
        iterator = stream.makeAsyncIterator()
        try process.run()
        let handle = pipe.fileHandleForReading
        let seen = self.seen
        Thread.detachNewThread {
            var buffer = Data()
            while true {
                let chunk = handle.availableData // blocks; empty at end of file
                if chunk.isEmpty { break }
                buffer += chunk
                while let newline = buffer.firstIndex(of: 0x0A) {
                    let line = String(decoding: buffer[buffer.startIndex..<newline], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...newline)
                    seen.lines.withLock { $0.append(line) }
                    sink.yield(line)
                }
            }
            sink.finish()
        }
    }

    /// The next line containing `text` (bounded).
    func line(containing text: String, within limit: Duration = .seconds(30)) async throws -> String {
        try await within(limit, "a line with '\(text)'; output so far:\n\(output)") { [self] in
            while let line = await self.iterator.next() { if line.contains(text) { return line } }
            throw TimedOut(what: "'\(text)' (output ended):\n\(self.output)")
        }
    }

    var output: String { seen.lines.withLock { $0.joined(separator: "\n") } }

    func stop() { if process.isRunning { process.terminate() } }
}

/// The sample in Samples/answering-machine, run as a program against the test Prosody: a caller
/// hears its prompt, leaves a message, and the message file holds what the caller sent.
@Suite(.serialized) struct AnsweringMachineSampleTests {
    @Test func theSampleAnswersPlaysItsPromptAndRecordsTheMessage() async throws {
        let prosody = try await ProsodyFixture.shared()
        _ = try await RelayFixture.shared(for: prosody) // the TURN service Prosody advertises
        let machine = try await prosody.account("am-machine")
        let caller = try await prosody.account("am-caller")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jk-am-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var promptTone = ToneGenerator(frequency: 700, amplitude: 0.3)
        let prompt = (0..<50).flatMap { _ in promptTone.nextFrame(samplesPerChannel: 960) }
        try Data(WAVFile(sampleRate: 48_000, channels: 1, samples: prompt).serialized()).write(to: dir.appendingPathComponent("prompt.wav"))

        let binary = "\(Repository.root)/.build/debug/answering-machine"
        #expect(FileManager.default.isExecutableFile(atPath: binary), "build first: swift build --build-tests")
        let program = try OutputLines(
            binary,
            [
                "--jid", "\(machine.jid)/answering", "--password-file", prosody.passwordFile("am-machine"),
                "--server", "127.0.0.1:\(prosody.port)", "--ca-file", prosody.caFile,
                "--prompt", dir.appendingPathComponent("prompt.wav").path, "--messages", dir.path,
                "--max-calls", "1", "--local-address", "127.0.0.1",
            ])
        defer { program.stop() }
        _ = try await program.line(containing: "ready as")

        let client = XMPPClient(
            configuration: XMPPClientConfiguration(
                jid: caller.jid.with(resource: "caller"), password: caller.password,
                server: .init(host: "127.0.0.1", port: prosody.port), trustedCAFile: prosody.caFile))
        try await client.connect()
        defer { Task { await client.disconnect() } }
        let calls = try await CallManager.forClient(
            client,
            configuration: CallConfiguration(
                mediaTransports: ICEMediaTransportProvider(settings: CallMediaSettings(localAddresses: ["127.0.0.1"]), client: client)))
        await calls.start()
        let call = try await calls.placeCall(to: machine.jid.bare, timeout: .seconds(30))
        let events = EventReader(call)
        let listener = PromptListener()
        call.setAudioSink(listener)
        _ = try await program.line(containing: "answered")
        try await within(.seconds(30), "the prompt") { await listener.heardPromptAndItsEnd() }

        // The message: a second of 1200 Hz, then we hang up.
        var messageTone = ToneGenerator(frequency: 1200, amplitude: 0.3)
        call.setAudioSource(PCMBufferSource(samples: (0..<50).flatMap { _ in messageTone.nextFrame(samplesPerChannel: 960) }))
        _ = try await events.next("message sent", within: .seconds(30)) { $0 == .audioSourceFinished }
        // Half a second of silence after it, paced by the media clock, lets the machine's jitter buffer play it out.
        call.setAudioSource(PCMBufferSource(samples: [Int16](repeating: 0, count: 960 * 25)))
        _ = try await events.next("trailing silence sent", within: .seconds(30)) { $0 == .audioSourceFinished }
        await call.hangUp()
        let ended = try await program.line(containing: "ended")
        #expect(ended.contains("message"))
        program.process.waitUntilExit()
        #expect(program.process.terminationStatus == 0, "\(program.output)")

        let file = dir.appendingPathComponent("\(call.sid).wav")
        let message = try WAVFile(parsing: Array(try Data(contentsOf: file)))
        let loud = stride(from: 0, to: message.samples.count - 960, by: 960)
            .map { Array(message.samples[$0..<$0 + 960]) }
            .filter { CallAudio.level(of: $0) > -30 }
            .flatMap { $0 }
        #expect(loud.count >= 960 * 25, "at least half a second of the message was recorded")
        var crossings = 0
        for i in 1..<loud.count where (loud[i - 1] < 0) != (loud[i] < 0) { crossings += 1 }
        let frequency = Double(crossings) / 2 / (Double(loud.count) / 48_000)
        #expect(abs(frequency - 1200) < 40, "the message is the caller's tone, heard at \(frequency) Hz")
    }
}

/// Hears the prompt (sound), then its end (half a second of quiet), then further quiet on demand.
final class PromptListener: CallAudioSink {
    private struct State {
        var loudRun = 0, quietRun = 0
        var heardPrompt = false
        var goal: Goal?
        var waiter: CheckedContinuation<Void, Never>?
    }
    private enum Goal { case promptThenQuiet }
    private let state = Mutex(State())

    func receive(frame: [Int16]) {
        let level = CallAudio.level(of: frame)
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.loudRun = level > -30 ? s.loudRun + 1 : 0
            s.quietRun = level < -60 ? s.quietRun + 1 : 0
            if s.loudRun >= 10 { s.heardPrompt = true }
            let met: Bool =
                switch s.goal {
                case .promptThenQuiet?: s.heardPrompt && s.quietRun >= 25
                case nil: false
                }
            guard met else { return nil }
            s.goal = nil
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    func heardPromptAndItsEnd() async { await wait(for: .promptThenQuiet) }

    private func wait(for goal: Goal) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            state.withLock { s in
                s.quietRun = 0
                s.goal = goal
                s.waiter = c
            }
        }
    }
}
