import Foundation
import Synchronization

/// Where a call's outgoing audio comes from: 20 ms frames of 48 kHz mono 16-bit PCM
/// (`CallAudio.samplesPerFrame` samples), pulled once per frame by the call's media clock.
public protocol CallAudioSource: AnyObject, Sendable {
    /// The next frame, or nil when the source has finished (the call then sends silence and
    /// reports `CallEvent.audioSourceFinished` once).
    func nextFrame() -> [Int16]?

    /// The next 20 ms already encoded: an Opus packet (RFC 6716) of 960 samples at 48 kHz, mono
    /// or stereo, that goes into RTP as it is, with no encoding (`OpusPacketSource` plays an Ogg
    /// Opus file this way). The call asks for it first on every tick, and for `nextFrame()` only
    /// when this returns nil. The default returns nil: PCM sources need not implement it.
    func nextOpusPacket() -> [UInt8]?
}

extension CallAudioSource {
    public func nextOpusPacket() -> [UInt8]? { nil }
}

/// Where a call's received audio goes: one 20 ms frame (48 kHz mono) per media-clock tick, from
/// the jitter buffer (silence before the first packet and while nothing arrives).
public protocol CallAudioSink: AnyObject, Sendable {
    func receive(frame: [Int16])
}

/// Constants of the call's PCM interface.
public enum CallAudio {
    public static let sampleRate = 48_000
    public static let samplesPerFrame = 960
    public static let frameDuration = Duration.milliseconds(20)

    /// Level of a frame in dBFS (RMS; -100 for digital silence), for meters.
    public static func level(of frame: [Int16]) -> Double {
        guard !frame.isEmpty else { return -100 }
        var sum = 0.0
        for s in frame { let x = Double(s); sum += x * x }
        let rms = (sum / Double(frame.count)).squareRoot() / 32768
        return rms > 0 ? max(-100, 20 * log10(rms)) : -100
    }
}

/// The audio plugged into one call: what it sends and where received audio goes; replaceable at
/// any time, before or during the call. Muting sends silence.
final class CallAudioRouting: Sendable {
    private struct Slots {
        var source: (any CallAudioSource)?
        var sink: (any CallAudioSink)?
        var muted = false
    }
    private let slots = Mutex(Slots())

    var source: (any CallAudioSource)? {
        get { slots.withLock { $0.source } }
        set { slots.withLock { $0.source = newValue } }
    }
    var sink: (any CallAudioSink)? {
        get { slots.withLock { $0.sink } }
        set { slots.withLock { $0.sink = newValue } }
    }
    var muted: Bool {
        get { slots.withLock { $0.muted } }
        set { slots.withLock { $0.muted = newValue } }
    }

    /// Clears the source if it is still `source` (it finished); returns whether it was.
    func clearSource(ifStill source: any CallAudioSource) -> Bool {
        slots.withLock { s in
            guard let current = s.source, current === source else { return false }
            s.source = nil
            return true
        }
    }
}
