/// The XML namespaces of XEP-0166 and the Jingle extensions this target models.
public enum JingleNamespace {
    /// XEP-0166 §7.
    public static let jingle = "urn:xmpp:jingle:1"
    /// XEP-0166 §10: Jingle error conditions.
    public static let errors = "urn:xmpp:jingle:errors:1"
    /// XEP-0167 §4: RTP application description.
    public static let rtp = "urn:xmpp:jingle:apps:rtp:1"
    /// XEP-0167 §7: RTP session-info payloads.
    public static let rtpInfo = "urn:xmpp:jingle:apps:rtp:info:1"
    /// XEP-0167 §11: RTP error conditions (crypto).
    public static let rtpErrors = "urn:xmpp:jingle:apps:rtp:errors:1"
    /// XEP-0176: ICE-UDP transport.
    public static let iceUDP = "urn:xmpp:jingle:transports:ice-udp:1"
    /// XEP-0177: raw UDP transport.
    public static let rawUDP = "urn:xmpp:jingle:transports:raw-udp:1"
    /// XEP-0320: DTLS fingerprint.
    public static let dtls = "urn:xmpp:jingle:apps:dtls:0"
    /// XEP-0293: RTCP feedback.
    public static let rtcpFB = "urn:xmpp:jingle:apps:rtp:rtcp-fb:0"
    /// XEP-0294: RTP header extensions.
    public static let rtpHdrExt = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0"
    /// XEP-0338: content grouping.
    public static let grouping = "urn:xmpp:jingle:apps:grouping:0"
    /// XEP-0339: source-specific media attributes.
    public static let ssma = "urn:xmpp:jingle:apps:rtp:ssma:0"
    /// XEP-0353: Jingle Message Initiation.
    public static let jingleMessage = "urn:xmpp:jingle-message:0"
}
