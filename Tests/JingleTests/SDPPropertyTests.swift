import Jingle
import Testing
import XMLStream
import XMPPCore

/// Random RTP sessions within what SDP can express (see `SDPMapping`'s notes: uniform ptime,
/// raw-udp ids of the `<mid>-rawN` form, sources with parameters) survive Jingle -> SDP text ->
/// Jingle unchanged, from either party's point of view.
@Suite struct SDPPropertyTests {
    struct Gen {
        var rng: SeededGenerator
        mutating func bool() -> Bool { Bool.random(using: &rng) }
        mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }
        mutating func pick<T>(_ a: [T]) -> T { a[int(0...(a.count - 1))] }
        mutating func token() -> String { pick(["a", "x1", "level", "0-15", "111/111", "profile-level-id"]) }
        mutating func parameter(valueOptional: Bool) -> Parameter {
            Parameter(
                name: pick(["apt", "minptime", "fec", "sprop"]), value: valueOptional && bool() ? nil : pick(["", "1", "96", "x-y"]))
        }
    }

    static func randomContent(_ g: inout Gen, name: ContentName) -> Content {
        var ids = ([0, 8, 18] + Array(96...127)).map { UInt8($0) }
        var pts: [PayloadType] = []
        let ptime = (g.bool() ? UInt32(g.pick([10, 20, 40])) : nil)
        let maxptime = (g.bool() ? UInt32(g.pick([60, 120])) : nil)
        for _ in 0..<g.int(1...4) {
            let id = ids.remove(at: g.int(0...(ids.count - 1)))
            var p = PayloadType(id: id, maxptime: maxptime, ptime: ptime)
            if id < 96 || g.bool() {
                p.name = g.pick(["opus", "PCMU", "VP8", "telephone-event", "rtx"])
                p.clockrate = (g.bool() ? UInt32(g.pick([8000, 48000, 90000])) : nil)
                p.channels = (g.bool() ? UInt8(g.pick([1, 2])) : nil)
            }
            p.parameters = (0..<g.int(0...2)).map { _ in g.parameter(valueOptional: false) }
            for _ in 0..<g.int(0...2) {
                let sub = (g.bool() ? g.pick(["pli", "fir", "tmmbr"]) : nil)
                p.feedback.append(
                    RTCPFeedback(
                        type: g.pick(["nack", "ccm", "goog-remb"]), subtype: sub,
                        parameters: sub == nil ? [] : (0..<g.int(0...2)).map { _ in g.parameter(valueOptional: true) }))
            }
            p.feedbackTRRInterval = (g.bool() ? RTCPFeedbackTRRInterval(value: UInt32(g.int(0...500))) : nil)
            pts.append(p)
        }
        var rtp = RTPDescription(media: g.pick(["audio", "video"]), payloadTypes: pts)
        rtp.ssrc = (g.bool() ? UInt32(g.int(1...4_000_000_000)) : nil)
        rtp.rtcpMux = g.bool()
        rtp.extmapAllowMixed = g.bool()
        rtp.bandwidths = g.bool() ? [Bandwidth(type: "AS", value: String(g.int(16...2000)))] : []
        rtp.feedback = g.bool() ? [RTCPFeedback(type: "nack")] : []
        rtp.feedbackTRRInterval = (g.bool() ? RTCPFeedbackTRRInterval(value: 0) : nil)
        for id in 1...UInt16(g.int(1...3)) {
            rtp.headerExtensions.append(
                HeaderExtension(
                    id: id, uri: "urn:ietf:params:rtp-hdrext:\(g.token())",
                    senders: (g.bool() ? g.pick(Senders.allCases) : nil),
                    parameters: g.bool() ? [g.parameter(valueOptional: true)] : []))
        }
        if g.bool() {
            let a = UInt32(g.int(1...1000)), b = UInt32(g.int(1001...2000))
            let msid = (g.bool() ? "stream\(g.int(0...3)) track\(g.int(0...3))" : nil)
            rtp.sources = [a, b].map { s in
                Source(
                    ssrc: s,
                    parameters: [Parameter(name: "cname", value: "c\(s)")] + (msid.map { [Parameter(name: "msid", value: $0)] } ?? []))
            }
            if g.bool() { rtp.sourceGroups = [SourceGroup(semantics: "FID", ssrcs: [a, b])] }
        }
        var transport: ContentTransport? = nil
        switch g.int(0...2) {
        case 0:
            var ice = ICEUDPTransport(ufrag: "u\(g.int(0...99))", pwd: (g.bool() ? "pwd\(g.int(100...999))xxxxxxxxxxxxxxxxxxx" : nil))
            for i in 0..<g.int(0...2) {
                ice.candidates.append(
                    Candidate(
                        component: UInt8(g.int(1...2)), foundation: String(g.int(1...9)), generation: UInt32(g.int(0...2)),
                        id: "\(name)-\(i)", ip: "192.0.2.\(g.int(1...254))", network: (g.bool() ? UInt32(g.int(0...3)) : nil),
                        port: UInt16(g.int(1024...65535)), priority: UInt32(g.int(1...2_000_000_000)),
                        relAddr: i == 1 ? "198.51.100.1" : nil, relPort: i == 1 ? 5000 : nil,
                        type: i == 1 ? .srflx : .host))
            }
            if g.bool() {
                ice.fingerprints = [
                    Fingerprint(hash: "sha-256", setup: (g.bool() ? g.pick([DTLSSetup.actpass, .active, .passive]) : nil), value: "AB:CD")
                ]
            }
            if g.bool() { ice.remoteCandidate = RemoteCandidate(component: 1, ip: "203.0.113.9", port: 7000) }
            transport = .iceUDP(ice)
            if ice.fingerprints.isEmpty, g.bool() { rtp.encryption = Encryption(required: true, crypto: []) }
        case 1:
            var raw = RawUDPTransport(candidates: [
                RawUDPCandidate(component: 1, id: "\(name)-raw1", ip: "192.0.2.7", port: UInt16(g.int(1024...9000)))
            ])
            if g.bool() {
                raw.candidates.append(
                    RawUDPCandidate(component: 2, id: "\(name)-raw2", ip: g.pick(["192.0.2.7", "2001:db8::7"]), port: 9001))
            }
            transport = .rawUDP(raw)
        default: break
        }
        if rtp.encryption == nil, g.bool() {
            let required: Bool? = transport?.iceUDP?.fingerprints.isEmpty == false ? nil : (g.bool() ? true : nil)
            rtp.encryption = Encryption(
                required: required,
                crypto: [
                    Crypto(
                        cryptoSuite: "AES_CM_128_HMAC_SHA1_80", keyParams: "inline:\(g.token())",
                        sessionParams: (g.bool() ? "KDR=1 UNENCRYPTED_SRTCP" : nil), tag: "1")
                ])
        }
        return Content(
            creator: .initiator, name: name, senders: (g.bool() ? g.pick(Senders.allCases) : nil), description: .rtp(rtp),
            transport: transport)
    }

    @Test(arguments: 0..<300)
    func randomSessionsSurviveSDP(seed: Int) throws {
        var g = Gen(rng: SeededGenerator(state: UInt64(seed) &* 7919 &+ 11))
        let names: [ContentName] = ["c0", "c1"].prefix(g.int(1...2)).map { $0 }
        let contents = names.map { Self.randomContent(&g, name: $0) }
        let groups = g.bool() ? [Group(semantics: "BUNDLE", contents: names)] : []
        let party: Creator = g.bool() ? .initiator : .responder
        let j = JingleElement(
            action: party == .initiator ? .sessionInitiate : .sessionAccept, sid: "s\(seed)",
            contents: contents, groups: groups)
        #expect(SDPMapping.notCarried(by: j).isEmpty, "seed \(seed)")
        let text = SDPMapping.sessionDescription(from: j, party: party).description
        let r = try SDPMapping.map(SessionDescription(parsing: text), action: j.action, sid: j.sid, party: party)
        #expect(r.jingle == j, "seed \(seed):\n\(text)")
        #expect(r.unmappedLines.isEmpty, "seed \(seed): \(r.unmappedLines)")
    }
}
