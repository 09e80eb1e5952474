// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
//
// jingle-relay's kernel fast path (TC clsact, ingress): TURN ChannelData (RFC 8656 §12.5) from
// a UDP client becomes a plain UDP datagram from the relayed address to the peer, and a peer's
// datagram to a relayed address becomes ChannelData to the client, without the packet going up
// to user space. The relay's TURN engine stays the authority: it writes the two maps for each
// channel that is bound and has a live permission, with an expiry stamp the program checks, and
// removes entries when either ends. Anything the program does not handle exactly (no entry, an
// expired one, IP options, fragments, IPv6 extension headers, bytes after the message, a
// destination without an interface, a packet whose device summed it whole) is left unchanged
// with TC_ACT_UNSPEC: the next filter on the interface (another relay's, another program's)
// sees it, and without one it goes up the stack to user space.
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

// The UDP checksum (RFC 768; RFC 8200 §8.1 for IPv6) of the segment at `l4` (its checksum field
// already zero), computed whole: the packet's own may have been only partial (a local sender's
// checksum offload), and resizing the packet resets the offload state. Sums in memory order,
// as the kernel's csum helpers do, so the result is stored as it comes.
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

// The pseudo-header's ones' complement sum, in memory order (-1 on error).
static __always_inline __s64 pseudo_sum(int v6, const __u8 *src, const __u8 *dst, __u32 len) {
    if (v6) {
        struct pseudo6 ph = {};
        __builtin_memcpy(ph.src, src, 16);
        __builtin_memcpy(ph.dst, dst, 16);
        ph.length = bpf_htonl(len);
        ph.next = IPPROTO_UDP;
        return bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
    }
    struct pseudo4 ph = {};
    __builtin_memcpy(ph.src, src, 4);
    __builtin_memcpy(ph.dst, dst, 4);
    ph.protocol = IPPROTO_UDP;
    ph.length = bpf_htons(len);
    return bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
}

// The full UDP checksum of the segment at `l4` (its checksum field already zero).
static __always_inline int udp_checksum(struct __sk_buff *skb, __u32 l4, __u32 len, const __u8 *src,
                                        const __u8 *dst, int v6, __u16 *out) {
    __s64 sum = pseudo_sum(v6, src, dst, len);
    if (sum < 0)
        return -1;
    __u8 buf[64];
    for (int i = 0; i < (MAX_PAYLOAD + 8 + 4 + 63) / 64; i++) {
        __u32 done = i * 64;
        if (done >= len)
            break;
        __u32 n = len - done;
        if (n >= 64) {
            if (bpf_skb_load_bytes(skb, l4 + done, buf, 64))
                return -1;
            sum = bpf_csum_diff(NULL, 0, (__be32 *)buf, 64, (__u32)sum);
        } else {
            __builtin_memset(buf, 0, sizeof(buf));
            // 1...63 bytes, in a form the verifier bounds (n is not 0: done < len).
            n = ((n - 1) & 63) + 1;
            if (bpf_skb_load_bytes(skb, l4 + done, buf, n))
                return -1;
            __u32 padded = ((n + 3) & ~3U) & 0x7f;
            if (padded < 4 || padded > 64)
                return -1;
            sum = bpf_csum_diff(NULL, 0, (__be32 *)buf, padded, (__u32)sum);
        }
        if (sum < 0)
            return -1;
    }
    __u16 c = ~fold((__u32)sum);
    *out = c == 0 ? 0xffff : c;
    return 0;
}

// How the datagram's UDP checksum stands, which decides how the rewritten one is written.
enum checksum_state {
    CHECKSUM_FULL,      // complete in the packet (or verified by the device): recompute it whole
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
    __s64 sum = pseudo_sum(p->v6, p->src, p->dst, p->udp_len);
    if (sum >= 0 && p->csum == fold((__u32)sum))
        return CHECKSUM_OFFLOADED;
    return CHECKSUM_FULL;
}

// Writes the rewritten datagram's checksum in the form its state asks for.
static __always_inline int finish_checksum(struct __sk_buff *skb, struct parsed *p, enum checksum_state state,
                                           __u32 udp_len, const __u8 *src, const __u8 *dst) {
    __u16 c = 0;
    if (state == CHECKSUM_OFFLOADED) {
        __s64 sum = pseudo_sum(p->v6, src, dst, udp_len);
        if (sum < 0)
            return -1;
        c = fold((__u32)sum);
    } else if (state == CHECKSUM_FULL) {
        if (udp_checksum(skb, p->l4, udp_len, src, dst, p->v6, &c))
            return -1;
    }
    return bpf_skb_store_bytes(skb, p->l4 + 6, &c, 2, 0) ? -1 : 0;
}

// Moves `len` bytes from offset `from` to offset `to` (4 bytes apart here) in chunks, from the
// end when moving towards the tail, so nothing is overwritten before it is read.
static __always_inline int move_bytes(struct __sk_buff *skb, __u32 from, __u32 to, __u32 len) {
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

// Sends the rewritten packet on: out of the interface toward its destination, which resolves
// the next hop's link address (bpf_redirect_neigh, an output route lookup: no forwarding needs to
// be enabled on the relay), or, for a destination on this host, into the loopback interface.
static __always_inline int send(struct __sk_buff *skb, __u32 ifindex, __u32 flags) {
    if (flags & CHANNEL_RELAY_LOCAL) {
        if (skb->ifindex == ifindex)
            return TC_ACT_OK;
        return bpf_redirect(ifindex, BPF_F_INGRESS);
    }
    return bpf_redirect_neigh(ifindex, NULL, 0, 0);
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

// Client to peer: ChannelData on the relay's listening address becomes the payload alone, sent
// from the relayed address to the peer.
static __always_inline int from_client(struct __sk_buff *skb, struct parsed *p) {
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
    // CHECKSUM_COMPLETE (the device summed the whole packet into the skb): rewriting would leave
    // that sum stale for a receiver on this host, so such packets stay in user space.
    if (bpf_csum_update(skb, 0) >= 0)
        return TC_ACT_UNSPEC;
    enum checksum_state state = checksum_state(p);
    __u32 new_len = sizeof(struct udphdr) + length;
    __u32 removed = 4 + padding;
    // The payload moves up over the ChannelData header and the tail is cut; the UDP header
    // stays where it is (an offloaded checksum's start offset keeps pointing at it). From here
    // the packet is ours: drop it rather than pass a half-rewritten one on.
    if (move_bytes(skb, p->l4 + sizeof(struct udphdr) + 4, p->l4 + sizeof(struct udphdr), length))
        return TC_ACT_SHOT;
    if (bpf_skb_change_tail(skb, skb->len - removed, 0))
        return TC_ACT_SHOT;
    if (rewrite_ip(skb, p->v6, r.relay_ip, r.peer_ip, -(int)removed))
        return TC_ACT_SHOT;
    void *data2 = (void *)(long)skb->data;
    void *end2 = (void *)(long)skb->data_end;
    struct udphdr *udp = data2 + p->l4;
    if ((void *)(udp + 1) > end2)
        return TC_ACT_SHOT;
    udp->source = r.relay_port;
    udp->dest = r.peer_port;
    udp->len = bpf_htons(new_len);
    udp->check = 0;
    if (finish_checksum(skb, p, state, new_len, r.relay_ip, r.peer_ip))
        return TC_ACT_SHOT;
    count(r.counter_slot * 2, length);
    return send(skb, r.out_ifindex, r.flags);
}

// Peer to client: a datagram to a relayed address becomes ChannelData to the client, sent from
// the relay's listening address.
static __always_inline int from_peer(struct __sk_buff *skb, struct parsed *p) {
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
    if (bpf_csum_update(skb, 0) >= 0)
        return TC_ACT_UNSPEC;
    enum checksum_state state = checksum_state(p);
    __u32 new_len = p->udp_len + 4;
    // The tail grows by 4 and the payload moves down to make room for the ChannelData header
    // after the UDP header, which stays where it is.
    if (bpf_skb_change_tail(skb, skb->len + 4, 0))
        return TC_ACT_SHOT;
    if (move_bytes(skb, p->l4 + sizeof(struct udphdr), p->l4 + sizeof(struct udphdr) + 4, length))
        return TC_ACT_SHOT;
    if (rewrite_ip(skb, p->v6, r.server_ip, r.client_ip, 4))
        return TC_ACT_SHOT;
    void *data = (void *)(long)skb->data;
    void *end = (void *)(long)skb->data_end;
    struct udphdr *udp = data + p->l4;
    __u8 *cd = (__u8 *)(udp + 1);
    if ((void *)(cd + 4) > end)
        return TC_ACT_SHOT;
    udp->source = r.server_port;
    udp->dest = r.client_port;
    udp->len = bpf_htons(new_len);
    udp->check = 0;
    __u16 number = bpf_ntohs(r.channel);
    cd[0] = number >> 8;
    cd[1] = number & 0xff;
    cd[2] = length >> 8;
    cd[3] = length & 0xff;
    if (finish_checksum(skb, p, state, new_len, r.server_ip, r.client_ip))
        return TC_ACT_SHOT;
    count(r.counter_slot * 2 + 1, length);
    return send(skb, r.out_ifindex, r.flags);
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
    int verdict = from_client(skb, &p);
    if (verdict != TC_ACT_UNSPEC)
        return verdict;
    return from_peer(skb, &p);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
