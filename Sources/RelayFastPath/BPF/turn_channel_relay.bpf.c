// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
//
// jingle-relay's kernel fast path (TC ingress, on a tcx link or a clsact filter): TURN
// ChannelData (RFC 8656 §12.5) from a UDP client becomes a plain UDP datagram from the relayed
// address to the peer, and a peer's datagram to a relayed address becomes ChannelData to the
// client, without the packet going up to user space. The relay's TURN engine stays the
// authority: it writes the two maps for each channel that is bound and has a live permission,
// with an expiry stamp the program checks, and removes entries when either ends. A datagram from
// one client to another allocation's relayed address on this host is taken on to that
// allocation's client in the same pass. Anything the program does not handle exactly (no entry,
// an expired one, IP options, fragments, IPv6 extension headers, bytes after the message, a
// destination without an interface) is left unchanged with TC_ACT_UNSPEC: the next program on
// the interface (another relay's, another tool's) sees it, and without one it goes up the stack
// to user space.
//
// Built by the RelayFastPath target's build plugin (clang -target bpf); loaded by
// ChannelRelayProgram through libbpf.

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define AF_INET 2
#define AF_INET6 10
#define MAX_PAYLOAD 1500

#include "channel_relay_maps.h"

#define channel_key channel_relay_channel_key
#define channel_value channel_relay_channel_value
#define peer_key channel_relay_peer_key
#define peer_value channel_relay_peer_value
#define counter channel_relay_counter
#define MAX_ENTRIES CHANNEL_RELAY_MAX_ENTRIES

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, MAX_ENTRIES);
    __type(key, struct channel_key);
    __type(value, struct channel_value);
} channels SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, MAX_ENTRIES);
    __type(key, struct peer_key);
    __type(value, struct peer_value);
} peers SEC(".maps");

// Slot 2n: client to peer of route n; 2n+1: peer to client.
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 2 * MAX_ENTRIES);
    __type(key, __u32);
    __type(value, struct counter);
} counters SEC(".maps");

static __always_inline void count(__u32 slot, __u64 bytes) {
    struct counter *c = bpf_map_lookup_elem(&counters, &slot);
    if (c) {
        c->packets += 1;
        c->bytes += bytes;
    }
}

static __always_inline __u16 fold(__u64 sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return (__u16)sum;
}

// UDP pseudo-headers (RFC 768; RFC 8200 §8.1 for IPv6). A complete checksum is updated for
// what changes around the payload (addresses, ports, lengths, the ChannelData header and
// padding), never summed over the payload itself; a partial one (a local sender's offload) is
// written anew. Sums are in memory order, as the kernel's csum helpers make them, so results
// are stored as they come.
struct pseudo4 {
    __u8 src[4];
    __u8 dst[4];
    __u8 zero;
    __u8 protocol;
    __u16 length;
};

struct pseudo6 {
    __u8 src[16];
    __u8 dst[16];
    __u32 length;
    __u8 zero[3];
    __u8 next;
};

struct parsed {
    int v6;
    __u32 l4;          // offset of the UDP header
    __u32 udp_len;     // UDP length (header and payload)
    __u8 src[16];
    __u8 dst[16];
    __u16 sport;
    __u16 dport;
    __u16 csum;
};

// Adds the pseudo-header's words to the running ones' complement sum `seed`, or takes them
// away (`subtract`), in memory order as the kernel's csum helpers sum (-1 on error).
static __always_inline __s64 pseudo_sum(int v6, const __u8 *src, const __u8 *dst, __u32 len, __u32 seed,
                                        int subtract) {
    if (v6) {
        struct pseudo6 ph = {};
        __builtin_memcpy(ph.src, src, 16);
        __builtin_memcpy(ph.dst, dst, 16);
        ph.length = bpf_htonl(len);
        ph.next = IPPROTO_UDP;
        return subtract ? bpf_csum_diff((__be32 *)&ph, sizeof(ph), NULL, 0, seed)
                        : bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), seed);
    }
    struct pseudo4 ph = {};
    __builtin_memcpy(ph.src, src, 4);
    __builtin_memcpy(ph.dst, dst, 4);
    ph.protocol = IPPROTO_UDP;
    ph.length = bpf_htons(len);
    return subtract ? bpf_csum_diff((__be32 *)&ph, sizeof(ph), NULL, 0, seed)
                    : bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), seed);
}

// How the datagram's UDP checksum stands, which decides how the rewritten one is written.
enum checksum_state {
    CHECKSUM_FULL,      // complete in the packet: updated for what changes around the payload
    CHECKSUM_ABSENT,    // IPv4 with a zero checksum: keep it zero
    CHECKSUM_OFFLOADED, // a local sender's offload (CHECKSUM_PARTIAL): the field holds the
                        // pseudo-header's sum and the device or the receiver finishes it
};

// A partial checksum is the folded pseudo-header sum, uninverted (the kernel's
// ~csum_tcpudp_magic(..., 0)); a complete one equals it only by a 1 in 65536 chance, and then
// the rewritten packet's checksum is still finished by whoever would have finished it.
static __always_inline enum checksum_state checksum_state(struct parsed *p) {
    if (!p->v6 && p->csum == 0)
        return CHECKSUM_ABSENT;
    __s64 sum = pseudo_sum(p->v6, p->src, p->dst, p->udp_len, 0, 0);
    if (sum >= 0 && p->csum == fold((__u32)sum))
        return CHECKSUM_OFFLOADED;
    return CHECKSUM_FULL;
}

// The payload's share of a complete checksum, without touching the payload: the sum the
// checksum closes (its complement) less the pseudo-header, the UDP header and `extra` (the
// ChannelData header and, padded, the last word with its padding), words that move by a
// multiple of 4 bytes or go. An incoming checksum that was wrong stays wrong (-1 on error).
static __always_inline __s64 payload_sum(struct parsed *p, const __u8 *extra, __u32 extra_size) {
    struct udphdr udp = { .source = p->sport, .dest = p->dport, .len = bpf_htons(p->udp_len), .check = 0 };
    __s64 sum = pseudo_sum(p->v6, p->src, p->dst, p->udp_len, (__u16)~p->csum, 1);
    if (sum < 0)
        return -1;
    sum = bpf_csum_diff((__be32 *)&udp, sizeof(udp), NULL, 0, (__u32)sum);
    if (sum < 0 || extra_size == 0)
        return sum;
    if (extra_size != 4 && extra_size != 8)
        return -1;
    return bpf_csum_diff((__be32 *)extra, extra_size, NULL, 0, (__u32)sum);
}

// Writes the rewritten datagram's checksum in the form its state asks for: for a complete one,
// the payload's share `carried` with the new pseudo-header, UDP header and `extra` words.
static __always_inline int finish_checksum(struct __sk_buff *skb, __u32 l4, int v6, enum checksum_state state,
                                           __u32 udp_len, const __u8 *src, const __u8 *dst, __u32 carried,
                                           const __u8 *extra, __u32 extra_size) {
    __u16 c = 0;
    if (state == CHECKSUM_OFFLOADED) {
        __s64 sum = pseudo_sum(v6, src, dst, udp_len, 0, 0);
        if (sum < 0)
            return -1;
        c = fold((__u32)sum);
    } else if (state == CHECKSUM_FULL) {
        void *data = (void *)(long)skb->data;
        void *end = (void *)(long)skb->data_end;
        if (l4 > sizeof(struct ethhdr) + sizeof(struct ipv6hdr))
            return -1;
        struct udphdr *udp = data + l4;
        if ((void *)(udp + 1) > end)
            return -1;
        struct udphdr header = *udp;
        header.check = 0;
        __s64 sum = pseudo_sum(v6, src, dst, udp_len, carried, 0);
        if (sum >= 0)
            sum = bpf_csum_diff(NULL, 0, (__be32 *)&header, sizeof(header), (__u32)sum);
        if (sum >= 0 && extra_size == 4)
            sum = bpf_csum_diff(NULL, 0, (__be32 *)extra, 4, (__u32)sum);
        if (sum < 0)
            return -1;
        c = ~fold((__u32)sum);
        if (c == 0)
            c = 0xffff;
    }
    return bpf_skb_store_bytes(skb, l4 + 6, &c, 2, 0) ? -1 : 0;
}

// Moves `len` bytes from offset `from` to offset `to` (4 bytes apart here) in chunks, from the
// end when moving towards the tail, so nothing is overwritten before it is read.
__attribute__((noinline)) int move_bytes(struct __sk_buff *skb, __u32 from, __u32 to, __u32 len) {
    __u8 buf[64];
    for (int i = 0; i < (MAX_PAYLOAD + 63) / 64; i++) {
        __u32 done = i * 64;
        if (done >= len)
            break;
        __u32 n = len - done;
        if (n > 64)
            n = 64;
        n = ((n - 1) & 63) + 1;
        __u32 off = to > from ? len - done - n : done;
        if (off > MAX_PAYLOAD)
            return -1;
        if (bpf_skb_load_bytes(skb, from + off, buf, n))
            return -1;
        if (bpf_skb_store_bytes(skb, to + off, buf, n, 0))
            return -1;
    }
    return 0;
}

static __always_inline void ipv4_header_checksum(struct iphdr *ip) {
    __u16 *w = (__u16 *)ip;
    __u64 sum = 0;
    ip->check = 0;
#pragma unroll
    for (int i = 0; i < 10; i++)
        sum += w[i];
    ip->check = ~fold(sum);
}

// Where a rewritten packet goes next: the interface, and CHANNEL_RELAY_LOCAL for this host.
struct hop {
    __u32 ifindex;
    __u32 flags;
};

// from_client and from_peer's verdict when they rewrote the packet (not a TC action).
#define REWRITTEN 0x100

// Sends the rewritten packet on: out of the interface toward its destination, which resolves
// the next hop's link address (bpf_redirect_neigh, an output route lookup: no forwarding needs to
// be enabled on the relay), or, for a destination on this host, into the loopback interface.
// A packet whose family changed (`other_family`) is never just passed up from here: the route
// it arrived with (a looped-back packet keeps its sender's) is of the old family, and a
// redirect into the interface drops it, so the stack looks up one of the right family.
static __always_inline int send(struct __sk_buff *skb, struct hop *hop, __u32 other_family) {
    if (hop->flags & CHANNEL_RELAY_LOCAL) {
        if (skb->ifindex == hop->ifindex && !other_family)
            return TC_ACT_OK;
        return bpf_redirect(hop->ifindex, BPF_F_INGRESS);
    }
    return bpf_redirect_neigh(hop->ifindex, NULL, 0, 0);
}


// IPv4 without options or fragments, or IPv6 with UDP as the next header; the IP length must
// cover the packet exactly (no Ethernet trailer) and agree with the UDP length.
static __always_inline int parse(struct __sk_buff *skb, struct parsed *p) {
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return -1;
    __builtin_memset(p, 0, sizeof(*p));
    if (eth->h_proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end)
            return -1;
        if (ip->ihl != 5 || ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(0x3fff)))
            return -1;
        if (skb->len != sizeof(*eth) + bpf_ntohs(ip->tot_len))
            return -1;
        p->l4 = sizeof(*eth) + sizeof(*ip);
        __builtin_memcpy(p->src, &ip->saddr, 4);
        __builtin_memcpy(p->dst, &ip->daddr, 4);
        if (bpf_ntohs(ip->tot_len) < sizeof(*ip) + sizeof(struct udphdr))
            return -1;
        p->udp_len = bpf_ntohs(ip->tot_len) - sizeof(*ip);
    } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        if ((void *)(ip6 + 1) > end)
            return -1;
        if (ip6->nexthdr != IPPROTO_UDP)
            return -1;
        if (skb->len != sizeof(*eth) + sizeof(*ip6) + bpf_ntohs(ip6->payload_len))
            return -1;
        p->v6 = 1;
        p->l4 = sizeof(*eth) + sizeof(*ip6);
        __builtin_memcpy(p->src, &ip6->saddr, 16);
        __builtin_memcpy(p->dst, &ip6->daddr, 16);
        p->udp_len = bpf_ntohs(ip6->payload_len);
    } else {
        return -1;
    }
    struct udphdr *udp = data + p->l4;
    if ((void *)(udp + 1) > end)
        return -1;
    if (bpf_ntohs(udp->len) != p->udp_len || p->udp_len < sizeof(*udp))
        return -1;
    p->sport = udp->source;
    p->dport = udp->dest;
    p->csum = udp->check;
    // UDP over IPv6 must carry a checksum (RFC 8200 §8.1); the stack drops one without.
    if (p->v6 && p->csum == 0)
        return -1;
    return 0;
}

// Rewrites the IP header in place for new addresses and a length change of `delta` bytes.
static __always_inline int rewrite_ip(struct __sk_buff *skb, int v6, const __u8 *src, const __u8 *dst, int delta) {
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    if (v6) {
        struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);
        if ((void *)(ip6 + 1) > end)
            return -1;
        __builtin_memcpy(&ip6->saddr, src, 16);
        __builtin_memcpy(&ip6->daddr, dst, 16);
        ip6->payload_len = bpf_htons(bpf_ntohs(ip6->payload_len) + delta);
        ip6->hop_limit = 64;
    } else {
        struct iphdr *ip = data + sizeof(struct ethhdr);
        if ((void *)(ip + 1) > end)
            return -1;
        __builtin_memcpy(&ip->saddr, src, 4);
        __builtin_memcpy(&ip->daddr, dst, 4);
        ip->tot_len = bpf_htons(bpf_ntohs(ip->tot_len) + delta);
        ip->ttl = 64;
        ipv4_header_checksum(ip);
    }
    return 0;
}

// Puts an IP header of the other family in place of the packet's own (an IPv6 client with an
// IPv4 relayed address, or the reverse): bpf_skb_change_proto moves the Ethernet header by the
// 20 bytes the headers differ, so the UDP header stays where it is, and a fresh header is
// written for the new addresses and a UDP length of `udp_len`.
static __always_inline int replace_ip(struct __sk_buff *skb, int v6, const __u8 *src, const __u8 *dst, __u32 udp_len) {
    if (bpf_skb_change_proto(skb, bpf_htons(v6 ? ETH_P_IPV6 : ETH_P_IP), 0))
        return -1;
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return -1;
    eth->h_proto = bpf_htons(v6 ? ETH_P_IPV6 : ETH_P_IP);
    if (v6) {
        struct ipv6hdr *ip6 = (void *)(eth + 1);
        if ((void *)(ip6 + 1) > end)
            return -1;
        __builtin_memset(ip6, 0, sizeof(*ip6));
        ip6->version = 6;
        ip6->payload_len = bpf_htons(udp_len);
        ip6->nexthdr = IPPROTO_UDP;
        ip6->hop_limit = 64;
        __builtin_memcpy(&ip6->saddr, src, 16);
        __builtin_memcpy(&ip6->daddr, dst, 16);
    } else {
        struct iphdr *ip = (void *)(eth + 1);
        if ((void *)(ip + 1) > end)
            return -1;
        __builtin_memset(ip, 0, sizeof(*ip));
        ip->version = 4;
        ip->ihl = 5;
        ip->tot_len = bpf_htons(sizeof(*ip) + udp_len);
        ip->frag_off = bpf_htons(0x4000);  // DF: an IPv6 sender's datagram is not fragmented on the way
        ip->ttl = 64;
        ip->protocol = IPPROTO_UDP;
        __builtin_memcpy(&ip->saddr, src, 4);
        __builtin_memcpy(&ip->daddr, dst, 4);
        ipv4_header_checksum(ip);
    }
    return 0;
}

// Client to peer: ChannelData on the relay's listening address becomes the payload alone, sent
// from the relayed address to the peer.
static __always_inline int from_client(struct __sk_buff *skb, struct parsed *p, struct hop *out) {
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    __u8 *cd = data + p->l4 + sizeof(struct udphdr);
    if ((void *)(cd + 4) > end)
        return TC_ACT_UNSPEC;
    __u16 number = (cd[0] << 8) | cd[1];
    __u16 length = (cd[2] << 8) | cd[3];
    // ChannelData starts with bits 01 (RFC 8656 §12.5; 0x5000-0x7FFF only where the relay
    // takes RFC 5766's range); the map says which numbers are bound.
    if (number < 0x4000 || number > 0x7fff)
        return TC_ACT_UNSPEC;
    // The ChannelData message, unpadded or padded to 4 bytes (RFC 8656 §12.5: padding is
    // optional over UDP); anything else after it goes to user space.
    if (length > MAX_PAYLOAD || p->udp_len < sizeof(struct udphdr) + 4 + length)
        return TC_ACT_UNSPEC;
    __u32 padding = p->udp_len - sizeof(struct udphdr) - 4 - length;
    if (padding != 0 && (padding > 3 || ((length + padding) & 3) != 0))
        return TC_ACT_UNSPEC;
    struct channel_key key = {};
    __builtin_memcpy(key.client_ip, p->src, 16);
    __builtin_memcpy(key.server_ip, p->dst, 16);
    key.client_port = p->sport;
    key.server_port = p->dport;
    key.channel = bpf_htons(number);
    key.family = p->v6 ? AF_INET6 : AF_INET;
    struct channel_value *route = bpf_map_lookup_elem(&channels, &key);
    if (!route || route->expires_ns <= bpf_ktime_get_ns())
        return TC_ACT_UNSPEC;
    struct channel_value r = *route;
    if (r.out_ifindex == 0)
        return TC_ACT_UNSPEC;
    // A destination on this host in the other family is left to user space (the stack drops
    // a looped-back packet turned IPv6 to IPv4 here), unless it is another allocation's
    // relayed address whose client is of the first family again: the hairpin below then
    // turns it back in the same pass.
    if ((r.flags & CHANNEL_RELAY_LOCAL) && (r.flags & CHANNEL_RELAY_OTHER_FAMILY)) {
        struct peer_key back = {};
        __builtin_memcpy(back.peer_ip, r.relay_ip, 16);
        __builtin_memcpy(back.relay_ip, r.peer_ip, 16);
        back.peer_port = r.relay_port;
        back.relay_port = r.peer_port;
        back.family = p->v6 ? AF_INET : AF_INET6;
        struct peer_value *onward = bpf_map_lookup_elem(&peers, &back);
        if (!onward || !(onward->flags & CHANNEL_RELAY_OTHER_FAMILY))
            return TC_ACT_UNSPEC;
    }
    // A device's CHECKSUM_COMPLETE sum (gve, mlx5) needs no care: bpf_skb_change_tail turns it
    // into CHECKSUM_NONE, and the checksum field is kept right below.
    enum checksum_state state = checksum_state(p);
    __u32 new_len = sizeof(struct udphdr) + length;
    __u32 removed = 4 + padding;
    // What goes besides the headers: the ChannelData header, and the padding (in the message's
    // last word, at its place there, the payload's bytes of that word left out).
    __u8 gone[8] = { cd[0], cd[1], cd[2], cd[3] };
    __u32 carried = 0;
    if (state == CHECKSUM_FULL) {
        if (padding) {
            if (bpf_skb_load_bytes(skb, p->l4 + p->udp_len - 4, gone + 4, 4))
                return TC_ACT_UNSPEC;
            for (int i = 0; i < 3; i++)
                if (i < 4 - (int)padding)
                    gone[4 + i] = 0;
        }
        __s64 sum = payload_sum(p, gone, padding ? 8 : 4);
        if (sum < 0)
            return TC_ACT_UNSPEC;
        carried = (__u32)sum;
    }
    // The payload moves up over the ChannelData header and the tail is cut; the UDP header
    // stays where it is (an offloaded checksum's start offset keeps pointing at it). From here
    // the packet is ours: drop it rather than pass a half-rewritten one on.
    if (move_bytes(skb, p->l4 + sizeof(struct udphdr) + 4, p->l4 + sizeof(struct udphdr), length))
        return TC_ACT_SHOT;
    if (bpf_skb_change_tail(skb, skb->len - removed, 0))
        return TC_ACT_SHOT;
    int v6 = p->v6;
    if (r.flags & CHANNEL_RELAY_OTHER_FAMILY) {
        v6 = !v6;
        if (replace_ip(skb, v6, r.relay_ip, r.peer_ip, new_len))
            return TC_ACT_SHOT;
    } else if (rewrite_ip(skb, v6, r.relay_ip, r.peer_ip, -(int)removed)) {
        return TC_ACT_SHOT;
    }
    __u32 l4 = sizeof(struct ethhdr) + (v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));
    void *data2 = (void *)(long)skb->data;
    void *end2 = (void *)(long)skb->data_end;
    struct udphdr *udp = data2 + l4;
    if ((void *)(udp + 1) > end2)
        return TC_ACT_SHOT;
    udp->source = r.relay_port;
    udp->dest = r.peer_port;
    udp->len = bpf_htons(new_len);
    udp->check = 0;
    if (finish_checksum(skb, l4, v6, state, new_len, r.relay_ip, r.peer_ip, carried, NULL, 0))
        return TC_ACT_SHOT;
    count(r.counter_slot * 2, length);
    out->ifindex = r.out_ifindex;
    out->flags = r.flags;
    return REWRITTEN;
}

// Peer to client: a datagram to a relayed address becomes ChannelData to the client, sent from
// the relay's listening address.
static __always_inline int from_peer(struct __sk_buff *skb, struct parsed *p, struct hop *out, int hairpin) {
    struct peer_key key = {};
    __builtin_memcpy(key.peer_ip, p->src, 16);
    __builtin_memcpy(key.relay_ip, p->dst, 16);
    key.peer_port = p->sport;
    key.relay_port = p->dport;
    key.family = p->v6 ? AF_INET6 : AF_INET;
    struct peer_value *route = bpf_map_lookup_elem(&peers, &key);
    if (!route || route->expires_ns <= bpf_ktime_get_ns())
        return TC_ACT_UNSPEC;
    struct peer_value r = *route;
    __u32 length = p->udp_len - sizeof(struct udphdr);
    if (length > MAX_PAYLOAD || r.out_ifindex == 0)
        return TC_ACT_UNSPEC;
    // To a client on this host in the other family: user space, as above (but for the hairpin's
    // second hop, which turns the packet back to the family it arrived in).
    if ((r.flags & CHANNEL_RELAY_LOCAL) && (r.flags & CHANNEL_RELAY_OTHER_FAMILY) && !hairpin)
        return TC_ACT_UNSPEC;
    enum checksum_state state = checksum_state(p);
    __u32 new_len = p->udp_len + 4;
    __u32 carried = 0;
    if (state == CHECKSUM_FULL) {
        __s64 sum = payload_sum(p, NULL, 0);
        if (sum < 0)
            return TC_ACT_UNSPEC;
        carried = (__u32)sum;
    }
    __u16 number = bpf_ntohs(r.channel);
    __u8 header[4] = { number >> 8, number & 0xff, length >> 8, length & 0xff };
    // The tail grows by 4 and the payload moves down to make room for the ChannelData header
    // after the UDP header, which stays where it is.
    if (bpf_skb_change_tail(skb, skb->len + 4, 0))
        return TC_ACT_SHOT;
    if (move_bytes(skb, p->l4 + sizeof(struct udphdr), p->l4 + sizeof(struct udphdr) + 4, length))
        return TC_ACT_SHOT;
    int v6 = p->v6;
    if (r.flags & CHANNEL_RELAY_OTHER_FAMILY) {
        v6 = !v6;
        if (replace_ip(skb, v6, r.server_ip, r.client_ip, new_len))
            return TC_ACT_SHOT;
    } else if (rewrite_ip(skb, v6, r.server_ip, r.client_ip, 4)) {
        return TC_ACT_SHOT;
    }
    __u32 l4 = sizeof(struct ethhdr) + (v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr));
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct udphdr *udp = data + l4;
    __u8 *cd = (__u8 *)(udp + 1);
    if ((void *)(cd + 4) > end)
        return TC_ACT_SHOT;
    udp->source = r.server_port;
    udp->dest = r.client_port;
    udp->len = bpf_htons(new_len);
    udp->check = 0;
    __builtin_memcpy(cd, header, 4);
    if (finish_checksum(skb, l4, v6, state, new_len, r.server_ip, r.client_ip, carried, header, 4))
        return TC_ACT_SHOT;
    count(r.counter_slot * 2 + 1, length);
    out->ifindex = r.out_ifindex;
    out->flags = r.flags;
    return REWRITTEN;
}

SEC("tc")
int turn_channel_relay(struct __sk_buff *skb) {
    // The whole datagram in the linear area, so it can be read and summed directly.
    if (skb->len > sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct udphdr) + 4 + MAX_PAYLOAD)
        return TC_ACT_UNSPEC;
    if (bpf_skb_pull_data(skb, skb->len))
        return TC_ACT_UNSPEC;
    struct parsed p;
    if (parse(skb, &p))
        return TC_ACT_UNSPEC;
    struct hop hop = {};
    int verdict = from_client(skb, &p, &hop);
    if (verdict == REWRITTEN) {
        // To an address of this host: when it is another allocation's relayed address (both
        // parties on this relay, as when two clients of one XMPP server use its TURN service),
        // that allocation's peer route takes it on at once, as user space would.
        __u32 other_family = hop.flags & CHANNEL_RELAY_OTHER_FAMILY;
        if (hop.flags & CHANNEL_RELAY_LOCAL) {
            struct parsed again;
            struct hop onward = {};
            if (parse(skb, &again) == 0) {
                int next = from_peer(skb, &again, &onward, 1);
                if (next == REWRITTEN)
                    return send(skb, &onward, other_family ^ (onward.flags & CHANNEL_RELAY_OTHER_FAMILY));
                if (next != TC_ACT_UNSPEC)
                    return next;
            }
        }
        return send(skb, &hop, other_family);
    }
    if (verdict != TC_ACT_UNSPEC)
        return verdict;
    verdict = from_peer(skb, &p, &hop, 0);
    return verdict == REWRITTEN ? send(skb, &hop, hop.flags & CHANNEL_RELAY_OTHER_FAMILY) : verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
