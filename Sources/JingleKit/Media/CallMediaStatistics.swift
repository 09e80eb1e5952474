import Transport

/// Media counters of one call (RFC 3550 §6.4 report figures, the jitter buffer's work, and the
/// W3C webrtc-stats candidate-pair and transport entries).
///
/// The media session's counters (`packetsSent`, `jitter`, `roundTripTime`, `decodedFrames`,
/// `dtlsDatagramsSent`, …) are read and set by their names here, as members of ``session``.
@dynamicMemberLookup
public struct CallMediaStatistics: Sendable, Hashable {
    /// The media session's snapshot: RTP/SRTP packets and bytes, loss and jitter, RTCP, the
    /// decoder's and jitter buffer's frames, RED and Opus, DTLS datagrams and send failures.
    public var session = MediaSessionStatistics()
    /// The pair ICE uses, once known.
    public var selectedPair: SelectedCandidatePair?
    /// Each STUN/TURN server the call's ICE agent was given, and what came of it.
    public var iceServers: [ICEServerStatus] = []
    /// The SRTP protection profile DTLS negotiated (RFC 5764 §4.1.2 name).
    public var srtpProfile: String?
    /// Frames our media clock sent and played, and the ticks that ran more than one frame late.
    public var framesSent = 0
    public var framesPlayed = 0
    public var lateTicks = 0
    /// Levels of the last sent and received frames, dBFS.
    public var sendLevel = -100.0
    public var receiveLevel = -100.0

    public init() {}

    /// A counter of the media session, by its name (`statistics.packetsSent`).
    public subscript<Value>(dynamicMember keyPath: WritableKeyPath<MediaSessionStatistics, Value>) -> Value {
        get { session[keyPath: keyPath] }
        set { session[keyPath: keyPath] = newValue }
    }

    /// Share of played frames that were concealed (0...1).
    public var concealmentRate: Double { share(session.concealedFrames) }

    /// Share of played frames decoded from the peer's packets (0...1).
    public var decodedRate: Double { share(session.decodedFrames) }

    /// Share of played frames recovered by Opus in-band FEC (0...1).
    public var fecRecoveryRate: Double { share(session.fecRecoveredFrames) }

    private func share(_ frames: Int) -> Double {
        let total = session.decodedFrames + session.concealedFrames + session.fecRecoveredFrames
        return total == 0 ? 0 : Double(frames) / Double(total)
    }

    init(_ s: MediaSessionStatistics) {
        session = s
        srtpProfile = s.srtpProfile.map { p in
            switch p {
            case .aeadAES128GCM: "AEAD_AES_128_GCM"
            case .aes128CMHMACSHA1_80: "AES_CM_128_HMAC_SHA1_80"
            }
        }
    }
}
