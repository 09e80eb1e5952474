import Transport

/// Media counters of one call (RFC 3550 §6.4 report figures, the jitter buffer's work, and the
/// W3C webrtc-stats candidate-pair and transport entries).
public struct CallMediaStatistics: Sendable, Hashable {
    /// RTP packets sent and received, and their SRTP bytes.
    public var packetsSent = 0
    public var bytesSent = 0
    public var packetsReceived = 0
    public var bytesReceived = 0
    /// SRTP/SRTCP packets that failed authentication or replay checks.
    public var packetsRejected = 0
    /// Loss of the peer's stream as we see it: cumulative, and in the last RTCP interval (0...1).
    public var packetsLost = 0
    public var fractionLost = 0.0
    /// Interarrival jitter of the received stream (RFC 3550 §6.4.1).
    public var jitter: Duration = .zero
    /// What the peer's last RTCP report said about our stream.
    public var remoteFractionLost = 0.0
    public var remotePacketsLost = 0
    public var remoteJitter: Duration = .zero
    /// Round-trip time from RTCP LSR/DLSR, once known.
    public var roundTripTime: Duration?
    public var rtcpSent = 0
    public var rtcpReceived = 0
    /// 20 ms frames played from decoded packets, concealed (no packet), or recovered from the next packet's FEC.
    public var decodedFrames = 0
    public var concealedFrames = 0
    public var fecRecoveredFrames = 0
    /// Frames restored from a later packet's RFC 2198 redundancy (RED) before the decoder would
    /// have concealed them (they are played as decoded frames), and RED packets received.
    public var redRecoveredFrames = 0
    public var redPacketsReceived = 0
    /// Whether the peer agreed to RED (RFC 2198) for our Opus payload type.
    public var redAgreed = false
    /// Earlier frames each packet we send repeats now (0: plain Opus), and our Opus bit rate.
    public var redDistance = 0
    public var opusBitrate = 0
    /// Frames of silence played through gaps the peer left without losing a packet (DTX): not
    /// counted in the rates below.
    public var silenceFrames = 0
    /// Frames the jitter buffer shortened or lengthened to steer its delay.
    public var acceleratedFrames = 0
    public var expandedFrames = 0
    public var jitterBufferDelay: Duration = .zero
    /// The pair ICE uses, once known.
    public var selectedPair: SelectedCandidatePair?
    /// Each STUN/TURN server the call's ICE agent was given, and what came of it.
    public var iceServers: [ICEServerStatus] = []
    /// The SRTP protection profile DTLS negotiated (RFC 5764 §4.1.2 name).
    public var srtpProfile: String?
    /// DTLS records sent (with retransmissions) and received, and datagrams ICE refused to send.
    public var dtlsDatagramsSent = 0
    public var dtlsDatagramsReceived = 0
    public var sendFailures = 0
    /// Frames the Opus encoder encoded, and Opus packets the audio source supplied that went
    /// out as they were (`CallAudioSource.nextOpusPacket()`, no encoding).
    public var framesEncoded = 0
    public var opusPacketsPassedThrough = 0
    /// Frames our media clock sent and played, and the ticks that ran more than one frame late.
    public var framesSent = 0
    public var framesPlayed = 0
    public var lateTicks = 0
    /// Levels of the last sent and received frames, dBFS.
    public var sendLevel = -100.0
    public var receiveLevel = -100.0

    public init() {}

    /// Share of played frames that were concealed (0...1).
    public var concealmentRate: Double {
        let total = decodedFrames + concealedFrames + fecRecoveredFrames
        return total == 0 ? 0 : Double(concealedFrames) / Double(total)
    }

    /// Share of played frames decoded from the peer's packets (0...1).
    public var decodedRate: Double {
        let total = decodedFrames + concealedFrames + fecRecoveredFrames
        return total == 0 ? 0 : Double(decodedFrames) / Double(total)
    }

    /// Share of played frames recovered by Opus in-band FEC (0...1).
    public var fecRecoveryRate: Double {
        let total = decodedFrames + concealedFrames + fecRecoveredFrames
        return total == 0 ? 0 : Double(fecRecoveredFrames) / Double(total)
    }

    init(_ s: MediaSessionStatistics) {
        packetsSent = s.packetsSent
        bytesSent = s.bytesSent
        packetsReceived = s.packetsReceived
        bytesReceived = s.bytesReceived
        packetsRejected = s.packetsRejected
        packetsLost = s.packetsLost
        fractionLost = s.fractionLost
        jitter = s.jitter
        remoteFractionLost = s.remoteFractionLost
        remotePacketsLost = s.remotePacketsLost
        remoteJitter = s.remoteJitter
        roundTripTime = s.roundTripTime
        rtcpSent = s.rtcpSent
        rtcpReceived = s.rtcpReceived
        decodedFrames = s.decodedFrames
        concealedFrames = s.concealedFrames
        fecRecoveredFrames = s.fecRecoveredFrames
        redRecoveredFrames = s.redRecoveredFrames
        redAgreed = s.redAgreed
        redPacketsReceived = s.redPacketsReceived
        redDistance = s.redDistance
        opusBitrate = s.opusBitrate
        silenceFrames = s.silenceFrames
        acceleratedFrames = s.acceleratedFrames
        expandedFrames = s.expandedFrames
        jitterBufferDelay = s.jitterBufferDelay
        dtlsDatagramsSent = s.dtlsDatagramsSent
        dtlsDatagramsReceived = s.dtlsDatagramsReceived
        sendFailures = s.sendFailures
        framesEncoded = s.framesEncoded
        opusPacketsPassedThrough = s.opusPacketsPassedThrough
        srtpProfile = s.srtpProfile.map { p in
            switch p {
            case .aeadAES128GCM: "AEAD_AES_128_GCM"
            case .aes128CMHMACSHA1_80: "AES_CM_128_HMAC_SHA1_80"
            }
        }
    }
}
