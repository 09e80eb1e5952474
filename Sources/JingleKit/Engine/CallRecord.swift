import Jingle
import XMPPCore

/// What the call engine knows about one call besides the Jingle and JMI engines' state.
struct CallRecord: Sendable {
    let sid: String
    /// The JID the call was placed to (bare for JMI), or the caller's full JID.
    let peer: JID
    let direction: CallDirection
    let usesJMI: Bool
    var state: CallState
    /// The peer's full JID once known.
    var device: JID?
    /// Whether a Jingle session exists for this sid (initiated or received).
    var sessionStarted = false
    /// Incoming: the session-initiate to answer.
    var initiate: JingleElement?
    /// Incoming JMI call accepted here: answer the caller's session-initiate when it comes.
    var awaitingInitiate = false
    /// Our no-answer deadline for an outgoing call.
    var deadline: EngineInstant?
    /// The driver was asked to make the call's media transport (once per call).
    var transportRequested = false
    /// The driver made it and reported its credentials: media actions may name this call.
    var hasMedia = false
    /// Candidates the peer trickled before our transport existed; handed over when it does.
    var earlyCandidates: [Candidate] = []
    /// The peer's current ICE ufrag (XEP-0176), and the ones an ICE restart retired: candidates
    /// signalled with a retired ufrag belong to an old generation and are dropped (RFC 8838 §4).
    var remoteUfrag: String?
    var retiredRemoteUfrags: Set<String> = []
    /// Our current ufrag, sent with trickled candidates so the peer can tell generations apart.
    var localUfrag: String?
    /// Our DTLS setup as negotiated (XEP-0320), repeated in a restart's fingerprint.
    var localSetup: DTLSSetup?
    /// We restarted ICE and wait for the peer's new credentials; our ufrag before that restart.
    var restartPending = false
    var ufragBeforeRestart: String?
    var restartOfferedAt: EngineInstant?
    /// When an ended call's record, session and proposal are dropped (`CallEngine.endedCallRetention`).
    var forgetAt: EngineInstant?

    // Timings (the engine's clock, as passed in).
    var placedAt: EngineInstant
    var ringingAt: EngineInstant?
    var proceededAt: EngineInstant?
    var initiatedAt: EngineInstant?
    var acceptedAt: EngineInstant?
    var iceConnectedAt: EngineInstant?
    var dtlsConnectedAt: EngineInstant?
    var firstAudioAt: EngineInstant?

    init(
        sid: String, peer: JID, direction: CallDirection, usesJMI: Bool, state: CallState, device: JID? = nil,
        placedAt: EngineInstant
    ) {
        self.sid = sid
        self.peer = peer
        self.direction = direction
        self.usesJMI = usesJMI
        self.state = state
        self.device = device
        self.placedAt = placedAt
    }

    var statistics: CallStatistics {
        var s = CallStatistics()
        if usesJMI && direction == .outgoing {
            s.proposeToRinging = ringingAt.map { $0 - placedAt }
            s.proposeToProceed = proceededAt.map { $0 - placedAt }
        }
        if let i = initiatedAt, let a = acceptedAt { s.initiateToAccept = a - i }
        s.setup = acceptedAt.map { $0 - placedAt }
        s.iceConnected = iceConnectedAt.map { $0 - placedAt }
        s.dtlsConnected = dtlsConnectedAt.map { $0 - placedAt }
        s.firstAudio = firstAudioAt.map { $0 - placedAt }
        return s
    }
}
