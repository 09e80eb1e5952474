#!/usr/bin/env python3
"""A Conversations-like Jingle test peer: libwebrtc (headless Chromium) behind an XMPP bridge.

Conversations is libwebrtc plus its own Jingle <-> SDP mapping, JMI (XEP-0353) to the bare JID
and trickled transport-info. This program does the same with headless Chromium in place of the
Android app: it logs into an XMPP server (slixmpp), and either answers one call (a JMI propose
gets <ringing/>, <accept/> to our own bare JID and <proceed/>; the session-initiate becomes an SDP
offer for Chromium; Chromium's answer goes back as session-accept) or places one (JMI propose
to the bare JID, then a session-initiate from Chromium's offer). Chromium's ICE candidates are
trickled one transport-info each; the peer's transport-info candidates go to addIceCandidate.
The Jingle <-> SDP mapping is in chromium/jingle_sdp.py, independent of JingleKit's.

Chromium runs headless (chromium/cdp.py, the DevTools protocol over a pipe) with a fake
microphone that plays --play once, starting when the media is up, and records the remote track
through WebAudio (48 kHz) into --record. libwebrtc gathers no loopback candidates by default:
--allow-loopback-in-peer-connection turns that on, so 127.0.0.1 works without a namespace.

Output: one JSON object per line on stdout: {"event": "ready"} once logged in, then
"proposed"/"proceeded"/"initiated"/"accepted"/"connected" and finally {"event": "ended", ...}
with the reason, Chromium's WebRTC statistics (ICE, DTLS, SRTP cipher, packets, concealment)
and the recording's length. Diagnostics go to stderr. Exit 0 when the call connected (ICE and
DTLS) and ended normally, 1 otherwise. Chromium reports no received DTMF to pages, so none is
reported here; --dtmf sends digits from Chromium (RTCDTMFSender) once the media is up.

Usage:
  chromium_peer.py --jid USER@DOMAIN/RES --password-file F --server HOST:PORT --ca-file CA.pem
                   --play SPEECH.wav --record OUT.wav [--bundle-policy balanced|max-bundle]
                   (--answer | --call BARE_JID [--hangup-after S]) [--timeout S] [--address IP]...
"""

import argparse
import asyncio
import base64
import json
import logging
import os
import random
import signal
import string
import sys
import time
import wave
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "chromium"))

from slixmpp import ClientXMPP  # noqa: E402
from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402
from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher import MatchXPath  # noqa: E402

from cdp import Chromium, log  # noqa: E402
from jingle_sdp import (NS_ICE, NS_JINGLE, NS_RTP, candidate_to_jingle, candidate_to_sdp,  # noqa: E402
                        jingle_to_sdp, q, sdp_to_jingle, parse_sdp)

NS_JMI = "urn:xmpp:jingle-message:0"
NS_HINTS = "urn:xmpp:hints"
PAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chromium", "page.html")


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def new_id(n: int = 16) -> str:
    return "".join(random.choice(string.ascii_letters + string.digits) for _ in range(n))


class CallFailed(Exception):
    pass


class Bridge(ClientXMPP):
    def __init__(self, args):
        password = open(args.password_file).read().strip()
        super().__init__(args.jid, password)
        self.args = args
        self.ca_certs = args.ca_file
        self.inbox: asyncio.Queue = asyncio.Queue()
        self.started = asyncio.Event()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", lambda *_: self.inbox.put_nowait(("failed", "authentication failed")))
        self.register_handler(Callback("jingle", MatchXPath(f"{{jabber:client}}iq/{{{NS_JINGLE}}}jingle"), self.on_jingle))
        for child in ("propose", "retract", "accept", "reject", "proceed", "ringing", "finish"):
            self.register_handler(Callback(f"jmi-{child}", MatchXPath(f"{{jabber:client}}message/{{{NS_JMI}}}{child}"),
                                           self.on_jmi))

    async def on_start(self, _):
        self.send_presence()
        self.started.set()

    def on_jingle(self, iq):
        if iq["type"] != "set":
            return
        self.inbox.put_nowait(("jingle", iq))

    def on_jmi(self, message):
        for child in message.xml:
            if child.tag.startswith(f"{{{NS_JMI}}}"):
                self.inbox.put_nowait(("jmi", (str(message["from"]), child)))

    def send_jmi(self, to: str, name: str, sid: str, description: bool = False) -> None:
        message = self.make_message(mto=to, mtype="chat")
        message["id"] = new_id()
        element = ET.SubElement(message.xml, q(NS_JMI, name), {"id": sid})
        if description:
            ET.SubElement(element, q(NS_RTP, "description"), {"media": "audio"})
        ET.SubElement(message.xml, q(NS_HINTS, "store"))
        message.send()

    async def send_jingle(self, to: str, jingle: ET.Element) -> None:
        iq = self.make_iq_set(ito=to)
        iq.xml.append(jingle)
        try:
            await iq.send(timeout=10)
        except IqError as e:
            raise CallFailed(f"{jingle.get('action')} refused: {ET.tostring(e.iq.xml, encoding='unicode')}")
        except IqTimeout:
            raise CallFailed(f"{jingle.get('action')}: no answer")


class Call:
    def __init__(self, args, xmpp: Bridge, chromium: Chromium):
        self.args, self.xmpp, self.chromium = args, xmpp, chromium
        self.sid = new_id()
        self.peer: str | None = None
        self.initiator: str | None = None
        self.we_initiate = args.call is not None
        self.local_candidates: asyncio.Queue = asyncio.Queue()
        self.signalled = asyncio.Event()   # our session-initiate/accept acknowledged: trickle may go
        self.connected = asyncio.Event()
        self.failed = asyncio.Event()
        self.local_credentials: dict[str, tuple[str, str]] = {}
        self.remote_ready = False
        self.pending_remote: list[dict] = []
        self.reason = None
        self.ended_by_peer = False
        self.timeline: list[tuple[float, str]] = []
        self.t0 = time.monotonic()
        self.candidates_sent = 0
        self.candidates_received = 0

    def mark(self, what: str) -> None:
        self.timeline.append((round((time.monotonic() - self.t0) * 1000, 1), what))

    # -- Chromium events
    def on_page_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "candidate":
            self.local_candidates.put_nowait(event)
        elif kind == "connectionState":
            self.mark(f"connection {event['state']}")
            if event["state"] == "connected":
                self.connected.set()
            elif event["state"] in ("failed", "closed"):
                self.failed.set()
        elif kind == "iceState":
            self.mark(f"ice {event['state']}")
        elif kind in ("track", "log"):
            log("page:", json.dumps(event))

    async def trickle(self) -> None:
        """Sends each of Chromium's candidates as its own transport-info, once allowed."""
        await self.signalled.wait()
        while True:
            event = await self.local_candidates.get()
            element = candidate_to_jingle(event["candidate"])
            if element is None:
                continue
            if self.args.address and element.get("ip") not in self.args.address:
                continue
            mid = event.get("sdpMid") or "0"
            ufrag, pwd = self.local_credentials.get(mid, next(iter(self.local_credentials.values())))
            jingle = ET.Element(q(NS_JINGLE, "jingle"), {"action": "transport-info", "sid": self.sid,
                                                         "initiator": self.initiator})
            content = ET.SubElement(jingle, q(NS_JINGLE, "content"), {"creator": "initiator", "name": mid})
            transport = ET.SubElement(content, q(NS_ICE, "transport"), {"ufrag": ufrag, "pwd": pwd})
            transport.append(element)
            self.candidates_sent += 1
            try:
                await self.xmpp.send_jingle(self.peer, jingle)
            except CallFailed as e:
                log("transport-info:", e)

    def remember_local(self, sdp: str) -> None:
        session, media = parse_sdp(sdp)
        s = dict(session)
        for m in media:
            self.local_credentials[m.value("mid", "0")] = (m.value("ice-ufrag", s.get("ice-ufrag")), m.value("ice-pwd", s.get("ice-pwd")))

    async def add_remote_candidates(self, jingle: ET.Element) -> None:
        for content in jingle.findall(q(NS_JINGLE, "content")):
            transport = content.find(q(NS_ICE, "transport"))
            if transport is None:
                continue
            for c in transport.findall(q(NS_ICE, "candidate")):
                candidate = {"candidate": candidate_to_sdp(c), "sdpMid": content.get("name"),
                             "usernameFragment": transport.get("ufrag")}
                self.candidates_received += 1
                if self.remote_ready:
                    await self.add_candidate(candidate)
                else:
                    self.pending_remote.append(candidate)

    async def add_candidate(self, candidate: dict) -> None:
        try:
            await self.chromium.evaluate(f"peer.addCandidate({json.dumps(candidate)})")
        except Exception as e:  # a candidate for a content Chromium bundled away, for one
            log("addIceCandidate:", e, json.dumps(candidate))

    async def remote_description_set(self) -> None:
        self.remote_ready = True
        for candidate in self.pending_remote:
            await self.add_candidate(candidate)
        self.pending_remote.clear()

    # -- incoming stanzas
    async def next_stanza(self, deadline: float):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CallFailed("timed out")
        try:
            return await asyncio.wait_for(self.xmpp.inbox.get(), remaining)
        except asyncio.TimeoutError:
            raise CallFailed("timed out")

    async def handle_jingle(self, iq) -> ET.Element | None:
        """Acknowledges a Jingle IQ of this session and returns it (None for another session)."""
        jingle = iq.xml.find(q(NS_JINGLE, "jingle"))
        if jingle.get("sid") != self.sid or (self.peer and str(iq["from"]) != self.peer):
            reply = iq.reply()
            reply["type"] = "error"
            err = ET.SubElement(reply.xml, "{jabber:client}error", {"type": "cancel"})
            ET.SubElement(err, "{urn:ietf:params:xml:ns:xmpp-stanzas}item-not-found")
            ET.SubElement(err, "{urn:xmpp:jingle:errors:1}unknown-session")
            reply.send()
            return None
        iq.reply().send()
        action = jingle.get("action")
        self.mark(f"received {action}")
        if action == "transport-info":
            await self.add_remote_candidates(jingle)
            return None
        if action == "session-terminate":
            reason = jingle.find(f"{q(NS_JINGLE, 'reason')}")
            self.reason = reason[0].tag.split("}")[1] if reason is not None and len(reason) else "none"
            self.ended_by_peer = True
        return jingle

    # -- the two directions
    async def answer(self, deadline: float) -> None:
        while True:
            kind, payload = await self.next_stanza(deadline)
            if kind == "failed":
                raise CallFailed(payload)
            if kind == "jmi":
                sender, element = payload
                if element.tag == q(NS_JMI, "propose"):
                    self.sid, self.peer, self.initiator = element.get("id"), sender, sender
                    emit("proposed", sid=self.sid, peer=sender)
                    self.mark("received propose")
                    self.xmpp.send_jmi(sender, "ringing", self.sid)
                    self.xmpp.send_jmi(self.xmpp.boundjid.bare, "accept", self.sid)
                    self.xmpp.send_jmi(sender, "proceed", self.sid)
                    self.mark("sent proceed")
                elif element.tag == q(NS_JMI, "retract") and element.get("id") == self.sid:
                    raise CallFailed("retracted")
                continue
            if kind == "jingle":
                jingle_iq = payload
                jingle = jingle_iq.xml.find(q(NS_JINGLE, "jingle"))
                if self.peer is None and jingle.get("action") == "session-initiate":  # direct, without JMI
                    self.sid, self.peer = jingle.get("sid"), str(jingle_iq["from"])
                jingle = await self.handle_jingle(jingle_iq)
                if jingle is None:
                    continue
                if jingle.get("action") == "session-terminate":
                    raise CallFailed(f"terminated before answer: {self.reason}")
                if jingle.get("action") != "session-initiate":
                    continue
                self.initiator = jingle.get("initiator") or self.peer
                offer = jingle_to_sdp(jingle, "initiator")
                log("offer from Jingle:\n" + offer)
                try:
                    answer = await self.chromium.evaluate(f"peer.answerOffer({json.dumps(offer)})")
                except Exception as e:
                    await self.terminate("failed-application", str(e))
                    raise CallFailed(f"Chromium refused the offer: {e}")
                log("Chromium's answer:\n" + answer)
                self.remember_local(answer)
                await self.remote_description_set()
                await self.add_remote_candidates(jingle)
                accept = ET.Element(q(NS_JINGLE, "jingle"), {"action": "session-accept", "sid": self.sid,
                                                             "initiator": self.initiator,
                                                             "responder": str(self.xmpp.boundjid)})
                for element in sdp_to_jingle(answer, creator="responder"):
                    accept.append(element)
                await self.xmpp.send_jingle(self.peer, accept)
                self.mark("sent session-accept")
                emit("accepted", sid=self.sid)
                self.signalled.set()
                return

    async def place(self, deadline: float) -> None:
        target = self.args.call
        self.initiator = str(self.xmpp.boundjid)
        self.xmpp.send_jmi(target, "propose", self.sid, description=True)
        self.mark("sent propose")
        emit("proposed", sid=self.sid, to=target)
        while self.peer is None:
            kind, payload = await self.next_stanza(deadline)
            if kind == "failed":
                raise CallFailed(payload)
            if kind == "jmi":
                sender, element = payload
                if element.get("id") != self.sid:
                    continue
                name = element.tag.split("}")[1]
                self.mark(f"received {name}")
                if name == "proceed":
                    self.peer = sender
                elif name == "reject":
                    raise CallFailed("rejected")
            elif kind == "jingle":
                await self.handle_jingle(payload)
        emit("proceeded", peer=self.peer)
        await self.chromium.evaluate("peer.addAudio()")
        offer = await self.chromium.evaluate("peer.createOffer()")
        log("Chromium's offer:\n" + offer)
        self.remember_local(offer)
        initiate = ET.Element(q(NS_JINGLE, "jingle"), {"action": "session-initiate", "sid": self.sid,
                                                       "initiator": self.initiator})
        for element in sdp_to_jingle(offer, creator="initiator"):
            if self.args.telephone_event_rate:
                keep_telephone_events_at(element, self.args.telephone_event_rate)
            initiate.append(element)
        await self.xmpp.send_jingle(self.peer, initiate)
        self.mark("sent session-initiate")
        emit("initiated", sid=self.sid)
        self.signalled.set()
        while True:
            kind, payload = await self.next_stanza(deadline)
            if kind != "jingle":
                continue
            jingle = await self.handle_jingle(payload)
            if jingle is None:
                continue
            if jingle.get("action") == "session-terminate":
                raise CallFailed(f"terminated before accept: {self.reason}")
            if jingle.get("action") == "session-accept":
                answer = jingle_to_sdp(jingle, "responder")
                log("answer from Jingle:\n" + answer)
                try:
                    await self.chromium.evaluate(f"peer.acceptAnswer({json.dumps(answer)})")
                except Exception as e:
                    await self.terminate("failed-application", str(e))
                    raise CallFailed(f"Chromium refused the answer: {e}")
                await self.remote_description_set()
                await self.add_remote_candidates(jingle)
                emit("accepted", sid=self.sid)
                return

    async def terminate(self, condition: str, text: str | None = None) -> None:
        jingle = ET.Element(q(NS_JINGLE, "jingle"), {"action": "session-terminate", "sid": self.sid,
                                                     "initiator": self.initiator or str(self.xmpp.boundjid)})
        reason = ET.SubElement(jingle, q(NS_JINGLE, "reason"))
        ET.SubElement(reason, q(NS_JINGLE, condition))
        if text:
            ET.SubElement(reason, q(NS_JINGLE, "text")).text = text
        self.reason = condition
        self.mark(f"sent session-terminate {condition}")
        if self.peer:
            try:
                await self.xmpp.send_jingle(self.peer, jingle)
            except CallFailed as e:
                log("session-terminate:", e)

    async def pump_until(self, deadline: float, stop: asyncio.Event | None = None) -> bool:
        """Handles stanzas (transport-info, terminate) until `stop` is set or the peer hangs up
        (True) or the deadline passes (False)."""
        while time.monotonic() < deadline:
            if stop is not None and stop.is_set():
                return True
            getter = asyncio.ensure_future(self.xmpp.inbox.get())
            waiters = {getter}
            if stop is not None:
                waiters.add(asyncio.ensure_future(stop.wait()))
            done, pending = await asyncio.wait(waiters, timeout=max(0.0, deadline - time.monotonic()),
                                               return_when=asyncio.FIRST_COMPLETED)
            for p in pending:
                p.cancel()
            if getter in done:
                kind, payload = getter.result()
                if kind == "jingle":
                    jingle = await self.handle_jingle(payload)
                    if jingle is not None and jingle.get("action") == "session-terminate":
                        return True
        return stop is not None and stop.is_set()


def keep_telephone_events_at(content: ET.Element, rate: int) -> None:
    """Drops the telephone-event payload types of a Jingle <content/> whose clock rate is not `rate`."""
    for description in content.iter(q(NS_RTP, "description")):
        for payload in list(description.findall(q(NS_RTP, "payload-type"))):
            if payload.get("name", "").lower() == "telephone-event" and payload.get("clockrate") != str(rate):
                description.remove(payload)


async def run(args) -> int:
    chromium = Chromium(["--allow-loopback-in-peer-connection", "--use-fake-ui-for-media-stream",
                         "--use-fake-device-for-media-stream",
                         f"--use-file-for-fake-audio-capture={os.path.abspath(args.play)}%noloop"])
    xmpp = Bridge(args)
    call = Call(args, xmpp, chromium)
    deadline = time.monotonic() + args.timeout
    task = asyncio.current_task()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
    ok = False
    stats: dict = {}
    connected_stats: dict = {}
    recorded_seconds = 0.0
    trickler = None
    try:
        await chromium.start()
        await chromium.bind("peerEvent", call.on_page_event)
        await chromium.navigate("file://" + PAGE)
        await chromium.evaluate(f"peer.init({json.dumps({'bundlePolicy': args.bundle_policy, 'recorder': args.recorder, 'rtpRecord': bool(args.record_rtp)})})")
        host, _, port = args.server.rpartition(":")
        xmpp.connect(host, int(port))
        try:
            await asyncio.wait_for(xmpp.started.wait(), 20)
        except asyncio.TimeoutError:
            raise CallFailed("no XMPP session within 20 s")
        emit("ready", jid=str(xmpp.boundjid))
        trickler = asyncio.create_task(call.trickle())
        if call.we_initiate:
            await call.place(deadline)
        else:
            await call.answer(deadline)
        # Media: wait for ICE + DTLS (connectionState 'connected'), bounded.
        connect_deadline = min(deadline, time.monotonic() + 20)
        if not await call.pump_until(connect_deadline, call.connected) or not call.connected.is_set():
            if call.ended_by_peer:
                raise CallFailed(f"peer ended the call before it connected: {call.reason}")
            await call.terminate("connectivity-error")
            raise CallFailed("ICE/DTLS did not connect")
        connected_at = time.monotonic()
        connected_stats = await chromium.evaluate("peer.stats()")
        emit("connected", ms=round((connected_at - call.t0) * 1000, 1), stats=connected_stats)
        microphone = await chromium.evaluate("peer.startMicrophone()")
        log("microphone:", microphone)
        if args.dtmf:
            log("dtmf sent:", await chromium.evaluate(f"peer.sendDTMF({json.dumps(args.dtmf)})"))
        if call.we_initiate and args.hangup_after is not None:
            hung_up_by_peer = await call.pump_until(min(deadline, connected_at + args.hangup_after))
            if not hung_up_by_peer:
                await call.terminate("success")
        else:
            if not await call.pump_until(deadline):
                await call.terminate("success")
                raise CallFailed("the peer did not hang up before --timeout")
        stats = await chromium.evaluate("peer.stats()")
        # DTLS may already be closed by the peer's hang-up: judge by the snapshot taken on connecting.
        ok = (connected_stats.get("dtlsState") == "connected" and call.reason == "success")
    except asyncio.CancelledError:  # SIGTERM/SIGINT: hang up, save what was recorded, close Chromium
        log("signalled: hanging up")
        if call.peer and call.reason is None:
            await call.terminate("success")
        call.reason = call.reason or "cancelled"
    except CallFailed as e:
        log("call failed:", e)
        call.reason = call.reason or "failed"
        emit("failed", error=str(e))
    finally:
        if trickler:
            trickler.cancel()
        if not stats:
            try:
                stats = await asyncio.wait_for(chromium.evaluate("peer.stats()"), 5)
            except Exception:
                stats = {}
        try:
            recording = await asyncio.wait_for(chromium.evaluate("peer.finishRecording()"), 10)
            pcm = base64.b64decode(recording["pcm"])
            with wave.open(args.record, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(int(recording["sampleRate"]))
                w.writeframes(pcm)
            recorded_seconds = len(pcm) / 2 / recording["sampleRate"]
        except Exception as e:
            log("recording:", e)
        rtp_seconds = None
        if args.record_rtp:
            try:
                rtp = await asyncio.wait_for(chromium.evaluate("peer.finishRtpRecording()"), 10)
                if rtp:
                    pcm = base64.b64decode(rtp["pcm"])
                    with wave.open(args.record_rtp, "wb") as w:
                        w.setnchannels(1)
                        w.setsampwidth(2)
                        w.setframerate(48000)
                        w.writeframes(pcm)
                    rtp_seconds = round(len(pcm) / 2 / 48000, 2)
            except Exception as e:
                log("RTP recording:", e)
        emit("ended", ok=ok, rtpRecordedSeconds=rtp_seconds, connectedStats=connected_stats, sid=call.sid, reason=call.reason, endedByPeer=call.ended_by_peer,
             candidatesSent=call.candidates_sent, candidatesReceived=call.candidates_received,
             recordedSeconds=round(recorded_seconds, 2), stats=stats, timeline=call.timeline)
        await chromium.close()
        xmpp.disconnect()
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--server", required=True, help="HOST:PORT")
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--play", required=True, help="WAV file Chromium's fake microphone plays once")
    parser.add_argument("--record", required=True, help="WAV file for what Chromium receives")
    parser.add_argument("--bundle-policy", choices=["balanced", "max-bundle", "max-compat"], default="balanced")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--answer", action="store_true", help="answer one call (JMI or direct)")
    mode.add_argument("--call", metavar="BARE_JID", help="call this JID over JMI")
    parser.add_argument("--recorder", choices=["webaudio", "track-processor"], default="webaudio",
                        help="record the remote track through WebAudio (default) or MediaStreamTrackProcessor")
    parser.add_argument("--record-rtp", metavar="WAV", default=None,
                        help="also record the received Opus frames decoded on their RTP timestamps "
                             "(encoded insertable streams + WebCodecs), before libwebrtc's jitter buffer")
    parser.add_argument("--hangup-after", type=float, default=None, help="seconds after connecting (caller)")
    parser.add_argument("--timeout", type=float, default=60, help="bound on the whole call")
    parser.add_argument("--address", action="append", default=[],
                        help="signal only candidates on this IP (repeatable; default: every UDP candidate)")
    parser.add_argument("--dtmf", default=None, help="digits Chromium sends once connected")
    parser.add_argument("--telephone-event-rate", type=int, default=None,
                        help="offer telephone-event at this clock rate only (Chromium offers 48000 and 8000): "
                             "with 8000, Chromium sends DTMF durations in 8 kHz units beside 48 kHz Opus")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
