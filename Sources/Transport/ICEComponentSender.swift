/// The one ICE component (RFC 8445 §2) a `MediaSession` sends its datagrams on, RTP and RTCP
/// multiplexed (RFC 5761): the libnice `ICEAgent` in calls, a virtual-time network path in tests.
public protocol ICEComponentSender: AnyObject, Sendable {
    /// Sends one datagram on the selected candidate pair; throws while there is none.
    func send(_ datagram: [UInt8]) throws(ICEError)
}

extension ICEAgent: ICEComponentSender {}
