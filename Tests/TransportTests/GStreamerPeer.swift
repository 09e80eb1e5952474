import EngineTime
import Foundation
@testable import Transport

/// `Tools/peers/gst_peer.py`, the GStreamer 1.22 peer (webrtcbin, opusenc ! rtpopuspay,
/// rtpopusdepay ! opusdec), run with Debian's Python, where python3-gst-1.0 lives. It speaks
/// aiortc_peer.py's JSON-lines protocol, so an `AiortcPeer` drives it.
enum GStreamerPeer {
    static let python = URL(fileURLWithPath: "/usr/bin/python3")
    static var program: URL { CallSupport.repositoryRoot.appendingPathComponent("Tools/peers/gst_peer.py") }

    /// Fails (never skips) when GStreamer's Python bindings or elements are missing, naming the fix.
    static func checkInstalled() throws {
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw AiortcPeer.Failure(description: "no \(python.path): run Tools/bootstrap (python3-gst-1.0 and GStreamer's plugins)")
        }
        let probe = """
            import gi
            for ns in ("Gst", "GstWebRTC", "GstSdp", "GstRtp", "GstApp"): gi.require_version(ns, "1.0")
            gi.require_version("Nice", "0.1")
            from gi.repository import Gst, GstWebRTC, Nice
            Gst.init(None)
            missing = [e for e in ("webrtcbin", "nicesrc", "dtlssrtpenc", "srtpenc", "opusenc", "rtpopuspay",
                                   "rtpopusdepay", "opusdec", "wavparse", "appsrc", "appsink")
                       if Gst.ElementFactory.find(e) is None]
            if missing: raise SystemExit("missing GStreamer elements: " + ", ".join(missing))
            """
        do {
            try CallSupport.run(python.path, ["-c", probe])
        } catch {
            throw AiortcPeer.Failure(
                description: "GStreamer's WebRTC stack is not usable from \(python.path) (\(error)): run Tools/bootstrap")
        }
        // Tools/pesq scores the recordings from the venv.
        guard FileManager.default.isExecutableFile(atPath: AiortcPeer.python.path) else {
            throw AiortcPeer.Failure(description: "no Python venv at \(AiortcPeer.python.path) for Tools/pesq: run Tools/bootstrap")
        }
    }

    /// Starts gst_peer.py; it plays `play` once DTLS-SRTP is up and records what it receives to `record`.
    static func start(role: AiortcPeer.Role, play: URL, record: URL, in dir: URL, duration: Int = 60) throws -> AiortcPeer {
        try checkInstalled()
        return try AiortcPeer(
            executable: python,
            arguments: [
                program.path, "--role", role.rawValue, "--play", play.path,
                "--record", record.path, "--duration", String(duration),
            ],
            log: dir.appendingPathComponent("gst-\(role.rawValue).log"))
    }
}

extension MediaSessionStatistics {
    /// Concealed frames as a share of all frames played (decoded, recovered by FEC or concealed).
    var concealedShare: Double {
        let total = decodedFrames + concealedFrames + fecRecoveredFrames
        return total == 0 ? 1 : Double(concealedFrames) / Double(total)
    }
}
