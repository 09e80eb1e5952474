"""What the WebRTC test peers (aiortc_peer.py, gst_peer.py) share: the command line every one
takes, and the JSON lines they write to the test on standard output.

Protocol: one JSON object per line. Messages to a peer arrive on standard input, messages from
it leave on standard output (diagnostics go to standard error).

    answerer:  stdin  {"type": "offer", "sdp": "..."}
               stdout {"type": "answer", "sdp": "..."}
    offerer:   stdout {"type": "offer", "sdp": "..."}
               stdin  {"type": "answer", "sdp": "..."}
    both:      stdout {"type": "state", "connection": "connecting" | "connected" | "failed" | ...}
               stdout {"type": "connected", "srtpProfile": "SRTP_AEAD_AES_128_GCM", "dtlsRole": "client"}
               stdin  {"type": "stop"}   (or end of input, or --duration elapsed)
               stdout {"type": "stopped", "reason": "...", "packetsSent": n, "packetsReceived": n,
                       "packetsLost": n, "recordedFrames": n}

A peer's SDP is complete (it gathers before it sends a description), so no candidate trickles
afterwards.
"""

import argparse
import json
import sys
import threading

_out_lock = threading.Lock()


def emit(message: dict) -> None:
    """Writes one JSON line to the test (from any thread)."""
    with _out_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def argument_parser(description: str, record_help: str) -> argparse.ArgumentParser:
    """The options of every peer: its offer/answer role, what it plays, where it records what it
    receives (`record_help`), and how long it may run; a peer adds its own."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--role", choices=["answerer", "offerer"], required=True)
    parser.add_argument("--play", required=True, help="WAV file sent to the far side")
    parser.add_argument("--record", required=True, help=record_help)
    parser.add_argument("--duration", type=float, default=60.0,
                        help="upper bound in seconds before stopping on its own (default 60)")
    return parser
