import CoreMetrics
import Jingle
import XMPPCore

/// Where a call is (XEP-0353 §3 proposal, then XEP-0166 §6 session phases).
public enum CallState: Sendable, Hashable {
    /// Outgoing: proposed (JMI) or initiated (direct) and not ringing yet.
    case proposing
    /// Outgoing: a callee device rings; incoming: ringing here, waiting for `accept()`.
    case ringing
    /// Accepted or proceeded; the Jingle offer/answer is under way.
    case connecting
    /// session-accept sent or received.
    case active
    case ended(CallEndReason)

    public var isEnded: Bool { if case .ended = self { true } else { false } }
}

/// Why a call ended, from XEP-0166 §7.4 reasons and XEP-0353 outcomes.
public enum CallEndReason: Sendable, Hashable {
    /// An active call was hung up (`<success/>`).
    case completed(byPeer: Bool)
    /// The callee declined (`<decline/>`).
    case declined(byPeer: Bool)
    /// The callee was busy (`<busy/>`).
    case busy(byPeer: Bool)
    /// The caller withdrew before an answer (JMI retract, or terminate with `<cancel/>`).
    case cancelled(byPeer: Bool)
    /// Nobody answered in time (`<timeout/>`).
    case noAnswer
    /// Another device of our account answered or rejected (XEP-0353 with XEP-0280 carbons).
    case answeredElsewhere
    /// Crossing calls with the same peer: the other one won (XEP-0166 §7.2.16, XEP-0353 §5).
    case lostTieBreak
    /// Any other reason, or a local failure (negotiation, transport).
    case failed(Reason?, byPeer: Bool)

    /// The XEP-0166 reason that says this end on the wire.
    var jingleReason: Reason {
        switch self {
        case .completed: Reason(.success)
        case .declined: Reason(.decline)
        case .busy: Reason(.busy)
        case .cancelled: Reason(.cancel)
        case .noAnswer: Reason(.timeout)
        case .answeredElsewhere: Reason(.success)
        case .lostTieBreak: Reason(.expired)
        case .failed(let r, _): r ?? Reason(.generalError)
        }
    }

    /// Whether the peer (or another of our devices) ended the call.
    var isByPeer: Bool {
        switch self {
        case .completed(let p), .declined(let p), .busy(let p), .cancelled(let p), .failed(_, let p): p
        case .noAnswer, .lostTieBreak: false
        case .answeredElsewhere: true
        }
    }

    /// The reason for a Jingle end, by condition, knowing whether the call had become active.
    static func from(_ reason: Reason?, byPeer: Bool, wasActive: Bool) -> CallEndReason {
        switch reason?.condition {
        // A call that never became active was not completed, whatever the reason says: the
        // `<success/>` of a party that leaves before answering is it calling the call off.
        case .success?: return wasActive ? .completed(byPeer: byPeer) : .cancelled(byPeer: byPeer)
        case .decline?: return .declined(byPeer: byPeer)
        case .busy?: return .busy(byPeer: byPeer)
        case .cancel?, nil: return wasActive ? .completed(byPeer: byPeer) : .cancelled(byPeer: byPeer)
        case .timeout?, .expired?: return wasActive ? .failed(reason, byPeer: byPeer) : .noAnswer
        case .alternativeSession?: return .lostTieBreak
        default: return .failed(reason, byPeer: byPeer)
        }
    }
}

/// What happens to a call, in order, for the application.
public enum CallEvent: Sendable, Hashable {
    /// A callee device rings (JMI `<ringing/>` or XEP-0167 §7 session-info ringing).
    case ringing(device: JID)
    /// A callee device proceeded (JMI); the Jingle session to it starts.
    case proceeded(device: JID)
    /// The session is accepted: the call is active.
    case accepted
    /// The peer trickled candidates (XEP-0176 transport-info).
    case remoteCandidates([Candidate])
    /// The peer muted or unmuted (XEP-0167 §7.3).
    case remoteMuted(Bool)
    /// The peer put the call on hold or resumed it (XEP-0167 §7.2).
    case remoteHeld(Bool)
    /// ICE connectivity checks succeeded on this candidate pair.
    case iceConnected(SelectedCandidatePair)
    /// The media transport reports ICE + DTLS-SRTP connected: audio flows.
    case mediaConnected
    /// The first packet of the peer's audio was decoded.
    case firstAudio
    /// The peer sent a DTMF digit (RFC 4733 telephone-event).
    case dtmf(Character)
    /// The audio source set with `setAudioSource` has no more frames; silence is sent from now on.
    case audioSourceFinished
    /// ICE restarted (RFC 8445 §9, XEP-0176 §2.4): both sides have new credentials; DTLS-SRTP
    /// carries on and `.iceConnected` follows again once the new checks succeed.
    case iceRestarted(ICERestart)
    /// The peer proposed a content (XEP-0166 §7.2.1, e.g. video) and we answered content-reject
    /// with `reason`: a call carries one audio stream. The call goes on unchanged.
    case contentRejected(name: String, media: String?, reason: Reason)
    case ended(CallEndReason)
}

/// One ICE restart of a call (RFC 8445 §9): who started it and both new username fragments.
public struct ICERestart: Sendable, Hashable {
    /// The peer sent new credentials first; false when `Call.restartICE()` started it here.
    public var byPeer: Bool
    public var localUfrag: String
    public var remoteUfrag: String
    /// The ufrags of the generation the restart retired.
    public var previousLocalUfrag: String?
    public var previousRemoteUfrag: String?

    public init(
        byPeer: Bool, localUfrag: String, remoteUfrag: String, previousLocalUfrag: String? = nil,
        previousRemoteUfrag: String? = nil
    ) {
        self.byPeer = byPeer
        self.localUfrag = localUfrag
        self.remoteUfrag = remoteUfrag
        self.previousLocalUfrag = previousLocalUfrag
        self.previousRemoteUfrag = previousRemoteUfrag
    }
}

/// Whether we placed the call or received it.
public enum CallDirection: Sendable, Hashable {
    case outgoing, incoming
}

/// Setup timings of one call, measured by the runtime's clock (nil when the step did not happen).
public struct CallStatistics: Sendable, Hashable {
    /// JMI propose sent -> first `<ringing/>` received (outgoing JMI calls).
    public var proposeToRinging: Duration?
    /// JMI propose sent -> `<proceed/>` received (outgoing JMI calls).
    public var proposeToProceed: Duration?
    /// session-initiate sent or received -> session-accept received or sent.
    public var initiateToAccept: Duration?
    /// Call placed or received -> active.
    public var setup: Duration?
    /// Call placed or received -> ICE connectivity established (RFC 8445 §8).
    public var iceConnected: Duration?
    /// Call placed or received -> DTLS-SRTP keys installed (RFC 5764 §4.2).
    public var dtlsConnected: Duration?
    /// Call placed or received -> the first packet of the peer's audio decoded.
    public var firstAudio: Duration?

    public init(
        proposeToRinging: Duration? = nil, proposeToProceed: Duration? = nil, initiateToAccept: Duration? = nil,
        setup: Duration? = nil, iceConnected: Duration? = nil, dtlsConnected: Duration? = nil,
        firstAudio: Duration? = nil
    ) {
        self.proposeToRinging = proposeToRinging
        self.proposeToProceed = proposeToProceed
        self.initiateToAccept = initiateToAccept
        self.setup = setup
        self.iceConnected = iceConnected
        self.dtlsConnected = dtlsConnected
        self.firstAudio = firstAudio
    }
}

/// Our misuse of a call or manager, thrown locally.
public enum CallError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The action does not fit the call's state (e.g. accepting an outgoing or ended call).
    case wrongState(CallState)
    /// A direct Jingle call needs the callee's full JID.
    case fullJIDRequired(JID)
    /// The manager was released or not started.
    case managerUnavailable
    /// The transport could not be created.
    case transportFailed(String)
    /// The XEP-0353 engine refused our action (a proposal it does not know, or in the wrong state).
    case messageRefused(JingleMessageMachine.MisuseError)
    /// The XEP-0166 session engine refused our action (unknown session, or not legal in its state).
    case sessionRefused(JingleSessionError)
    /// A direct call's session-initiate failed at once; the call ended so.
    case notStarted(CallEndReason)
    /// DTMF cannot be sent: a digit outside 0-9 * # A-D, no telephone-event negotiated, or no media.
    case dtmf(String)

    public var description: String {
        switch self {
        case .wrongState(let s): "not possible while the call is \(s)"
        case .fullJIDRequired(let j): "a direct Jingle call needs a full JID, got \(j)"
        case .managerUnavailable: "the call manager is not running"
        case .transportFailed(let s): "media transport: \(s)"
        case .messageRefused(let e): "call signalling (XEP-0353) refused: \(e)"
        case .sessionRefused(let e): "session signalling (XEP-0166) refused: \(e)"
        case .notStarted(let end): "the call could not start: \(end)"
        case .dtmf(let s): "DTMF: \(s)"
        }
    }
}

/// Settings of a `CallManager`.
public struct CallConfiguration: Sendable {
    /// Codecs offered and accepted: Opus 48000/2 with in-band FEC, RED over Opus (RFC 2198, sent
    /// when the peer reports loss), telephone-event/48000 and telephone-event/8000 (DTMF goes at
    /// 48000 where both are agreed).
    public var policy: MediaPolicy
    /// Timers of Jingle sessions (response timeout; the answer timeout applies to direct calls).
    public var sessionTimeouts: JingleSessionTimeouts
    /// How long an incoming JMI proposal rings before it is given up, and the age beyond which an
    /// archived proposal is ignored.
    public var proposalLifetime: Duration
    /// Enable XEP-0280 carbons on start, so other devices' answers stop our ringing.
    public var enableCarbons: Bool
    /// Send initial presence on start (JMI proposals go to available resources).
    public var sendPresence: Bool
    /// Makes each call's ICE + DTLS-SRTP transport; `SignallingOnlyTransportProvider` (no media) by default.
    public var mediaTransports: any MediaTransportProvider
    /// Calls in progress at once before a new JMI proposal is answered `<busy/>` (XEP-0353): 1 is
    /// a phone; a bot answering many callers sets more.
    public var maximumConcurrentCalls: Int
    /// Where `CallMetrics` go; nil: the process's `MetricsSystem` (whatever the application
    /// bootstrapped, nothing by default).
    public var metricsFactory: (any MetricsFactory)?
    /// How long the manager keeps an ended call (its state, statistics and media counters, and
    /// its session for late stanzas) before dropping it; a `Call` handle still answers with the
    /// figures it had at the end. Bounds the memory of a runtime that lives for weeks.
    public var endedCallRetention: Duration

    public static let defaultPolicy = MediaPolicy(audioCodecs: [
        PayloadType(
            id: 111, name: "opus", clockrate: 48000, channels: 2,
            parameters: [Parameter(name: "minptime", value: "10"), Parameter(name: "useinbandfec", value: "1")]),
        Negotiation.redundantOpus,
        PayloadType(id: 101, name: "telephone-event", clockrate: 48000, parameters: [Parameter(name: "", value: "0-15")]),
        PayloadType(id: 126, name: "telephone-event", clockrate: 8000, parameters: [Parameter(name: "", value: "0-15")]),
    ])

    public init(
        policy: MediaPolicy = CallConfiguration.defaultPolicy, sessionTimeouts: JingleSessionTimeouts = .init(),
        proposalLifetime: Duration = .seconds(60), enableCarbons: Bool = true, sendPresence: Bool = true,
        mediaTransports: any MediaTransportProvider = SignallingOnlyTransportProvider(),
        maximumConcurrentCalls: Int = 1, metricsFactory: (any MetricsFactory)? = nil,
        endedCallRetention: Duration = .seconds(300)
    ) {
        self.policy = policy
        self.sessionTimeouts = sessionTimeouts
        self.proposalLifetime = proposalLifetime
        self.enableCarbons = enableCarbons
        self.sendPresence = sendPresence
        self.mediaTransports = mediaTransports
        self.maximumConcurrentCalls = maximumConcurrentCalls
        self.metricsFactory = metricsFactory
        self.endedCallRetention = endedCallRetention
    }
}
