/// What a datagram received on an ICE component carries, by its first byte (RFC 7983 §7,
/// updating RFC 5764 §5.1.2): STUN 0-3, ZRTP 16-19, DTLS 20-63, TURN channel data 64-79,
/// RTP/RTCP 128-191.
public enum DatagramKind: Equatable, Sendable {
    case stun
    case zrtp
    case dtls
    case turnChannel
    /// RTP or RTCP: RTCP when the second byte is a payload type 192-223 (RFC 5761 §4).
    case rtp
    case rtcp
    /// Empty or in an unassigned range: drop it.
    case unknown

    public init(classifying datagram: some Collection<UInt8>) {
        guard let first = datagram.first else { self = .unknown; return }
        switch first {
        case 0...3: self = .stun
        case 16...19: self = .zrtp
        case 20...63: self = .dtls
        case 64...79: self = .turnChannel
        case 128...191:
            let second = datagram.dropFirst().first ?? 0
            self = (192...223).contains(second) ? .rtcp : .rtp
        default: self = .unknown
        }
    }
}
