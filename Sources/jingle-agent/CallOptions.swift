import ArgumentParser
import JingleKit

/// Options every calling subcommand (`call`, `answer`, `echo`) shares.
struct CallOptions: ParsableArguments {
    @Option(
        name: .customLong("hangup-after"),
        help: ArgumentHelp("Hang up this many seconds after the call is answered.", valueName: "seconds"))
    var hangupAfter: Double?

    @Option(name: .long, help: ArgumentHelp("Longest a call may last once answered; then hang up.", valueName: "seconds"))
    var duration: Double?

    @Option(
        name: .customLong("media-timeout"),
        help: ArgumentHelp("Hang up with <media-error/> (exit 8) when no audio packet arrived for this long.", valueName: "seconds"))
    var mediaTimeout: Double?

    @Option(
        name: .customLong("max-concealment"),
        help: ArgumentHelp(
            "A call whose received audio was more than this share concealed (lost or unplayable) exits 8.",
            valueName: "percent"))
    var maxConcealment: Double = MediaQualityGuard.defaultMaximumConcealment * 100

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Report printed on stdout at the end of each call: text, json (one line per call) or none.",
            valueName: "format"))
    var report: ReportFormat = .text

    @Flag(name: .long, help: "No progress lines or status line (the report and errors are still printed).")
    var quiet = false

    @Flag(name: .long, help: "Log the protocol steps to stderr.")
    var verbose = false

    @Flag(name: .customLong("dry-run"), help: "Print the resolved settings as JSON and exit without connecting.")
    var dryRun = false

    @Flag(name: .customLong("signalling-only"), help: ArgumentHelp("Signalling without media (testing).", visibility: .hidden))
    var signallingOnly = false

    func validate() throws {
        if let hangupAfter, !(hangupAfter >= 0 && hangupAfter <= 86400 * 7) {
            throw ValidationError("--hangup-after must be between 0 and 604800 seconds")
        }
        if let mediaTimeout, !(mediaTimeout >= 0.5 && mediaTimeout <= 3600) {
            throw ValidationError("--media-timeout must be between 0.5 and 3600 seconds")
        }
        if !(0...100).contains(maxConcealment) {
            throw ValidationError("--max-concealment must be a percentage from 0 to 100")
        }
        if let duration, !(duration > 0 && duration <= 86400 * 7) {
            throw ValidationError("--duration must be between 0 and 604800 seconds")
        }
    }
}

/// Media options: what to send and record, codec settings, and how ICE finds a path.
struct MediaOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Send this audio file: WAV (PCM, float, mu-law, A-law), FLAC or Ogg Opus, recognised by content (Ogg Opus with 20 ms packets is sent without re-encoding).",
            valueName: "file"))
    var play: String?

    @Flag(name: .long, help: "Play the --play file in a loop.")
    var loop = false

    @Option(name: .long, help: ArgumentHelp("Record the received audio to this WAV file.", valueName: "file"))
    var record: String?

    @Option(name: .long, help: ArgumentHelp("Send a sine tone of this frequency.", valueName: "hz"))
    var tone: Double?

    @Option(name: .long, help: ArgumentHelp("Send these DTMF digits (0-9 * # A-D) once the media is connected.", valueName: "digits"))
    var dtmf: String?

    @Option(name: .long, help: ArgumentHelp("Opus bitrate in bits per second (6000-510000).", valueName: "bps"))
    var bitrate: Int?

    @Flag(inversion: .prefixedNo, help: "Opus in-band forward error correction.")
    var fec: Bool?

    @Flag(name: .long, help: "Opus discontinuous transmission (send little during silence).")
    var dtx = false

    @Option(
        name: .customLong("test-drop-outgoing-rtp"),
        help: ArgumentHelp(
            "Drop this percentage of our outgoing RTP packets, seeded (testing the peer's loss handling).",
            valueName: "percent", visibility: .hidden))
    var testDropOutgoingRTP: Double?

    @Option(
        name: .customLong("test-loss-burst"),
        help: ArgumentHelp(
            "With --test-drop-outgoing-rtp, drop in bursts of this mean length in packets (Gilbert-Elliott).",
            valueName: "packets", visibility: .hidden))
    var testLossBurst: Double?

    @Flag(name: .customLong("relay-only"), help: "Use only relayed (TURN) candidates.")
    var relayOnly = false

    @Option(
        name: .customLong("ice-server"),
        help: ArgumentHelp(
            "A STUN/TURN server, stun:IP[:PORT] or turn:IP[:PORT]?transport=udp|tcp or turns:IP[:PORT]; repeatable. Without it the XMPP server's XEP-0215 services are used.",
            valueName: "url"))
    var iceServers: [String] = []

    @Flag(
        inversion: .prefixedNo,
        help: "Ask the XMPP server for STUN/TURN services (XEP-0215); on by default unless --ice-server is given.")
    var discoverServers: Bool?

    @Option(name: .customLong("ice-username"), help: ArgumentHelp("TURN username for --ice-server.", valueName: "name"))
    var iceUsername: String?

    @Option(name: .customLong("ice-password-file"), help: ArgumentHelp("File whose first line is the TURN password.", valueName: "file"))
    var icePasswordFile: String?

    @Option(
        name: .customLong("local-address"), help: ArgumentHelp("Gather host candidates only on this address; repeatable.", valueName: "ip"))
    var localAddresses: [String] = []

    static let dtmfDigits = Set("0123456789*#ABCDabcd")

    func validate() throws {
        if play != nil && tone != nil { throw ValidationError("--play and --tone cannot be used together") }
        if loop && play == nil { throw ValidationError("--loop needs --play FILE") }
        if let record, !record.lowercased().hasSuffix(".wav") { throw ValidationError("--record '\(record)': expected a .wav file") }
        if let tone, !(tone >= 20 && tone <= 20000) { throw ValidationError("--tone must be between 20 and 20000 Hz") }
        if let dtmf {
            guard !dtmf.isEmpty, dtmf.allSatisfy({ Self.dtmfDigits.contains($0) }) else {
                throw ValidationError("--dtmf '\(dtmf)': digits must be 0-9, *, # or A-D")
            }
        }
        if let bitrate, !(6000...510_000).contains(bitrate) { throw ValidationError("--bitrate must be between 6000 and 510000") }
        for url in iceServers {
            do { _ = try ICEServerURL(parsing: url) } catch { throw ValidationError(error.description) }
        }
        for address in localAddresses where !IPAddressText.isIPv4(address) && !IPAddressText.isIPv6(address) {
            throw ValidationError("--local-address '\(address)' is not an IP address")
        }
    }

    /// The media settings from these flags over the `[media]` section of the configuration file.
    func plan(_ file: ConfigFile?) throws(AgentFailure) -> MediaPlan {
        var plan = MediaPlan()
        plan.play = play
        plan.loop = loop
        plan.record = record
        plan.tone = tone
        plan.dtmf = dtmf?.uppercased()
        plan.dtx = dtx
        plan.testDropOutgoingRTP = testDropOutgoingRTP.map { min(max($0, 0), 100) / 100 }
        if let testLossBurst {
            guard testLossBurst.isFinite, testLossBurst >= 1 else {
                throw AgentFailure(usage: "--test-loss-burst \(testLossBurst): a mean burst is at least 1 packet")
            }
            plan.testLossBurst = testLossBurst
        }
        plan.relayOnly = relayOnly
        plan.bitrate = bitrate
        plan.fec = fec ?? true
        plan.localAddresses = localAddresses
        var urls: [(ICEServerURL, String)] = []
        var username = iceUsername
        var password: String? = nil
        if let icePasswordFile {
            guard let p = readSecretFile(icePasswordFile) else {
                throw AgentFailure(usage: "cannot read a TURN password from '\(icePasswordFile)'")
            }
            password = p
        }
        for url in iceServers {
            do { urls.append((try ICEServerURL(parsing: url), "--ice-server")) } catch { throw AgentFailure(usage: error.description) }
        }
        if let file {
            func bad(_ e: ConfigFile.Entry, _ problem: String) -> AgentFailure {
                AgentFailure(usage: ConfigFileError(path: file.path, line: e.line, key: e.key, problem: problem).description)
            }
            if iceServers.isEmpty {
                for e in file.values("media", "ice-server") {
                    do { urls.append((try ICEServerURL(parsing: e.value), "\(file.path):\(e.line)")) } catch { throw bad(e, error.problem) }
                }
            }
            if username == nil { username = file.value("media", "ice-username")?.value }
            if password == nil, let e = file.value("media", "ice-password-file") {
                guard let p = readSecretFile(file.resolvePath(e.value)) else { throw bad(e, "cannot read a password from '\(e.value)'") }
                password = p
            }
            if localAddresses.isEmpty {
                for e in file.values("media", "local-address") {
                    guard IPAddressText.isIPv4(e.value) || IPAddressText.isIPv6(e.value) else {
                        throw bad(e, "'\(e.value)' is not an IP address")
                    }
                    plan.localAddresses.append(e.value)
                }
            }
            do throws(ConfigFileError) {
                if !relayOnly, let e = file.value("media", "relay-only") { plan.relayOnly = try file.bool(e) }
                if discoverServers == nil, let e = file.value("media", "discover-servers") { plan.discoverServers = try file.bool(e) }
                if bitrate == nil, let e = file.value("media", "bitrate") { plan.bitrate = try file.int(e, in: 6000...510_000) }
                if fec == nil, let e = file.value("media", "fec") { plan.fec = try file.bool(e) }
                if !dtx, let e = file.value("media", "dtx") { plan.dtx = try file.bool(e) }
            } catch {
                throw AgentFailure(usage: error.description)
            }
        }
        for (url, origin) in urls {
            do { plan.iceServers.append(try url.server(username: username, password: password)) } catch {
                throw AgentFailure(usage: "\(origin): \(error)")
            }
            plan.iceServerURLs.append(url.description)
        }
        // Servers given explicitly replace the XMPP server's XEP-0215 announcements unless asked for.
        if let discoverServers {
            plan.discoverServers = discoverServers
        } else if !plan.iceServers.isEmpty, file?.value("media", "discover-servers") == nil {
            plan.discoverServers = false
        }
        return plan
    }
}
