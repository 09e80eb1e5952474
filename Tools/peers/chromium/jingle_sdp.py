"""An independent Jingle <-> SDP mapping for one-or-more audio contents, written for the
Chromium test peer from the XEPs (0166, 0167, 0176, 0293, 0294, 0320, 0338, 0339), the way
Conversations maps its libwebrtc SDP: content name = a=mid, one payload-type per rtpmap with its
fmtp parameters split at ';', rtcp-fb, rtp-hdrext = extmap, sources = a=ssrc, XEP-0338 group =
a=group, ICE ufrag/pwd and DTLS fingerprint/setup per content, candidates as a=candidate lines.

It shares no code with JingleKit's SDPMapping on purpose: interop found by two mappings.
"""

import random
import xml.etree.ElementTree as ET

NS_JINGLE = "urn:xmpp:jingle:1"
NS_RTP = "urn:xmpp:jingle:apps:rtp:1"
NS_ICE = "urn:xmpp:jingle:transports:ice-udp:1"
NS_DTLS = "urn:xmpp:jingle:apps:dtls:0"
NS_FB = "urn:xmpp:jingle:apps:rtp:rtcp-fb:0"
NS_HDREXT = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0"
NS_SSMA = "urn:xmpp:jingle:apps:rtp:ssma:0"
NS_GROUP = "urn:xmpp:jingle:apps:grouping:0"


def q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


# ---------------------------------------------------------------------------------------------
# SDP parsing


class Media:
    def __init__(self, line: str):
        parts = line[2:].split()
        self.kind, self.port, self.proto, self.formats = parts[0], parts[1], parts[2], parts[3:]
        self.attributes: list[tuple[str, str]] = []

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.attributes if k == name]

    def value(self, name: str, default=None):
        found = self.values(name)
        return found[0] if found else default

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self.attributes)


def parse_sdp(sdp: str) -> tuple[list[tuple[str, str]], list[Media]]:
    session: list[tuple[str, str]] = []
    media: list[Media] = []
    for raw in sdp.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if line.startswith("m="):
            media.append(Media(line))
        elif line.startswith("a="):
            name, _, value = line[2:].partition(":")
            (media[-1].attributes if media else session).append((name, value))
    return session, media


# ---------------------------------------------------------------------------------------------
# candidates


def candidate_to_jingle(line: str, candidate_id: str | None = None) -> ET.Element | None:
    """'candidate:F C udp P IP PORT typ T [raddr A rport R] generation G ...' -> <candidate/>;
    None for TCP candidates (ICE-UDP carries UDP only)."""
    if line.startswith("a="):
        line = line[2:]
    if line.startswith("candidate:"):
        line = line[len("candidate:"):]
    parts = line.split()
    if len(parts) < 8 or parts[2].lower() != "udp":
        return None
    attrs = {"foundation": parts[0], "component": parts[1], "protocol": "udp", "priority": parts[3],
             "ip": parts[4], "port": parts[5], "type": parts[7], "generation": "0", "network": "0",
             "id": candidate_id or "%x" % random.getrandbits(40)}
    rest = parts[8:]
    for i in range(0, len(rest) - 1, 2):
        key, value = rest[i], rest[i + 1]
        if key == "raddr":
            attrs["rel-addr"] = value
        elif key == "rport":
            attrs["rel-port"] = value
        elif key == "generation":
            attrs["generation"] = value
        elif key == "network-id":
            attrs["network"] = value
    return ET.Element(q(NS_ICE, "candidate"), attrs)


def candidate_to_sdp(c: ET.Element) -> str:
    """<candidate/> -> 'candidate:...' (no 'a=')."""
    line = (f"candidate:{c.get('foundation')} {c.get('component', '1')} {c.get('protocol', 'udp')} "
            f"{c.get('priority')} {c.get('ip')} {c.get('port')} typ {c.get('type', 'host')}")
    if c.get("rel-addr") is not None:
        line += f" raddr {c.get('rel-addr')} rport {c.get('rel-port', '0')}"
    line += f" generation {c.get('generation', '0')}"
    return line


# ---------------------------------------------------------------------------------------------
# SDP -> Jingle


def sdp_to_jingle(sdp: str, creator: str = "initiator", with_candidates: bool = False) -> list[ET.Element]:
    """The <content/> elements (and a <group/> when the SDP bundles) for a Jingle action."""
    session, media = parse_sdp(sdp)
    out: list[ET.Element] = []
    session_ufrag = dict(session).get("ice-ufrag")
    session_pwd = dict(session).get("ice-pwd")
    session_fp = dict(session).get("fingerprint")
    session_setup = dict(session).get("setup")
    allow_mixed = any(k == "extmap-allow-mixed" for k, _ in session)
    for m in media:
        if m.port == "0" and not m.has("bundle-only"):
            continue  # rejected m-line
        direction = next((k for k, _ in m.attributes if k in ("sendrecv", "sendonly", "recvonly", "inactive")), "sendrecv")
        senders = {"sendrecv": "both", "sendonly": creator, "recvonly": "responder" if creator == "initiator" else "initiator",
                   "inactive": "none"}[direction]
        content = ET.Element(q(NS_JINGLE, "content"), {"creator": "initiator", "name": m.value("mid", m.kind),
                                                      "senders": senders})
        description = ET.SubElement(content, q(NS_RTP, "description"), {"media": m.kind})
        rtpmaps = {}
        for v in m.values("rtpmap"):
            pt, _, encoding = v.partition(" ")
            rtpmaps[pt] = encoding.split("/")
        fmtps = {}
        for v in m.values("fmtp"):
            pt, _, params = v.partition(" ")
            fmtps[pt] = params
        feedback: dict[str, list[str]] = {}
        for v in m.values("rtcp-fb"):
            pt, _, fb = v.partition(" ")
            feedback.setdefault(pt, []).append(fb)
        for pt in m.formats:
            name = rtpmaps.get(pt, [""])
            attrs = {"id": pt}
            if name[0]:
                attrs["name"] = name[0]
            if len(name) > 1:
                attrs["clockrate"] = name[1]
            if len(name) > 2:
                attrs["channels"] = name[2]
            payload = ET.SubElement(description, q(NS_RTP, "payload-type"), attrs)
            if pt in fmtps:
                for param in fmtps[pt].split(";"):
                    param = param.strip()
                    if not param:
                        continue
                    key, eq, value = param.partition("=")
                    # A parameter without a name ('111/111' of RED) keeps its text as the value.
                    ET.SubElement(payload, q(NS_RTP, "parameter"),
                                  {"name": key.strip(), "value": value.strip()} if eq else {"name": "", "value": key.strip()})
            for fb in feedback.get(pt, []) + feedback.get("*", []):
                kind, _, subtype = fb.partition(" ")
                fb_attrs = {"type": kind}
                if subtype:
                    fb_attrs["subtype"] = subtype
                ET.SubElement(payload, q(NS_FB, "rtcp-fb"), fb_attrs)
        for v in m.values("extmap"):
            ident, _, rest = v.partition(" ")
            uri = rest.split()[0] if rest else ""
            ident = ident.split("/")[0]
            ET.SubElement(description, q(NS_HDREXT, "rtp-hdrext"), {"id": ident, "uri": uri})
        if allow_mixed or m.has("extmap-allow-mixed"):
            ET.SubElement(description, q(NS_HDREXT, "extmap-allow-mixed"))
        sources: dict[str, list[tuple[str, str]]] = {}
        for v in m.values("ssrc"):
            ssrc, _, attribute = v.partition(" ")
            key, _, value = attribute.partition(":")
            sources.setdefault(ssrc, []).append((key, value))
        for ssrc, params in sources.items():
            source = ET.SubElement(description, q(NS_SSMA, "source"), {"ssrc": ssrc})
            for key, value in params:
                ET.SubElement(source, q(NS_SSMA, "parameter"), {"name": key, "value": value})
        for v in m.values("ssrc-group"):
            semantics, *ssrcs = v.split()
            group = ET.SubElement(description, q(NS_SSMA, "ssrc-group"), {"semantics": semantics})
            for s in ssrcs:
                ET.SubElement(group, q(NS_SSMA, "source"), {"ssrc": s})
        if m.has("rtcp-mux"):
            ET.SubElement(description, q(NS_RTP, "rtcp-mux"))
        transport = ET.SubElement(content, q(NS_ICE, "transport"),
                                  {"ufrag": m.value("ice-ufrag", session_ufrag), "pwd": m.value("ice-pwd", session_pwd)})
        fingerprint = m.value("fingerprint", session_fp)
        if fingerprint:
            hash_name, _, value = fingerprint.partition(" ")
            fp = ET.SubElement(transport, q(NS_DTLS, "fingerprint"),
                               {"hash": hash_name, "setup": m.value("setup", session_setup or "actpass")})
            fp.text = value
        if with_candidates:
            for v in m.values("candidate"):
                c = candidate_to_jingle(v)
                if c is not None:
                    transport.append(c)
        out.append(content)
    for k, v in session:
        if k == "group":
            semantics, *names = v.split()
            if semantics and names:
                group = ET.Element(q(NS_GROUP, "group"), {"semantics": semantics})
                for name in names:
                    ET.SubElement(group, q(NS_GROUP, "content"), {"name": name})
                out.append(group)
    return out


# ---------------------------------------------------------------------------------------------
# Jingle -> SDP


def jingle_to_sdp(jingle: ET.Element, role_of_sdp_author: str = "initiator") -> str:
    """A whole SDP for the <content/>s (and <group/>) of a session-initiate or session-accept.
    role_of_sdp_author: who wrote the Jingle ('initiator' for an offer), for senders."""
    lines = ["v=0", f"o=- {random.getrandbits(62)} 2 IN IP4 0.0.0.0", "s=-", "t=0 0"]
    for group in jingle.findall(q(NS_GROUP, "group")):
        names = [c.get("name") for c in group.findall(q(NS_GROUP, "content"))]
        lines.append(f"a=group:{group.get('semantics', 'BUNDLE')} " + " ".join(names))
    contents = jingle.findall(q(NS_JINGLE, "content"))
    if any(c.find(f"{q(NS_RTP, 'description')}/{q(NS_HDREXT, 'extmap-allow-mixed')}") is not None for c in contents):
        lines.append("a=extmap-allow-mixed")
    lines.append("a=msid-semantic: WMS *")
    for content in contents:
        description = content.find(q(NS_RTP, "description"))
        transport = content.find(q(NS_ICE, "transport"))
        if description is None or transport is None:
            continue
        payloads = description.findall(q(NS_RTP, "payload-type"))
        lines.append(f"m={description.get('media', 'audio')} 9 UDP/TLS/RTP/SAVPF " + " ".join(p.get("id") for p in payloads))
        lines.append("c=IN IP4 0.0.0.0")
        lines.append("a=rtcp:9 IN IP4 0.0.0.0")
        lines.append(f"a=ice-ufrag:{transport.get('ufrag')}")
        lines.append(f"a=ice-pwd:{transport.get('pwd')}")
        lines.append("a=ice-options:trickle")
        fp = transport.find(q(NS_DTLS, "fingerprint"))
        if fp is not None:
            lines.append(f"a=fingerprint:{fp.get('hash')} {(fp.text or '').strip()}")
            lines.append(f"a=setup:{fp.get('setup', 'actpass')}")
        lines.append(f"a=mid:{content.get('name')}")
        for ext in description.findall(q(NS_HDREXT, "rtp-hdrext")):
            lines.append(f"a=extmap:{ext.get('id')} {ext.get('uri')}")
        if description.find(q(NS_HDREXT, "extmap-allow-mixed")) is not None:
            lines.append("a=extmap-allow-mixed")
        senders = content.get("senders", "both")
        other = "responder" if role_of_sdp_author == "initiator" else "initiator"
        lines.append("a=" + {"both": "sendrecv", "none": "inactive", role_of_sdp_author: "sendonly", other: "recvonly"}[senders])
        if description.find(q(NS_RTP, "rtcp-mux")) is not None:
            lines.append("a=rtcp-mux")
        for p in payloads:
            if p.get("name"):
                encoding = f"{p.get('name')}/{p.get('clockrate', '8000')}"
                if p.get("channels") and p.get("channels") != "1":
                    encoding += f"/{p.get('channels')}"
                lines.append(f"a=rtpmap:{p.get('id')} {encoding}")
            params = []
            for param in p.findall(q(NS_RTP, "parameter")):
                name, value = param.get("name") or "", param.get("value") or ""
                params.append(f"{name}={value}" if name and value else (name or value))
            if params:
                lines.append(f"a=fmtp:{p.get('id')} " + ";".join(params))
            for fb in p.findall(q(NS_FB, "rtcp-fb")):
                lines.append(f"a=rtcp-fb:{p.get('id')} {fb.get('type')}" + (f" {fb.get('subtype')}" if fb.get("subtype") else ""))
            if p.find(q(NS_FB, "rtcp-fb-trr-int")) is not None:
                lines.append(f"a=rtcp-fb:{p.get('id')} trr-int {p.find(q(NS_FB, 'rtcp-fb-trr-int')).get('value', '0')}")
        for fb in description.findall(q(NS_FB, "rtcp-fb")):
            lines.append(f"a=rtcp-fb:* {fb.get('type')}" + (f" {fb.get('subtype')}" if fb.get("subtype") else ""))
        for source in description.findall(q(NS_SSMA, "source")):
            for param in source.findall(q(NS_SSMA, "parameter")):
                value = param.get("value")
                lines.append(f"a=ssrc:{source.get('ssrc')} {param.get('name')}" + (f":{value}" if value else ""))
        for group in description.findall(q(NS_SSMA, "ssrc-group")):
            lines.append(f"a=ssrc-group:{group.get('semantics')} " + " ".join(s.get("ssrc") for s in group.findall(q(NS_SSMA, "source"))))
        for c in transport.findall(q(NS_ICE, "candidate")):
            lines.append("a=" + candidate_to_sdp(c))
    return "\r\n".join(lines) + "\r\n"
