#!/usr/bin/python3
"""An independent WebRTC audio peer made of GStreamer 1.22 elements, for JingleKit's interop tests.

It is the media stack Dino, Gajim and other GStreamer-based XMPP clients use: `webrtcbin` (libnice
ICE, DTLS-SRTP through OpenSSL and libsrtp2, rtpbin with rtpjitterbuffer), `opusenc ! rtpopuspay`
sending and `rtpopusdepay ! opusdec` receiving. rtpopuspay's first RTP timestamp step is 648
samples (960 minus opusenc's 312-sample look-ahead), then 960: a receiver must follow timestamps.
This program keeps that behaviour; it is the point of the test. Run it with Debian's Python
(/usr/bin/python3, where python3-gst-1.0 lives), not the venv.

It speaks the JSON-lines protocol of peer_control.py (as aiortc_peer.py does); its "stopped"
message adds "bytesReceived": n and "firstTimestampSteps": [648, 960, ...].

The SDP it sends is complete: it waits for ICE gathering to finish and puts every candidate in
the description, so nothing trickles afterwards.

Only 127.0.0.1 is used. libnice leaves loopback out of the host candidates it gathers on its own,
but gathers exactly the addresses it is given: webrtcbin's ICE object (GstWebRTCNice) exposes its
NiceAgent as the `agent` property, and this program hands it 127.0.0.1 with
nice_agent_add_local_address before gathering. No STUN or TURN server is set, UPnP and ICE-TCP
are off, so nothing is sent anywhere but loopback.

The speech is sent in real time from a second pipeline (filesrc ! wavparse ! audioconvert !
audioresample ! opusenc ! rtpopuspay ! appsink sync=true), started when DTLS-SRTP is up so the
whole file reaches the far side; its RTP packets enter webrtcbin through an appsrc. What arrives
is depayloaded, decoded (opusdec with packet-loss concealment) and written to a 48 kHz mono s16
WAV file.

GStreamer 1.22's DTLS (gst-plugins-bad ext/dtls) signs with an RSA certificate of its own and
offers SRTP_AES128_CM_SHA1_80 and _32 only, so calls with it settle on AES_CM_128_HMAC_SHA1_80.
It cannot call aiortc: aiortc allows only ECDHE-ECDSA cipher suites, and the handshake fails
with "no shared cipher" (replacing webrtcbin's certificate through the DTLS transport's
`certificate` property does not help: the new connection then refuses every peer certificate).
Two of these peers call each other (offerer and answerer, PESQ about 4.07 each way).

Usage: gst_peer.py --role answerer|offerer --play SPEECH.wav --record OUT.wav [--duration S]
"""

import argparse
import json
import re
import sys
import threading
import wave

import gi

from peer_control import argument_parser, emit

gi.require_version("Gst", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstRtp", "1.0")
gi.require_version("GstApp", "1.0")
gi.require_version("Nice", "0.1")
from gi.repository import GLib, Gst, GstApp, GstRtp, GstSdp, GstWebRTC, Nice  # noqa: E402,F401

OPUS_CAPS = "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,encoding-params=(string)2,payload={pt}"

# srtpenc's cipher/auth enums (gst-plugins-bad ext/srtp) as OpenSSL names the DTLS-SRTP profile.
SRTP_PROFILES = {
    ("aes-128-icm", "hmac-sha1-80"): "SRTP_AES128_CM_SHA1_80",
    ("aes-128-icm", "hmac-sha1-32"): "SRTP_AES128_CM_SHA1_32",
    ("aes-128-gcm", "null"): "SRTP_AEAD_AES_128_GCM",
    ("aes-256-gcm", "null"): "SRTP_AEAD_AES_256_GCM",
}

def log(text: str) -> None:
    sys.stderr.write("gst_peer: " + text + "\n")
    sys.stderr.flush()


def opus_payload_type(sdp: str) -> int | None:
    m = re.search(r"^a=rtpmap:(\d+) opus/48000", sdp, re.MULTILINE | re.IGNORECASE)
    return int(m.group(1)) if m else None


class Peer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.loop = GLib.MainLoop()
        self.lock = threading.Lock()
        self.finished = False
        self.gathered = threading.Event()
        self.candidates: list[tuple[int, str]] = []
        self.promises: list = []
        self.connected_reported = False
        self.last_state = None
        # Counters.
        self.packets_sent = 0
        self.packets_received = 0
        self.bytes_received = 0
        self.first_seq = None
        self.highest_seq = None
        self.sent_timestamps: list[int] = []
        self.samples: list[bytes] = []
        self.recorded_samples = 0

        self.pipe = Gst.Pipeline.new("gst-peer")
        self.webrtc = Gst.ElementFactory.make("webrtcbin", "webrtc")
        self.webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        # No STUN or TURN server is set (webrtcbin's default is none).
        self.pipe.add(self.webrtc)

        # webrtcbin 1.22 hands its ICE object out floating: the Python wrapper must live as long
        # as webrtcbin, or dropping it would free the object webrtcbin still uses.
        self.ice = ice = self.webrtc.get_property("ice-agent")
        ice.set_property("ice-tcp", False)
        self.nice_agent = agent = ice.get_property("agent")
        agent.set_property("upnp", False)
        address = Nice.Address.new()
        address.set_from_string("127.0.0.1")
        if not agent.add_local_address(address):
            raise SystemExit("gst_peer: libnice refused 127.0.0.1 as a local address")

        self.webrtc.connect("on-ice-candidate", self.on_ice_candidate)
        self.webrtc.connect("notify::ice-gathering-state", self.on_gathering_state)
        self.webrtc.connect("notify::connection-state", self.on_connection_state)
        self.webrtc.connect("notify::ice-connection-state", self.on_ice_state)
        self.webrtc.connect("pad-added", self.on_pad_added)

        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)
        self.sender_pipe = None

    # MARK: sending

    def add_sending_branch(self, pt: int) -> None:
        """An appsrc carrying rtpopuspay's packets into webrtcbin (a sendrecv transceiver)."""
        self.appsrc = Gst.ElementFactory.make("appsrc", "rtp-in")
        self.appsrc.set_property("caps", Gst.Caps.from_string(OPUS_CAPS.format(pt=pt)))
        self.appsrc.set_property("is-live", True)
        self.appsrc.set_property("format", Gst.Format.TIME)
        self.appsrc.set_property("do-timestamp", True)
        self.pipe.add(self.appsrc)
        sink = self.webrtc.request_pad_simple("sink_%u")
        if self.appsrc.get_static_pad("src").link(sink) != Gst.PadLinkReturn.OK:
            raise SystemExit("gst_peer: cannot link the RTP source to webrtcbin")
        for t in self.transceivers():
            t.set_property("direction", GstWebRTC.WebRTCRTPTransceiverDirection.SENDRECV)
            t.set_property("codec-preferences", Gst.Caps.from_string(OPUS_CAPS.format(pt=pt)))
        self.appsrc.sync_state_with_parent()
        self.pt = pt

    def start_sending(self) -> None:
        """Plays the WAV file in real time through opusenc ! rtpopuspay into webrtcbin."""
        if self.sender_pipe is not None:
            return
        desc = (f'filesrc location="{self.args.play}" ! wavparse ! audioconvert ! audioresample ! '
                "audio/x-raw,format=S16LE,rate=48000,channels=1 ! opusenc ! "
                f"rtpopuspay pt={self.pt} ! appsink name=out sync=true emit-signals=true")
        self.sender_pipe = Gst.parse_launch(desc)
        out = self.sender_pipe.get_by_name("out")
        out.connect("new-sample", self.on_rtp_out)
        self.sender_pipe.set_state(Gst.State.PLAYING)

    def on_rtp_out(self, sink) -> Gst.FlowReturn:
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        buf = sample.get_buffer()
        ok, rtp = GstRtp.RTPBuffer.map(buf, Gst.MapFlags.READ)
        if ok:
            if len(self.sent_timestamps) < 8:
                self.sent_timestamps.append(rtp.get_timestamp())
            rtp.unmap()
        out = Gst.Buffer.new_wrapped(buf.extract_dup(0, buf.get_size()))
        self.packets_sent += 1
        return self.appsrc.emit("push-buffer", out)

    # MARK: receiving

    def on_pad_added(self, _webrtc, pad) -> None:
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        desc = ("rtpopusdepay name=depay ! opusdec plc=true ! audioconvert ! audioresample ! "
                "audio/x-raw,format=S16LE,rate=48000,channels=1 ! appsink name=rec sync=false emit-signals=true")
        branch = Gst.parse_bin_from_description(desc, True)
        self.pipe.add(branch)
        branch.sync_state_with_parent()
        rec = branch.get_by_name("rec")
        rec.connect("new-sample", self.on_pcm)
        depay = branch.get_by_name("depay")
        depay.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self.on_rtp_in)
        if pad.link(branch.get_static_pad("sink")) != Gst.PadLinkReturn.OK:
            log("cannot link the received stream")

    def on_rtp_in(self, _pad, info) -> Gst.PadProbeReturn:
        buf = info.get_buffer()
        ok, rtp = GstRtp.RTPBuffer.map(buf, Gst.MapFlags.READ)
        if ok:
            seq = rtp.get_seq()
            rtp.unmap()
            with self.lock:
                self.packets_received += 1
                self.bytes_received += buf.get_size()
                if self.first_seq is None:
                    self.first_seq = self.highest_seq = seq
                else:
                    # Extend the 16-bit sequence number past wrap-around.
                    delta = (seq - (self.highest_seq & 0xFFFF)) & 0xFFFF
                    if delta < 0x8000:
                        self.highest_seq += delta
        return Gst.PadProbeReturn.OK

    def on_pcm(self, sink) -> Gst.FlowReturn:
        sample = sink.emit("pull-sample")
        if sample is None:
            return Gst.FlowReturn.EOS
        buf = sample.get_buffer()
        data = buf.extract_dup(0, buf.get_size())
        with self.lock:
            self.samples.append(data)
            self.recorded_samples += len(data) // 2
        return Gst.FlowReturn.OK

    # MARK: ICE, DTLS, signalling

    def transceivers(self) -> list:
        out = []
        i = 0
        while True:
            t = self.webrtc.emit("get-transceiver", i)
            if t is None:
                return out
            out.append(t)
            i += 1

    def on_ice_candidate(self, _webrtc, mline: int, candidate: str) -> None:
        with self.lock:
            self.candidates.append((mline, candidate))

    def on_gathering_state(self, webrtc, _spec) -> None:
        if webrtc.get_property("ice-gathering-state") == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            self.gathered.set()

    def on_ice_state(self, webrtc, _spec) -> None:
        log("ICE " + webrtc.get_property("ice-connection-state").value_nick)

    def on_connection_state(self, webrtc, _spec) -> None:
        state = webrtc.get_property("connection-state").value_nick
        if state == self.last_state:
            return
        self.last_state = state
        emit({"type": "state", "connection": state})
        if state == "connected" and not self.connected_reported:
            self.connected_reported = True
            GLib.idle_add(self.on_connected)
        elif state in ("failed", "closed"):
            GLib.idle_add(self.finish, "connection " + state)

    def on_connected(self) -> bool:
        emit({"type": "connected", **self.dtls_summary()})
        self.start_sending()
        return False

    def dtls_summary(self) -> dict:
        summary: dict = {}
        for t in self.transceivers():
            transport = t.get_property("sender").get_property("transport")
            if transport is not None:
                summary["dtlsRole"] = "client" if transport.get_property("client") else "server"
                break
        for element in iterate_recursive(self.webrtc):
            factory = element.get_factory()
            if factory is not None and factory.get_name() == "srtpenc":
                cipher = element.get_property("rtp-cipher").value_nick
                auth = element.get_property("rtp-auth").value_nick
                summary["srtpProfile"] = SRTP_PROFILES.get((cipher, auth), f"{cipher}/{auth}")
                break
        return summary

    def complete_sdp(self, description) -> str:
        """The local description with every gathered candidate (webrtcbin may already hold them)."""
        text = description.sdp.as_text()
        if "a=candidate:" in text:
            return text
        with self.lock:
            cands = list(self.candidates)
        sections = re.split(r"(?=^m=)", text, flags=re.MULTILINE)
        head, media = sections[0], sections[1:]
        for i in range(len(media)):
            lines = [c for (m, c) in cands if m == i]
            if not media[i].endswith("\r\n"):
                media[i] += "\r\n"
            media[i] += "".join("a=" + c + "\r\n" for c in lines)
        return head + "".join(media)

    def create(self, kind: str):
        promise = Gst.Promise.new()
        self.webrtc.emit("create-offer" if kind == "offer" else "create-answer", None, promise)
        promise.wait()
        # The description belongs to the promise's reply, and pygobject 3.42 frees what it points
        # to when the reply's wrapper goes: both are kept for the life of the program.
        reply = promise.get_reply()
        self.promises.append((promise, reply))
        description = reply.get_value(kind) if reply is not None else None
        if description is None:
            raise SystemExit(f"gst_peer: webrtcbin created no {kind}")
        return description

    def create_and_set_local(self, kind: str) -> str:
        """create-offer or create-answer, set-local-description, wait for gathering, the full SDP."""
        description = self.create(kind)
        promise = Gst.Promise.new()
        self.webrtc.emit("set-local-description", description, promise)
        promise.wait()
        if not self.gathered.wait(10):
            raise SystemExit("gst_peer: ICE gathering did not complete within 10 s")
        return self.complete_sdp(self.webrtc.get_property("local-description"))

    def set_remote(self, kind: str, sdp: str) -> None:
        ok, message = GstSdp.SDPMessage.new_from_text(sdp)
        if ok != GstSdp.SDPResult.OK:
            raise SystemExit(f"gst_peer: cannot parse the {kind} SDP")
        sdp_type = GstWebRTC.WebRTCSDPType.OFFER if kind == "offer" else GstWebRTC.WebRTCSDPType.ANSWER
        description = GstWebRTC.WebRTCSessionDescription.new(sdp_type, message)
        promise = Gst.Promise.new()
        self.webrtc.emit("set-remote-description", description, promise)
        promise.wait()
        reply = promise.get_reply()
        if reply is not None and reply.has_field("error"):
            raise SystemExit(f"gst_peer: set-remote-description failed: {reply.get_value('error')}")

    def signal(self, stdin) -> None:
        """The offer/answer exchange (on a thread of its own; webrtcbin's promises block)."""
        try:
            if self.args.role == "offerer":
                self.add_sending_branch(111)
                emit({"type": "offer", "sdp": self.create_and_set_local("offer")})
                answer = read_message(stdin, "answer")
                self.set_remote("answer", answer["sdp"])
            else:
                offer = read_message(stdin, "offer")
                pt = opus_payload_type(offer["sdp"])
                if pt is None:
                    raise SystemExit("gst_peer: the offer has no opus/48000")
                self.add_sending_branch(pt)
                self.set_remote("offer", offer["sdp"])
                emit({"type": "answer", "sdp": self.create_and_set_local("answer")})
            while True:
                message = read_message(stdin, None)
                if message is None:
                    GLib.idle_add(self.finish, "end of input")
                    return
                if message.get("type") == "stop":
                    GLib.idle_add(self.finish, "stop")
                    return
        except SystemExit as e:
            log(str(e))
            GLib.idle_add(self.finish, str(e))

    def on_error(self, _bus, message) -> None:
        err, debug = message.parse_error()
        log(f"error from {message.src.get_name()}: {err.message} ({debug})")
        self.finish("error: " + err.message)

    def finish(self, reason: str) -> bool:
        if self.finished:
            return False
        self.finished = True
        self.reason = reason
        self.loop.quit()
        return False

    def run(self) -> int:
        self.pipe.set_state(Gst.State.PLAYING)
        threading.Thread(target=self.signal, args=(sys.stdin,), daemon=True).start()
        GLib.timeout_add(int(self.args.duration * 1000), self.finish, "duration elapsed")
        self.loop.run()

        if self.sender_pipe is not None:
            self.sender_pipe.set_state(Gst.State.NULL)
        self.pipe.set_state(Gst.State.NULL)
        with self.lock:
            pcm = b"".join(self.samples)
            received = self.packets_received
            expected = 0 if self.first_seq is None else self.highest_seq - self.first_seq + 1
        with wave.open(self.args.record, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(48000)
            w.writeframes(pcm)
        steps = [(b - a) & 0xFFFFFFFF for a, b in zip(self.sent_timestamps, self.sent_timestamps[1:])]
        emit({"type": "stopped", "reason": self.reason, "packetsSent": self.packets_sent,
              "packetsReceived": received, "packetsLost": max(0, expected - received),
              "bytesReceived": self.bytes_received, "recordedFrames": len(pcm) // 2 // 960,
              "firstTimestampSteps": steps})
        return 0


def iterate_recursive(bin_):
    it = bin_.iterate_recurse()
    out = []
    while True:
        result, element = it.next()
        if result == Gst.IteratorResult.OK:
            out.append(element)
        elif result == Gst.IteratorResult.RESYNC:
            it.resync()
            out = []
        else:
            return out


def read_message(stream, kind: str | None) -> dict | None:
    """The next JSON line (blank lines skipped); with `kind`, it must be of that type."""
    while True:
        line = stream.readline()
        if not line:
            if kind is not None:
                raise SystemExit(f"gst_peer: expected a '{kind}' message, got end of input")
            return None
        line = line.strip()
        if not line:
            continue
        message = json.loads(line)
        if kind is not None and message.get("type") != kind:
            raise SystemExit(f"gst_peer: expected a '{kind}' message, got {message!r}")
        return message


def main() -> int:
    parser = argument_parser(__doc__, record_help="WAV file (48 kHz mono s16) for what the far side sends")
    args = parser.parse_args()
    Gst.init(None)
    return Peer(args).run()


if __name__ == "__main__":
    sys.exit(main())
