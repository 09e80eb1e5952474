import CallTestSupport
import Foundation
import Jingle
import JingleKit
import Media
import Testing
import XMPPCore

/// An Ogg Opus prompt of 20 ms packets goes into RTP as it is: the callee hears the tone, and the
/// caller's encoder encodes nothing. Real time ("RealTime" in the name): Tools/test runs it in
/// the serial pass.
@Suite struct RealTimeOpusPassThroughCallTests {
    /// Two seconds of a tone in an Ogg Opus file written with our OggOpusWriter (libopus,
    /// 20 ms packets, as opusenc writes them).
    static func opusPrompt(frequency: Double, in dir: URL) throws -> URL {
        try writeOggOpusTone(frequency: frequency, packets: 100, serial: 9, named: "prompt.opus", in: dir)
    }

    @Test func anOggOpusPromptIsSentWithoutEncodingAndHeardAtItsFrequency() async throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let prompt = try CallAudioFile.load(try Self.opusPrompt(frequency: 700, in: dir))
        #expect(prompt.sendsOpusPackets, "\(prompt.format)")
        #expect(prompt.frames == 100)

        let (alice, bob) = await RealTimeMediaCallTests().managers()
        let outgoing = try await alice.placeCall(to: JID("bob@localhost")!, timeout: .seconds(30))
        outgoing.setAudioSource(prompt.makeSource(loop: true))
        let incoming = try await nextIncoming(bob)
        let detector = SoundDetector(frames: 25)
        incoming.setAudioSink(detector)
        try await incoming.accept()

        let heard = try await within(.seconds(15), "half a second of the prompt") { await detector.heard() }
        let frequency = toneFrequency(heard)
        #expect(abs(frequency - 700) < 30, "heard \(frequency) Hz")
        let sent = try #require(await outgoing.mediaStatistics)
        #expect(sent.opusPacketsPassedThrough >= 25, "\(sent.opusPacketsPassedThrough) packets passed through")
        #expect(sent.framesEncoded == 0, "the caller's encoder encoded \(sent.framesEncoded) frames")
        let received = try #require(await incoming.mediaStatistics)
        #expect(received.decodedFrames >= 20)
        #expect(received.framesEncoded > 0, "the callee sends encoded silence: the counter counts")

        await outgoing.hangUp()
        #expect(try await EventReader(incoming).ended() == .completed(byPeer: true))
    }

    @Test func opusFilesWhosePacketsAreNot20msAreDecodedAndReEncoded() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        // 40 ms packets (two 20 ms frames each would need repacketising; 60 ms etc. likewise).
        let url = try writeOggOpusTone(frequency: 500, packets: 25, samplesPerPacket: 1920, serial: 3, named: "forty.opus", in: dir)
        let file = try CallAudioFile.load(url)
        #expect(!file.sendsOpusPackets, "\(file.format)")
        let source = file.makeSource()
        #expect(source.nextOpusPacket() == nil)
        var pcm: [Int16] = []
        while let frame = source.nextFrame() { pcm += frame }
        #expect(abs(toneFrequency(Array(pcm[4800..<43_200])) - 500) < 10)
    }

    @Test func aPacketSourceAlsoGivesPCMWhenAskedForIt() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try CallAudioFile.load(try Self.opusPrompt(frequency: 440, in: dir))
        let source = file.makeSource()
        var pcm: [Int16] = []
        while let frame = source.nextFrame() { pcm += frame }
        #expect(pcm.count == 100 * 960)
        #expect(abs(toneFrequency(Array(pcm[4800..<91_200])) - 440) < 10)
        #expect(source.nextOpusPacket() == nil, "finished")
    }
}
