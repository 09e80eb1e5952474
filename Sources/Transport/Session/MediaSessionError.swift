import TLS

/// Why a media session (RFC 5764 DTLS-SRTP over one ICE component) failed or refused an operation.
public enum MediaSessionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The peer's certificate does not match the signalled fingerprint (RFC 5763 §5): a security failure.
    case fingerprintMismatch(expected: String, actual: String)
    /// The DTLS handshake failed for another reason (alert, timeout, no common SRTP profile).
    case handshakeFailed(String)
    /// DTLS negotiated an SRTP profile this library cannot use.
    case unsupportedSRTPProfile(UInt16)
    /// SRTP setup failed.
    case srtp(SRTPError)
    /// ICE failed or the agent was closed.
    case transportFailed(String)
    /// A PCM frame of the wrong size was handed to `send`.
    case invalidFrame(samples: Int, expected: Int)
    /// `sendDTMF` was given a character that is not a DTMF digit (0-9, *, #, A-D).
    case invalidDTMFDigit(Character)
    /// `sendDTMF` was called but no telephone-event payload type was negotiated.
    case telephoneEventNotNegotiated
    /// Opus could not be set up or failed to encode.
    case codec(String)
    /// Media cannot flow yet (DTLS not done) or any more (closed or failed).
    case notEstablished
    case closed

    public var description: String {
        switch self {
        case .fingerprintMismatch(let e, let a): "security failure: DTLS fingerprint mismatch (expected \(e), got \(a))"
        case .handshakeFailed(let r): "DTLS handshake failed: \(r)"
        case .unsupportedSRTPProfile(let id): "unsupported SRTP profile 0x\(String(id, radix: 16))"
        case .srtp(let e): "SRTP setup failed: \(e)"
        case .transportFailed(let r): "transport failed: \(r)"
        case .invalidFrame(let n, let e): "PCM frame has \(n) samples, expected \(e)"
        case .invalidDTMFDigit(let c): "not a DTMF digit: \(String(reflecting: String(c))) (expected 0-9, *, #, A-D)"
        case .telephoneEventNotNegotiated: "no telephone-event payload type was negotiated"
        case .codec(let r): "Opus: \(r)"
        case .notEstablished: "media session not established"
        case .closed: "media session closed"
        }
    }

    init(_ error: DTLSError) {
        switch error {
        case .fingerprintMismatch(let e, let a): self = .fingerprintMismatch(expected: e, actual: a)
        default: self = .handshakeFailed(error.description)
        }
    }
}
