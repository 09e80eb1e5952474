import Media

/// An Opus RTP sender (RFC 7587) with the shapes real senders have, for tests through a
/// `NetworkPath`: GStreamer's short first timestamp step, any timestamp origin, packets of 20, 40
/// or 60 ms changing mid-stream, a restart with a new SSRC, DTX gaps (no packets while silent;
/// the marker set on the first packet after one), and a sample clock that runs fast or slow
/// against the receiver's. It encodes with libopus; time is virtual (`Duration` from the start).
public final class EmulatedOpusSender {
    /// What the sender does differently from a plain 20 ms stream.
    public struct Shape: Sendable {
        /// RTP timestamp of the first packet.
        public var timestampOrigin: UInt32
        /// The step from the first packet's timestamp to the second's, when not a whole packet
        /// (GStreamer's `rtpopuspay`: 648, the frame minus the encoder's look-ahead).
        public var firstTimestampStep: Int?
        /// From which 20 ms frame on the packets carry how many frames (1, 2 or 3: 20, 40, 60 ms).
        public var framesPerPacket: [(fromFrame: Int, frames: Int)]
        /// From this frame on, a new SSRC, sequence and timestamp origin (a sender restart).
        public var restart: (atFrame: Int, ssrc: UInt32, timestampOrigin: UInt32)?
        /// Frames not sent (DTX): the timestamp runs on, the next packet has its marker set.
        public var silentFrames: [Range<Int>]
        /// The sender's clock against the receiver's, in parts per million (+5000 is 0.5 % fast:
        /// 20 ms of audio every 19.9 ms of the receiver's time).
        public var clockDriftPPM: Double

        public init(
            timestampOrigin: UInt32 = 0x1234_5678, firstTimestampStep: Int? = nil,
            framesPerPacket: [(fromFrame: Int, frames: Int)] = [], restart: (atFrame: Int, ssrc: UInt32, timestampOrigin: UInt32)? = nil,
            silentFrames: [Range<Int>] = [], clockDriftPPM: Double = 0
        ) {
            self.timestampOrigin = timestampOrigin
            self.firstTimestampStep = firstTimestampStep
            self.framesPerPacket = framesPerPacket
            self.restart = restart
            self.silentFrames = silentFrames
            self.clockDriftPPM = clockDriftPPM
        }

        /// GStreamer's `rtpopuspay`: 0, 648, 1608, 2568... from a random origin.
        public static let gstreamer = Shape(timestampOrigin: 0x0BAD_F00D, firstTimestampStep: 648)
    }

    public struct Settings: Sendable {
        public var bitrate: Int
        public var forwardErrorCorrection: Bool
        public var expectedLossPercent: Int
        public var payloadType: UInt8
        public var ssrc: UInt32
        /// RFC 2198 redundancy: each packet in the `red` payload type, repeating `distance`
        /// earlier frames (0 sends the primary alone in RED form); nil sends plain Opus.
        public var redundancy: (payloadType: UInt8, distance: Int)?

        public init(
            bitrate: Int = 48_000, forwardErrorCorrection: Bool = true, expectedLossPercent: Int = 10,
            payloadType: UInt8 = 111, ssrc: UInt32 = 0x5EED_0001,
            redundancy: (payloadType: UInt8, distance: Int)? = nil
        ) {
            self.bitrate = bitrate
            self.forwardErrorCorrection = forwardErrorCorrection
            self.expectedLossPercent = expectedLossPercent
            self.payloadType = payloadType
            self.ssrc = ssrc
            self.redundancy = redundancy
        }
    }

    public static let frameSamples = 960
    public static let frameDuration = Duration.milliseconds(20)

    public let shape: Shape
    public let settings: Settings
    private let encoder: OpusEncoder
    private let speech: [Int16]
    private var frame = 0
    private var packetsSent = 0
    private var sequence: UInt16 = 0x4000
    private var ssrc: UInt32
    private var origin: UInt32
    private var originFrame = 0
    private var markNext = true
    private var redundantEncoder: RedundantAudioEncoder
    /// Payload octets sent (RTP payloads, RED headers and repeats included).
    public private(set) var payloadOctetsSent = 0

    /// `speech`: 48 kHz mono; it is sent in whole frames (a short last frame is padded).
    public init(speech: [Int16], shape: Shape = Shape(), settings: Settings = Settings()) throws(OpusError) {
        self.speech = speech
        self.shape = shape
        self.settings = settings
        encoder = try OpusEncoder(sampleRate: 48_000, channels: 1, application: .voip)
        try encoder.setBitrate(settings.bitrate)
        try encoder.setInbandFEC(settings.forwardErrorCorrection, expectedPacketLossPercent: settings.expectedLossPercent)
        ssrc = settings.ssrc
        origin = shape.timestampOrigin
        redundantEncoder = RedundantAudioEncoder(distance: settings.redundancy?.distance ?? 0)
    }

    public var totalFrames: Int { (speech.count + Self.frameSamples - 1) / Self.frameSamples }
    public var isFinished: Bool { frame >= totalFrames }

    /// The receiver's time at which the packet starting at `frame` is sent: its last sample
    /// has been captured, on the sender's clock.
    public var nextSendTime: Duration? {
        guard !isFinished else { return nil }
        let frames = framesInPacket(at: frame)
        let capture = Self.frameDuration * (frame + frames)
        return capture * (1 / (1 + shape.clockDriftPPM / 1_000_000))
    }

    /// RED distance in use (0 with RED configured but off, or without RED).
    public var redundancyDistance: Int { settings.redundancy == nil ? 0 : redundantEncoder.distance }

    /// Applies a `RedundancyController` level as the media session does: the RED distance and
    /// the Opus rate beside it (the distance only where RED is configured).
    public func apply(_ level: RedundancyController.Level) throws(OpusError) {
        if settings.redundancy != nil {
            if level.distance == 0 { redundantEncoder.reset() }
            redundantEncoder.distance = level.distance
        }
        try encoder.setBitrate(level.opusBitrate)
    }

    /// The next packet (nil for frames that DTX leaves unsent); advances past it.
    public func nextPacket() throws(OpusError) -> RTPPacket? {
        guard !isFinished else { return nil }
        if let restart = shape.restart, frame == restart.atFrame {
            ssrc = restart.ssrc
            origin = restart.timestampOrigin
            originFrame = frame
            sequence &+= 0x3000
            markNext = true
            redundantEncoder.reset()
        }
        let frames = framesInPacket(at: frame)
        let start = frame
        frame += frames
        if shape.silentFrames.contains(where: { $0.contains(start) }) {
            markNext = true
            return nil
        }
        let first = start * Self.frameSamples
        var pcm = Array(speech[min(first, speech.count)..<min(first + frames * Self.frameSamples, speech.count)])
        pcm += repeatElement(0, count: frames * Self.frameSamples - pcm.count)
        let payload = try encoder.encode(pcm)
        var offset = (start - originFrame) * Self.frameSamples
        if let step = shape.firstTimestampStep, start > originFrame {
            offset -= Self.frameSamples - step
        }
        defer {
            sequence &+= 1
            packetsSent += 1
            markNext = false
        }
        let timestamp = origin &+ UInt32(truncatingIfNeeded: offset)
        var payloadType = settings.payloadType
        var bytes = payload
        if let red = settings.redundancy {
            payloadType = red.payloadType
            bytes = redundantEncoder.encode(payloadType: settings.payloadType, timestamp: timestamp, payload: payload).serialized()
        }
        payloadOctetsSent += bytes.count
        return RTPPacket(
            marker: markNext, payloadType: payloadType, sequenceNumber: sequence,
            timestamp: timestamp, ssrc: ssrc, payload: bytes)
    }

    private func framesInPacket(at frame: Int) -> Int {
        let frames = shape.framesPerPacket.last(where: { $0.fromFrame <= frame })?.frames ?? 1
        return min(max(frames, 1), 3)
    }
}
