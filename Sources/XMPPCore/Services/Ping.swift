import XMLModel

/// XMPP ping (XEP-0199 §3-4): requests and the answer to a server's or peer's ping.
public enum Ping {
    /// A ping to `to` (nil: our server, XEP-0199 §4.2).
    public static func request(id: String, to: JID? = nil) -> IQ {
        IQ(type: .get, id: id, to: to, payload: XMLElement("ping", namespace: XMPPNamespace.ping))
    }

    /// Whether `iq` is a ping request.
    public static func isPing(_ iq: IQ) -> Bool {
        iq.type == .get && iq.payload?.name == "ping" && iq.payload?.namespace == XMPPNamespace.ping
    }

    /// The empty result answering a ping (XEP-0199 §3.2); nil when `iq` is not a ping.
    public static func answer(_ iq: IQ) -> IQ? {
        isPing(iq) ? iq.result() : nil
    }
}
