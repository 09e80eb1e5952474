import Foundation
import Testing
@testable import Media

func rms(_ x: ArraySlice<Int16>) -> Double {
    guard !x.isEmpty else { return 0 }
    return (x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)).squareRoot()
}

/// Goertzel power of `frequency` in `x`, normalised by length.
func tonePower(_ x: ArraySlice<Int16>, frequency: Double, sampleRate: Double = 48_000) -> Double {
    let w = 2 * Double.pi * frequency / sampleRate
    let c = 2 * cos(w)
    var s1 = 0.0, s2 = 0.0
    for v in x { let s = Double(v) + c * s1 - s2; s2 = s1; s1 = s }
    return (s1 * s1 + s2 * s2 - c * s1 * s2) / Double(x.count * x.count)
}

@Suite struct OpusCodecTests {
    @Test func toneSurvivesEncodeDecode() throws {
        let encoder = try OpusEncoder(sampleRate: 48_000, channels: 1, application: .voip)
        try encoder.setBitrate(32_000)
        try encoder.setComplexity(5)
        let decoder = try OpusDecoder(sampleRate: 48_000, channels: 1)
        var tone = ToneGenerator(frequency: 440, amplitude: 0.4)
        var input: [Int16] = [], output: [Int16] = []
        for _ in 0..<50 {
            let frame = tone.nextFrame(samplesPerChannel: 960)
            input += frame
            let packet = try encoder.encode(frame)
            #expect(!packet.isEmpty && packet.count < 400)
            #expect(try OpusPacketInfo(parsing: packet).totalSamples == 960)
            let pcm = try decoder.decode(packet)
            #expect(pcm.count == 960)
            output += pcm
        }
        let steadyIn = input[9600...], steadyOut = output[9600...]
        let ratio = rms(steadyOut) / rms(steadyIn)
        #expect(ratio > 0.7 && ratio < 1.3, "energy ratio \(ratio)")
        let at440 = tonePower(steadyOut, frequency: 440), at1000 = tonePower(steadyOut, frequency: 1000)
        #expect(at440 > 100 * at1000)
        #expect(encoder.bitrate == 32_000)
        #expect(encoder.lookahead > 0)
    }

    @Test func badArgumentsAreTypedErrors() throws {
        #expect(throws: OpusError.unsupportedSampleRate(44_100)) { try OpusEncoder(sampleRate: 44_100) }
        #expect(throws: OpusError.unsupportedChannelCount(3)) { try OpusDecoder(channels: 3) }
        let encoder = try OpusEncoder()
        #expect(throws: OpusError.invalidFrameSize(1000)) { try encoder.encode([Int16](repeating: 0, count: 1000)) }
        #expect(throws: OpusError.invalidFrameSize(0)) { try encoder.encode([]) }
        let stereo = try OpusEncoder(channels: 2)
        #expect(throws: OpusError.self) { try stereo.encode([Int16](repeating: 0, count: 1921)) }
        let decoder = try OpusDecoder()
        #expect(throws: OpusError.invalidPacket) { try decoder.decode([]) }
        #expect(throws: OpusError.self) { try decoder.decode([31 << 3 | 3, 0]) }
        #expect(throws: OpusError.invalidFrameSize(7)) { try decoder.conceal(frameSize: 7) }
    }

    @Test func concealmentAndFECDiffer() throws {
        let encoder = try OpusEncoder()
        try encoder.setBitrate(24_000)
        try encoder.setInbandFEC(true, expectedPacketLossPercent: 20)
        try encoder.setVoiceSignal()
        var tone = ToneGenerator(frequency: 300, amplitude: 0.4)
        var packets: [[UInt8]] = []
        for _ in 0..<30 { packets.append(try encoder.encode(tone.nextFrame(samplesPerChannel: 960))) }
        #expect(try OpusPacketInfo(parsing: packets[20]).mode != .celt)
        let withFEC = try OpusDecoder(), withPLC = try OpusDecoder()
        for p in packets[0..<20] { _ = try withFEC.decode(p); _ = try withPLC.decode(p) }
        // Packet 20 is lost; 21 carries its FEC copy.
        let recovered = try withFEC.decodeFEC(from: packets[21], frameSize: 960)
        let concealed = try withPLC.conceal(frameSize: 960)
        #expect(recovered.count == 960 && concealed.count == 960)
        #expect(recovered != concealed)
        #expect(rms(recovered[...]) > 0.3 * 0.4 * 32767 / 2.0.squareRoot())
    }

    @Test func dtxShrinksSilence() throws {
        let encoder = try OpusEncoder()
        try encoder.setDTX(true)
        var silence = SilenceSource()
        var sizes: [Int] = []
        for _ in 0..<40 { sizes.append(try encoder.encode(silence.nextFrame(samplesPerChannel: 960)).count) }
        // DTX frames are 1-2 bytes (only an occasional refresh frame is larger).
        #expect(sizes.suffix(20).filter { $0 <= 2 }.count >= 15, "sizes \(sizes)")
    }
}
