import Jingle
import JingleKit

/// The agent's exit status. One call's outcome maps to one code through `forCall`; `answer` and
/// `echo` exit with the code of the last call that did not end normally (0 when all did).
enum AgentExitCode: Int32, CaseIterable, Sendable, Codable {
    /// The call happened and ended normally (or, answering, we declined it on purpose).
    case success = 0
    /// An unexpected local error.
    case failure = 1
    /// The callee declined (`<decline/>`).
    case declined = 2
    /// The callee was busy (`<busy/>`).
    case busy = 3
    /// Nobody answered before the timeout.
    case noAnswer = 4
    /// The call was withdrawn before it was answered: the caller retracted or cancelled, another
    /// device of the account answered, a crossing call won, or a signal interrupted the agent.
    case cancelled = 5
    /// XMPP or Jingle failed: login, lost connection, an error reply, a failed negotiation.
    case signallingFailure = 6
    /// ICE or DTLS failed: no media path could be set up.
    case connectionFailure = 7
    /// The media path was up but no audio arrived (or the peer reported a media error).
    case mediaFailure = 8
    /// The call went on, but its `--record` file could not be created or written.
    case recordingFailure = 9
    /// Bad command line or configuration file.
    case usage = 64

    var meaning: String {
        switch self {
        case .success: "the call happened and ended normally (or was refused on purpose)"
        case .failure: "unexpected local error"
        case .declined: "the callee declined"
        case .busy: "the callee was busy"
        case .noAnswer: "no answer before --timeout"
        case .cancelled: "withdrawn before an answer (cancelled, answered elsewhere, signal)"
        case .signallingFailure: "signalling failed: login, XMPP connection, Jingle error or negotiation"
        case .connectionFailure: "connection failed: ICE or DTLS"
        case .mediaFailure: "media failed: no audio received, too much concealed (--max-concealment), or none for --media-timeout"
        case .recordingFailure: "the --record file could not be created or written"
        case .usage: "bad command line or configuration file"
        }
    }

    /// What one call's end means for the exit status.
    /// - Parameters:
    ///   - end: why the call ended.
    ///   - mediaExpected: whether the call carried media (false for signalling-only calls).
    ///   - mediaConnected: whether ICE and DTLS completed.
    ///   - audioReceived: whether any audio packet arrived (nil when not known).
    static func forCall(_ end: CallEndReason, mediaExpected: Bool, mediaConnected: Bool, audioReceived: Bool?) -> AgentExitCode {
        switch end {
        case .completed:
            guard mediaExpected else { return .success }
            if !mediaConnected { return .connectionFailure }
            if audioReceived == false { return .mediaFailure }
            return .success
        case .declined(let byPeer): return byPeer ? .declined : .success
        case .busy(let byPeer): return byPeer ? .busy : .success
        case .noAnswer: return .noAnswer
        case .cancelled, .answeredElsewhere, .lostTieBreak: return .cancelled
        case .failed(let reason, _):
            switch reason?.condition {
            case .failedTransport?, .connectivityError?, .securityError?: return .connectionFailure
            case .mediaError?: return .mediaFailure
            default: return .signallingFailure
            }
        }
    }

    /// The help text's table of codes.
    static var table: String {
        allCases.map { code in
            let n = String(code.rawValue)
            return String(repeating: " ", count: max(0, 3 - n.count)) + n + "  " + code.meaning
        }.joined(separator: "\n")
    }
}
