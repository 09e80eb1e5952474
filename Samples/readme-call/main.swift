// The README's example, compiled on every build so it cannot rot: one call with a prompt played
// and the answer recorded, then every incoming call answered. `import JingleKit` is all it needs.
// Run: swift run readme-call ALICE_JID BOB_JID PASSWORD_FILE
import Foundation
import JingleKit

let arguments = CommandLine.arguments
guard arguments.count == 4, let alice = JID(arguments[1]), let bob = JID(arguments[2]),
      let secret = try? String(contentsOfFile: arguments[3], encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
else {
    FileHandle.standardError.write(Data("usage: readme-call ALICE_JID BOB_JID PASSWORD_FILE\n".utf8))
    exit(64)
}

// README example begins
let client = XMPPClient(configuration: .init(jid: alice, password: secret))
try await client.connect()
let media = ICEMediaTransportProvider(settings: CallMediaSettings(), client: client)
let calls = try await CallManager.forClient(client, configuration: CallConfiguration(mediaTransports: media))
await calls.start()                                   // Jingle IQ handler, presence, carbons

let call = try await calls.placeCall(to: bob)         // JMI propose, then Jingle
call.setAudioSource(try PCMBufferSource.file(URL(fileURLWithPath: "hello.wav")))
let recorder = try WAVFileRecorder(url: URL(fileURLWithPath: "bob.wav"))   // written as it arrives, mode 0600
call.setAudioSink(recorder)
for await event in call.events { print(event) }   // ringing, proceeded, accepted, iceConnected(pair),
                                                  // mediaConnected, firstAudio, ..., ended(reason)
try recorder.finish()

for await incoming in calls.incomingCalls { try await incoming.accept() }
// README example ends
