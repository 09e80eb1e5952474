/// The static RTP payload types of RFC 3551 §6 (tables 4 and 5): encoding name, clock rate and
/// channel count. SDP may list them in `m=` without an `a=rtpmap` (RFC 8866 §6.6).
public enum StaticPayloadTypes {
    public struct Entry: Sendable, Hashable {
        public var name: String
        public var clockrate: UInt32
        public var channels: UInt8?
    }

    /// The RFC 3551 entry for `id`, nil for unassigned, reserved and dynamic ids.
    public static func entry(_ id: UInt8) -> Entry? { table[id] }

    static let table: [UInt8: Entry] = [
        0: Entry(name: "PCMU", clockrate: 8000), 3: Entry(name: "GSM", clockrate: 8000),
        4: Entry(name: "G723", clockrate: 8000), 5: Entry(name: "DVI4", clockrate: 8000),
        6: Entry(name: "DVI4", clockrate: 16000), 7: Entry(name: "LPC", clockrate: 8000),
        8: Entry(name: "PCMA", clockrate: 8000), 9: Entry(name: "G722", clockrate: 8000),
        10: Entry(name: "L16", clockrate: 44100, channels: 2), 11: Entry(name: "L16", clockrate: 44100),
        12: Entry(name: "QCELP", clockrate: 8000), 13: Entry(name: "CN", clockrate: 8000),
        14: Entry(name: "MPA", clockrate: 90000), 15: Entry(name: "G728", clockrate: 8000),
        16: Entry(name: "DVI4", clockrate: 11025), 17: Entry(name: "DVI4", clockrate: 22050),
        18: Entry(name: "G729", clockrate: 8000), 25: Entry(name: "CelB", clockrate: 90000),
        26: Entry(name: "JPEG", clockrate: 90000), 28: Entry(name: "nv", clockrate: 90000),
        31: Entry(name: "H261", clockrate: 90000), 32: Entry(name: "MPV", clockrate: 90000),
        33: Entry(name: "MP2T", clockrate: 90000), 34: Entry(name: "H263", clockrate: 90000),
    ]
}
