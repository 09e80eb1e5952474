import FuzzSupport
import Jingle

/// Fuzzes the SDP parser (RFC 8866 §5) and the SDP -> Jingle mapping.
///
/// The input is SDP text (invalid UTF-8 is repaired). Asserted, from what the code promises:
/// - parsing throws only `SDPParseError` (no crash or sanitizer report);
/// - a parsed description is lossless as a model: `parse(description)` gives an equal value,
///   and writing it again gives identical text (the parser normalises field spacing in `o=`
///   and `m=`, so the first text need not equal the input);
/// - mapping it to a `session-initiate` throws only `SDPParseError`, and the SDP written back
///   from the mapped Jingle parses again.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSDP(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: fuzzInput(data, size), as: UTF8.self)
    guard let sdp = try? SessionDescription(parsing: text) else { return 0 }

    let written = sdp.description
    do {
        let again = try SessionDescription(parsing: written)
        fuzzCheck(again == sdp, "SDP changed in a round trip: \(difference(sdp, again))\n\(written)")
        fuzzCheck(again.description == written, "SDP text not stable:\n\(written)\n---\n\(again.description)")
    } catch {
        fuzzFailure("written SDP no longer parses: \(error)\n\(written)")
    }

    for party in [Creator.initiator, .responder] {
        guard let jingle = try? SDPMapping.jingle(from: sdp, action: .sessionInitiate, sid: "fuzz", party: party) else { continue }
        let back = SDPMapping.sessionDescription(from: jingle, party: party)
        do {
            _ = try SessionDescription(parsing: back.description)
        } catch {
            fuzzFailure("SDP written from mapped Jingle does not parse: \(error)\n\(back.description)")
        }
    }
    return 0
}

/// Names the first field in which two descriptions differ, with both values (debug-printed so
/// that invisible characters show).
private func difference(_ a: SessionDescription, _ b: SessionDescription) -> String {
    func show<T>(_ field: String, _ x: T, _ y: T) -> String {
        "\(field): \(String(reflecting: x)) became \(String(reflecting: y))"
    }
    if a.version != b.version { return show("version", a.version, b.version) }
    if a.origin != b.origin { return show("origin", a.origin, b.origin) }
    if a.sessionName != b.sessionName { return show("s=", a.sessionName, b.sessionName) }
    if a.lines != b.lines { return show("session lines", a.lines.map(\.description), b.lines.map(\.description)) }
    if a.media.count != b.media.count { return show("media count", a.media.count, b.media.count) }
    for (i, (m, n)) in zip(a.media, b.media).enumerated() where m != n {
        if m.lines != n.lines { return show("media \(i) lines", m.lines.map(\.description), n.lines.map(\.description)) }
        return show("media \(i) m= fields", [m.media, String(m.port), String(describing: m.numberOfPorts), m.proto] + m.formats,
                    [n.media, String(n.port), String(describing: n.numberOfPorts), n.proto] + n.formats)
    }
    return "no field differs"
}
