#!/usr/bin/env python3
"""An independent WebRTC audio peer (aiortc) for JingleKit's interop tests.

It offers or answers one audio stream over ICE + DTLS-SRTP with Opus, plays a WAV file to the
far side and records what it receives to another WAV file. The test on the other end maps SDP
to and from Jingle with JingleKit's own mapping, so this program only ever sees plain SDP.

It speaks the JSON-lines protocol of peer_control.py on standard input and output. The SDP from
aiortc is complete (it gathers before it returns a description), so no candidate trickles
afterwards. Only 127.0.0.1 is used: aioice leaves loopback out of its host candidates,
so this program replaces aioice's address lookup, and the ICE server list is empty so nothing
is sent anywhere but loopback.

`--srtp-profile NAME` (an OpenSSL name such as SRTP_AES128_CM_SHA1_80) makes aiortc offer or
accept only that DTLS-SRTP protection profile; by default it offers AEAD_AES_256_GCM,
AEAD_AES_128_GCM and AES128_CM_SHA1_80 in that order.

Usage: aiortc_peer.py --role answerer|offerer --play SPEECH.wav --record OUT.wav [--duration S]
                      [--srtp-profile NAME]
"""

import argparse
import asyncio
import json
import logging
import sys

import aioice.ice
import aiortc.rtcdtlstransport
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRecorder

from peer_control import argument_parser, emit


def loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """Stands in for aioice's interface scan: host candidates on 127.0.0.1 only."""
    return ["127.0.0.1"] if use_ipv4 else []


# aioice calls get_host_addresses from its own module when it gathers; replacing the module
# attribute is the one switch it has for the addresses it binds to.
aioice.ice.get_host_addresses = loopback_only


def restrict_srtp_profiles(name: str) -> None:
    """Leaves only the profile named `name` in aiortc's list.

    Each RTCDtlsTransport copies the module's SRTP_PROFILES when it is created and offers (as
    client) or accepts (as server) exactly those, so replacing the module attribute before the
    peer connection exists is the switch.
    """
    profiles = aiortc.rtcdtlstransport.SRTP_PROFILES
    chosen = [p for p in profiles if p.openssl_profile.decode() == name]
    if not chosen:
        known = ", ".join(p.openssl_profile.decode() for p in profiles)
        raise SystemExit(f"aiortc_peer: unknown SRTP profile {name!r} (aiortc has {known})")
    aiortc.rtcdtlstransport.SRTP_PROFILES = chosen


class Input:
    """JSON lines from standard input, read without blocking the event loop."""

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self.reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(self.reader), sys.stdin)

    async def next(self) -> dict | None:
        """The next message, or None at end of input. Blank lines are skipped."""
        assert self.reader is not None
        while True:
            line = await self.reader.readline()
            if not line:
                return None
            line = line.strip()
            if line:
                return json.loads(line)

    async def expect(self, kind: str) -> dict:
        message = await self.next()
        if message is None or message.get("type") != kind:
            raise SystemExit(f"aiortc_peer: expected a '{kind}' message, got {message!r}")
        return message


async def statistics(pc: RTCPeerConnection) -> dict:
    """Packet counts from aiortc's own RTP statistics (RFC 3550 sender and receiver views)."""
    sent = received = lost = 0
    report = await pc.getStats()
    for s in report.values():
        if s.type == "outbound-rtp":
            sent += s.packetsSent
        elif s.type == "inbound-rtp":
            received += s.packetsReceived
            lost += s.packetsLost
    return {"packetsSent": sent, "packetsReceived": received, "packetsLost": lost}


class CountingRecorder:
    """A MediaRecorder that also counts the audio frames it was handed."""

    def __init__(self, path: str) -> None:
        self.recorder = MediaRecorder(path, format="wav")
        self.frames = 0
        self.started = False

    def add(self, track) -> None:
        original = track.recv

        async def counted():
            frame = await original()
            self.frames += 1
            return frame

        track.recv = counted
        self.recorder.addTrack(track)

    async def start(self) -> None:
        if not self.started:
            self.started = True
            await self.recorder.start()

    async def stop(self) -> None:
        if self.started:
            await self.recorder.stop()


async def run(args: argparse.Namespace) -> int:
    stdin = Input()
    await stdin.open()

    # An empty list, not None: None would make aiortc use a public STUN server.
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    player = MediaPlayer(args.play)
    recorder = CountingRecorder(args.record)
    finished = asyncio.get_running_loop().create_future()

    def finish(reason: str) -> None:
        if not finished.done():
            finished.set_result(reason)

    @pc.on("track")
    def on_track(track) -> None:
        if track.kind == "audio":
            recorder.add(track)

    @pc.on("connectionstatechange")
    async def on_state() -> None:
        emit({"type": "state", "connection": pc.connectionState})
        if pc.connectionState == "connected":
            await recorder.start()
            emit({"type": "connected", **dtls_summary(pc)})
        elif pc.connectionState in ("failed", "closed"):
            finish("connection " + pc.connectionState)

    if args.role == "offerer":
        pc.addTransceiver(player.audio, direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        emit({"type": "offer", "sdp": pc.localDescription.sdp})
        answer = await stdin.expect("answer")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    else:
        offer = await stdin.expect("offer")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer["sdp"], type="offer"))
        # The offer created a receiving transceiver; adding the track makes it send as well.
        pc.addTrack(player.audio)
        await pc.setLocalDescription(await pc.createAnswer())
        emit({"type": "answer", "sdp": pc.localDescription.sdp})

    async def watch_input() -> None:
        while True:
            message = await stdin.next()
            if message is None:
                finish("end of input")
                return
            if message.get("type") == "stop":
                finish("stop")
                return

    watcher = asyncio.ensure_future(watch_input())
    try:
        reason = await asyncio.wait_for(finished, timeout=args.duration)
    except asyncio.TimeoutError:
        reason = "duration elapsed"
    watcher.cancel()

    stats = await statistics(pc)
    await recorder.stop()
    await pc.close()
    emit({"type": "stopped", "reason": reason, "recordedFrames": recorder.frames, **stats})
    return 0


def dtls_summary(pc: RTCPeerConnection) -> dict:
    """The SRTP protection profile and DTLS role of the first transceiver's transport."""
    summary: dict = {}
    for t in pc.getTransceivers():
        dtls = t.sender.transport
        if dtls is None:
            continue
        summary["dtlsRole"] = getattr(dtls, "_role", None)
        ssl = getattr(dtls, "_ssl", None)  # aiortc keeps the pyOpenSSL connection here
        if ssl is not None:
            summary["srtpProfile"] = ssl.get_selected_srtp_profile().decode()
        break
    return summary


def main() -> int:
    parser = argument_parser(__doc__, record_help="WAV file for what the far side sends")
    parser.add_argument("--srtp-profile", help="the only DTLS-SRTP profile to offer or accept (OpenSSL name)")
    parser.add_argument("--verbose", action="store_true", help="aiortc debug logging on standard error")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    if args.srtp_profile:
        restrict_srtp_profiles(args.srtp_profile)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
