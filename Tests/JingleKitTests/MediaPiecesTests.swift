import Foundation
import Jingle
@testable import JingleKit
import Media
import Testing
import Transport
import XMPPCore

/// The pure parts of the media runtime: XEP-0215 services to ICE servers, candidate mapping,
/// audio files and conversions.
@Suite struct MediaPiecesTests {
    @Test func externalServicesBecomeICEServersAndUnusableOnesAreNamed() {
        let services = [
            ExternalService(type: "stun", host: "127.0.0.1", port: 3478, transport: "udp"),
            ExternalService(type: "turn", host: "127.0.0.1", port: 3478, transport: "udp", username: "1700000000", password: "p"),
            ExternalService(type: "turn", host: "::1", port: 3479, transport: "tcp", username: "u", password: "p"),
            ExternalService(type: "turns", host: "127.0.0.1", port: 5349, transport: "tcp", username: "u", password: "p"),
            ExternalService(type: "turn", host: "127.0.0.1", port: 3478, transport: "udp"),
            ExternalService(type: "turn", host: "no-such-host.invalid", port: 3478, username: "u", password: "p"),
            ExternalService(type: "ftp", host: "127.0.0.1", port: 21),
        ]
        let found = ICEServerDiscovery.iceServers(from: services) { host in
            host.hasSuffix(".invalid") ? nil : ICEServerDiscovery.resolveIPv4OrIPv6(host)
        }
        #expect(
            found.servers == [
                // No STUN: the TURN server on the same address and port reports the reflexive address.
                ICEServer(address: "127.0.0.1", port: 3478, kind: .turnUDP(username: "1700000000", password: "p")),
                ICEServer(address: "::1", port: 3479, kind: .turnTCP(username: "u", password: "p")),
                ICEServer(address: "127.0.0.1", port: 5349, kind: .turnTLS(username: "u", password: "p")),
            ])
        #expect(found.skipped.count == 2)
        #expect(found.skipped.contains { $0.contains("without credentials") })
        #expect(found.skipped.contains { $0.contains("cannot resolve no-such-host.invalid") })
    }

    @Test func oneSTUNServerIsKeptUnlessATURNServerSharesItsAddress() {
        let stunA = ICEServer(address: "192.0.2.1", port: 3478, kind: .stun)
        let stunB = ICEServer(address: "192.0.2.2", port: 3478, kind: .stun)
        let turn = ICEServer(address: "192.0.2.2", port: 3478, kind: .turnUDP(username: "u", password: "p"))
        #expect(ICEServerDiscovery.usable([stunA, stunB]) == [stunA])
        #expect(ICEServerDiscovery.usable([stunB, turn, stunA]) == [turn, stunA])
    }

    @Test func hostNamesAreResolvedToLiteralAddresses() {
        #expect(ICEServerDiscovery.resolveIPv4OrIPv6("localhost").map(ICEServerDiscovery.isLiteral) == true)
        #expect(ICEServerDiscovery.resolveIPv4OrIPv6("192.0.2.1") == "192.0.2.1")
    }

    @Test func candidatesMapBothWaysAndUnusableOnesAreDropped() throws {
        let relay = ICECandidate(
            foundation: "4", priority: 16_777_215, address: "203.0.113.7", port: 50_000,
            kind: .relayed, relatedAddress: "198.51.100.2", relatedPort: 40_000)
        let jingle = CandidateMapping.jingle(relay)
        #expect(jingle.type == .relay && jingle.protocol == "udp" && jingle.relAddr == "198.51.100.2" && !jingle.id.isEmpty)
        #expect(CandidateMapping.ice(jingle) == relay)
        let tcp = Candidate(
            component: 1, foundation: "1", id: "x", ip: "192.0.2.1", port: 9, priority: 1, protocol: "tcp",
            type: .host, extraAttributes: [.init(name: "tcptype", value: "passive")])
        #expect(CandidateMapping.ice(tcp)?.transport == .tcpPassive)
        var noType = tcp
        noType.extraAttributes = []
        #expect(CandidateMapping.ice(noType) == nil, "TCP without tcptype cannot be used")
        var rtcp = jingle
        rtcp.component = 2
        #expect(CandidateMapping.ice(rtcp) == nil, "only component 1: RTP and RTCP are multiplexed")
    }

    @Test func wavFilesAreMixedToMonoAndResampledTo48kHz() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jk-audio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // One second of 8 kHz stereo: left a 400 Hz tone, right silent.
        var samples: [Int16] = []
        for i in 0..<8000 {
            samples.append(Int16(10_000 * sin(2 * Double.pi * 400 * Double(i) / 8000)))
            samples.append(0)
        }
        let url = dir.appendingPathComponent("prompt.wav")
        try Data(WAVFile(sampleRate: 8000, channels: 2, samples: samples).serialized()).write(to: url)
        let source = try PCMBufferSource.file(url)
        var pcm: [Int16] = []
        while let frame = source.nextFrame() { pcm += frame }
        #expect(pcm.count == 48_000, "one second at 48 kHz, in whole frames")
        #expect(abs(toneFrequency(pcm) - 400) < 10)
        let peak = pcm.map { abs(Int($0)) }.max() ?? 0
        #expect(peak > 4000 && peak < 5500, "left and right averaged: about half the tone's 10000 peak, got \(peak)")
    }

    @Test func loopingSourcesWrapAndFiniteOnesEnd() {
        let looped = PCMBufferSource(samples: Array(0..<1000).map { Int16($0) }, loop: true)
        let a = looped.nextFrame()!, b = looped.nextFrame()!
        #expect(a.count == 960 && b.count == 960)
        #expect(b[0] == 960 && b[39] == 999 && b[40] == 0, "wraps to the start inside a frame")
        let once = PCMBufferSource(samples: [Int16](repeating: 1, count: 1000))
        #expect(once.nextFrame()?.count == 960)
        #expect(once.nextFrame()?.prefix(40).allSatisfy { $0 == 1 } == true)
        #expect(once.nextFrame() == nil)
    }

    @Test func badAudioFilesGiveErrorsNamingTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jk-audio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let garbage = dir.appendingPathComponent("garbage.wav")
        try Data("not a wave".utf8).write(to: garbage)
        #expect(throws: CallAudioFileError.self) { try PCMBufferSource.file(garbage) }
        do { _ = try PCMBufferSource.file(garbage) } catch { #expect(error.description.contains("garbage.wav")) }
        let ogg = dir.appendingPathComponent("garbage.ogg")
        try Data("OggS nonsense".utf8).write(to: ogg)
        #expect(throws: CallAudioFileError.self) { try PCMBufferSource.file(ogg) }
        // Formats are recognised by content: a missing file cannot be read, whatever its name.
        do {
            _ = try PCMBufferSource.file(dir.appendingPathComponent("x.mp3"))
            Issue.record("a missing file was read")
        } catch {
            guard case .unreadable(let path, _) = error else { Issue.record("\(error)"); return }
            #expect(path == dir.appendingPathComponent("x.mp3").path)
        }
        #expect(throws: CallAudioFileError.self) { try PCMBufferSource.file(dir.appendingPathComponent("missing.wav")) }
    }

    @Test func oggOpusFilesDecodeWithPreSkipRemoved() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("jk-audio-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = try writeOggOpusTone(frequency: 440, packets: 50, serial: 7, named: "tone.opus", in: dir)
        let source = try PCMBufferSource.file(url)
        var pcm: [Int16] = []
        while let frame = source.nextFrame() { pcm += frame }
        #expect(pcm.count == 48_000, "50 frames less the 312-sample pre-skip, padded to whole frames")
        #expect(abs(toneFrequency(Array(pcm[4800..<43_200])) - 440) < 10)
    }

    @Test func levelsAreInDBFS() {
        #expect(CallAudio.level(of: [Int16](repeating: 0, count: 960)) == -100)
        let full = (0..<960).map { i -> Int16 in i % 2 == 0 ? 32767 : -32767 }
        #expect(abs(CallAudio.level(of: full)) < 0.01)
    }
}
