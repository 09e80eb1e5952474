// An answering machine on JingleKit's public API: it logs in, answers every call, plays a
// prompt, records the caller's message to a WAV file, and hangs up. See README.md here.
import ArgumentParser
import Foundation
import Jingle
import JingleKit
import XMPPClient
import XMPPCore

@main
struct AnsweringMachine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "answering-machine",
        abstract: "Answers Jingle calls, plays a prompt and records a message (a JingleKit sample).")

    @Option(help: "The account, e.g. machine@example.com/answering.") var jid: String
    @Option(name: .customLong("password-file"), help: "File whose first line is the password.") var passwordFile: String
    @Option(help: "Connect to HOST:PORT instead of DNS SRV.") var server: String?
    @Option(name: .customLong("ca-file"), help: "PEM CA file to trust (a private server).") var caFile: String?
    @Option(help: "The prompt to play: a WAV or Ogg Opus file.") var prompt: String
    @Option(help: "Directory for recorded messages (one WAV per call, named after the session id).") var messages: String = "."
    @Option(name: .customLong("message-seconds"), help: "Longest message recorded after the prompt.") var messageSeconds: Int = 20
    @Option(name: .customLong("max-calls"), help: "Exit after this many calls.") var maxCalls: Int?
    @Option(name: .customLong("local-address"), help: "Local address for ICE host candidates (repeatable); default all.")
    var localAddresses: [String] = []

    func run() async throws {
        guard let account = JID(jid) else { throw ValidationError("'\(jid)' is not a JID") }
        let password = try String(contentsOfFile: passwordFile, encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let greeting = try PCMBufferSource.file(URL(fileURLWithPath: prompt))   // fail early on a bad prompt file
        _ = greeting

        let client = XMPPClient(configuration: XMPPClientConfiguration(
            jid: account, password: password, server: server.flatMap(XMPPClientConfiguration.ServerAddress.init),
            trustedCAFile: caFile))
        try await client.connect()
        // Media: ICE over libnice with the XMPP server's STUN/TURN services (XEP-0215).
        let media = ICEMediaTransportProvider(settings: CallMediaSettings(localAddresses: localAddresses), client: client)
        let calls = try await CallManager.forClient(client, configuration: CallConfiguration(mediaTransports: media))
        await calls.start()
        say("answering-machine: ready as \(await client.connectionInfo?.boundJID.description ?? jid)")

        var answered = 0
        await withTaskGroup(of: Void.self) { group in
            for await call in calls.incomingCalls {
                answered += 1
                group.addTask { await answer(call) }
                if let maxCalls, answered >= maxCalls { break }
            }
            await group.waitForAll()
        }
        await calls.stop()
        await client.disconnect()
    }

    /// Plays the prompt, then records until the caller hangs up or the message time is over.
    func answer(_ call: Call) async {
        // The caller chose the sid: it names the file only once reduced to safe characters.
        let file = URL(fileURLWithPath: messages).appendingPathComponent("\(WAVFileRecorder.safeFileName(call.sid)).wav")
        let recorder: WAVFileRecorder
        do { recorder = try WAVFileRecorder(url: file) } catch {
            say("answering-machine: \(call.peer): \(error)")
            try? await call.reject()
            return
        }
        guard let prompt = try? PCMBufferSource.file(URL(fileURLWithPath: prompt)) else { return }
        call.setAudioSource(prompt)
        do { try await call.accept() } catch {
            say("answering-machine: \(call.peer): cannot answer: \(error)")
            return
        }
        say("answering-machine: \(call.peer): answered")
        var ending: Task<Void, Never>?
        for await event in call.events {
            switch event {
            case .audioSourceFinished:
                // The prompt is over: record the caller from now on, for at most `messageSeconds`.
                call.setAudioSink(recorder)
                let limit = messageSeconds
                ending = Task {
                    try? await Task.sleep(for: .seconds(limit))
                    await call.hangUp()
                }
            case .ended(let reason):
                ending?.cancel()
                let stats = await call.mediaStatistics
                do {
                    try recorder.finish()
                    say("answering-machine: \(call.peer): ended (\(reason)); message \(file.path), "
                          + "\(recorder.recordedSampleCount / CallAudio.sampleRate) s, \(stats?.packetsReceived ?? 0) packets")
                } catch {
                    say("answering-machine: \(call.peer): \(error)")
                }
            default:
                break
            }
        }
    }
}

/// One line on standard output, written at once (also into a pipe).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
