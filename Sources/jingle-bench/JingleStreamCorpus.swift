/// A server-to-client XMPP stream (RFC 6120 §4) filled with stanzas shaped like real Jingle call
/// traffic (XEP-0166 / XEP-0167 / XEP-0176 / XEP-0320): session-initiate with candidates and a
/// DTLS fingerprint, transport-info, session-accept, messages, presence and IQ results.
/// Identifiers, ports and addresses vary per stanza so nothing is byte-for-byte repeated.
enum JingleStreamCorpus {
    static let header =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        + "xmlns:stream='http://etherx.jabber.org/streams' id='bench-stream' from='example.test' "
        + "to='juliet@example.test' version='1.0' xml:lang='en'>"
    static let footer = "</stream:stream>"

    /// The stream's bytes and the number of stanzas in it, grown to at least `minimumBytes`.
    static func make(minimumBytes: Int) -> (bytes: [UInt8], stanzas: Int) {
        var bytes = Array(header.utf8)
        bytes.reserveCapacity(minimumBytes + 8192)
        var count = 0
        var index = 0
        while bytes.count < minimumBytes {
            for stanza in mix(index) {
                bytes += stanza.utf8
                bytes += "\n".utf8
                count += 1
            }
            index += 1
        }
        bytes += footer.utf8
        return (bytes, count)
    }

    /// One round of a call's signalling: what a client sees for one call set-up and some chatter.
    static func mix(_ n: Int) -> [String] {
        let sid = "s\(n)x7f3a9c"
        let caller = "romeo@example.test/orchard\(n % 7)"
        let callee = "juliet@example.test/balcony"
        return [
            sessionInitiate(n, sid: sid, from: caller, to: callee),
            "<iq from='\(callee)' to='\(caller)' id='ack-\(n)' type='result'/>",
            transportInfo(n, sid: sid, from: caller, to: callee),
            sessionAccept(n, sid: sid, from: callee, to: caller),
            "<message from='\(caller)' to='\(callee)' id='m\(n)' type='chat' xml:lang='en'>"
                + "<body>Call me back at 10 &amp; bring the notes &#x263A; (\(n))</body>"
                + "<active xmlns='http://jabber.org/protocol/chatstates'/>"
                + "<origin-id xmlns='urn:xmpp:sid:0' id='o-\(n)-9c2e'/></message>",
            "<presence from='\(caller)' to='\(callee)'><show>chat</show><status>On a call</status>"
                + "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://example.test/client' "
                + "ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>",
            "<iq from='example.test' to='\(callee)' id='ping-\(n)' type='result'/>",
        ]
    }

    static func candidate(_ n: Int, _ k: Int, type: String) -> String {
        let port = 40000 + (n * 7 + k * 13) % 20000
        let related = type == "host" ? "" : " rel-addr='10.0.\(k).\(n % 250 + 1)' rel-port='\(port - 1)'"
        return "<candidate component='1' foundation='\(k + 1)' generation='0' id='c\(n)k\(k)' "
            + "ip='192.0.2.\((n + k) % 250 + 1)' network='1' port='\(port)' priority='\(2130706431 - k * 65536)' "
            + "protocol='udp' type='\(type)'\(related)/>"
    }

    static func description(_ n: Int) -> String {
        "<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio' ssrc='\(2792481829 &+ n)'>"
            + "<payload-type id='111' name='opus' clockrate='48000' channels='2'>"
            + "<parameter name='minptime' value='10'/><parameter name='useinbandfec' value='1'/>"
            + "<rtcp-fb xmlns='urn:xmpp:jingle:apps:rtp:rtcp-fb:0' type='transport-cc'/></payload-type>"
            + "<payload-type id='9' name='G722' clockrate='8000'/>"
            + "<payload-type id='0' name='PCMU' clockrate='8000'/>"
            + "<payload-type id='101' name='telephone-event' clockrate='48000'/>"
            + "<rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1' "
            + "uri='urn:ietf:params:rtp-hdrext:ssrc-audio-level'/><rtcp-mux/></description>"
    }

    static func fingerprint(_ n: Int, setup: String) -> String {
        let hex = Array("0123456789ABCDEF")
        var pairs: [String] = []
        var value = UInt64(truncatingIfNeeded: n) &* 0x9E37_79B9_7F4A_7C15 | 1
        for _ in 0..<32 {
            value = value &* 6364136223846793005 &+ 1442695040888963407
            let byte = Int(value >> 56)
            pairs.append(String([hex[byte >> 4], hex[byte & 15]]))
        }
        return "<fingerprint xmlns='urn:xmpp:jingle:apps:dtls:0' hash='sha-256' setup='\(setup)'>"
            + pairs.joined(separator: ":") + "</fingerprint>"
    }

    static func sessionInitiate(_ n: Int, sid: String, from: String, to: String) -> String {
        "<iq from='\(from)' to='\(to)' id='ji-\(n)' type='set'>"
            + "<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' initiator='\(from)' sid='\(sid)'>"
            + "<content creator='initiator' name='voice' senders='both'>" + description(n)
            + "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' pwd='asd88fgpdd777uzjYhag\(n % 100)' ufrag='u\(n % 1000)'>"
            + fingerprint(n, setup: "actpass")
            + candidate(n, 0, type: "host") + candidate(n, 1, type: "srflx") + candidate(n, 2, type: "relay")
            + "</transport></content>"
            + "<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'><content name='voice'/></group>"
            + "</jingle></iq>"
    }

    static func transportInfo(_ n: Int, sid: String, from: String, to: String) -> String {
        "<iq from='\(from)' to='\(to)' id='ti-\(n)' type='set'>"
            + "<jingle xmlns='urn:xmpp:jingle:1' action='transport-info' initiator='\(from)' sid='\(sid)'>"
            + "<content creator='initiator' name='voice'>"
            + "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' pwd='asd88fgpdd777uzjYhag\(n % 100)' ufrag='u\(n % 1000)'>"
            + candidate(n, 3, type: "srflx") + "</transport></content></jingle></iq>"
    }

    static func sessionAccept(_ n: Int, sid: String, from: String, to: String) -> String {
        "<iq from='\(from)' to='\(to)' id='ja-\(n)' type='set'>"
            + "<jingle xmlns='urn:xmpp:jingle:1' action='session-accept' responder='\(from)' sid='\(sid)'>"
            + "<content creator='initiator' name='voice' senders='both'>" + description(n + 1)
            + "<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1' pwd='k2j3h4g5f6d7s8a9q0w1e2\(n % 100)' ufrag='r\(n % 1000)'>"
            + fingerprint(n + 7, setup: "active")
            + candidate(n, 4, type: "host") + candidate(n, 5, type: "srflx")
            + "</transport></content></jingle></iq>"
    }
}
