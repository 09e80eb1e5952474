import Foundation
import Jingle
import JingleJSON
import Media
import TLS
import Transport
import XMLStream
import XMPPCore

/// The signalling half of an interop call with aiortc: our side is described in Jingle
/// (XEP-0166/0167/0176/0320), serialised to XML and parsed back as it would travel, then mapped
/// to SDP with `SDPMapping`; aiortc's SDP comes back through the same mapping and XML round trip.
enum AiortcSignalling {
    static let sid = "aiortc-interop"
    static let ourJID = JID(localpart: "romeo", domainpart: "localhost", resourcepart: "jinglekit")
    static let theirJID = JID(localpart: "juliet", domainpart: "localhost", resourcepart: "aiortc")

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The Jingle IQ carrying `jingle` as XML text, parsed back: what a peer would receive.
    static func overTheWire(_ jingle: JingleElement) throws -> JingleElement {
        let xml = XMLSerializer.serialize(jingle.iq(id: "\(sid)-\(jingle.action.rawValue)", from: ourJID, to: theirJID).element)
        guard let parsed = try JingleDocument.decode(xml: xml).jingle else {
            throw Failure(description: "no <jingle/> in \(xml)")
        }
        return parsed
    }

    /// The SDP text of `party`'s side of `jingle`, after the XML round trip.
    static func sdp(of jingle: JingleElement, party: Creator) throws -> String {
        SDPMapping.sessionDescription(from: try overTheWire(jingle), party: party).description
    }

    /// aiortc's SDP mapped to the Jingle action it stands for, after the XML round trip, with the
    /// SDP lines the mapping could not carry.
    static func jingle(fromSDP text: String, action: JingleAction, party: Creator) throws -> (JingleElement, [UnmappedSDPLine]) {
        let (iq, unmapped) = try JingleDocument.fromSDP(text, action: action, sid: sid, party: party)
        let xml = XMLSerializer.serialize(iq.element)
        guard let parsed = try JingleDocument.decode(xml: xml).jingle else {
            throw Failure(description: "no <jingle/> in \(xml)")
        }
        return (parsed, unmapped)
    }

    /// An agent's candidate as XEP-0176 `<candidate/>`.
    static func jingleCandidate(_ c: ICECandidate, index: Int) -> Candidate {
        Candidate(
            component: UInt8(clamping: c.component), foundation: c.foundation, id: "jk\(index)", ip: c.address,
            port: c.port, priority: c.priority, protocol: "udp", relAddr: c.relatedAddress, relPort: c.relatedPort,
            type: CandidateType(rawValue: c.kind.rawValue) ?? .host)
    }

    /// A signalled UDP candidate for the agent; nil for other transports.
    static func iceCandidate(_ c: Candidate) -> ICECandidate? {
        guard c.protocol.lowercased() == "udp", let kind = ICECandidate.Kind(rawValue: c.type.rawValue) else { return nil }
        return ICECandidate(
            foundation: c.foundation, component: Int(c.component), transport: .udp, priority: c.priority,
            address: c.ip, port: c.port, kind: kind, relatedAddress: c.relAddr, relatedPort: c.relPort)
    }

    /// `content` with our gathered candidates in its ICE-UDP transport.
    static func adding(_ candidates: [Candidate], to content: Content) throws -> Content {
        guard case .iceUDP(var ice)? = content.transport else {
            throw Failure(description: "content \(content.name) has no ICE-UDP transport")
        }
        ice.candidates = candidates
        var c = content
        c.transport = .iceUDP(ice)
        return c
    }

    /// What we need from the far side's audio content to start ICE and DTLS-SRTP.
    struct RemoteAudio {
        var credentials: ICECredentials
        var candidates: [ICECandidate]
        var fingerprint: (hash: String, value: String)
        var setup: DTLSSetup
        /// The payload types offered or answered for Opus.
        var opusPayloadTypes: [UInt8]
        /// The payload types offered or answered for RFC 2198 redundancy (`red/48000/2`).
        var redPayloadTypes: [UInt8]

        init(_ content: Content) throws {
            guard let rtp = content.rtp, rtp.media == "audio" else {
                throw Failure(description: "content \(content.name) is not RTP audio")
            }
            guard case .iceUDP(let ice)? = content.transport, let ufrag = ice.ufrag, let pwd = ice.pwd else {
                throw Failure(description: "content \(content.name) has no ICE ufrag/pwd")
            }
            credentials = ICECredentials(usernameFragment: ufrag, password: pwd)
            candidates = ice.candidates.compactMap(AiortcSignalling.iceCandidate)
            // aiortc signals sha-256, sha-384 and sha-512 of one certificate; we check sha-256.
            guard let fp = ice.fingerprints.first(where: { $0.hash.lowercased() == "sha-256" }) else {
                throw Failure(description: "no sha-256 fingerprint in \(ice.fingerprints)")
            }
            guard let s = fp.setup else { throw Failure(description: "fingerprint without setup") }
            fingerprint = (fp.hash.lowercased(), fp.value)
            setup = s
            opusPayloadTypes = rtp.payloadTypes.filter { $0.name?.lowercased() == "opus" && $0.clockrate == 48_000 }.map(\.id)
            redPayloadTypes = rtp.payloadTypes.filter { $0.name?.lowercased() == "red" }.map(\.id)
        }
    }

    /// The SRTP profile named as OpenSSL (and so aiortc) names it (RFC 5764 §4.1.2, RFC 7714 §14.2).
    static func openSSLName(_ profile: SRTPProfile) -> String {
        switch profile {
        case .aeadAES128GCM: "SRTP_AEAD_AES_128_GCM"
        case .aes128CMHMACSHA1_80: "SRTP_AES128_CM_SHA1_80"
        }
    }
}
