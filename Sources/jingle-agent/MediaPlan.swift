import Transport

/// The media settings of the agent's calls, resolved from flags and the configuration file.
/// `CallMediaSettings` of JingleKit is made from it when calls carry media.
struct MediaPlan: Sendable {
    var play: String?
    var loop = false
    var record: String?
    var tone: Double?
    var dtmf: String?
    var bitrate: Int?
    var fec = true
    var dtx = false
    /// Share of outgoing RTP packets dropped on purpose (testing only).
    var testDropOutgoingRTP: Double?
    var testLossBurst: Double?
    var relayOnly = false
    /// Ask the XMPP server for STUN/TURN services (XEP-0215) when none are given.
    var discoverServers = true
    var iceServers: [ICEServer] = []
    /// The `--ice-server` URLs as normalised text (for `--dry-run`; no credentials).
    var iceServerURLs: [String] = []
    var localAddresses: [String] = []
}

/// What `--dry-run` prints: the settings a run would use, without secrets.
struct ResolvedSettings: Codable, Sendable {
    var command: String
    var jid: String
    var server: String?
    var caFile: String?
    var iceServers: [String]
    var discoverServers: Bool
    var relayOnly: Bool
    var localAddresses: [String]
    var bitrate: Int?
    var fec: Bool
    var dtx: Bool
    var play: String?
    var record: String?
    var tone: Double?
    var dtmf: String?
    /// `answer`/`echo`: calls taken at once (`--max-concurrent`, or its default).
    var maxConcurrent: Int?
}
