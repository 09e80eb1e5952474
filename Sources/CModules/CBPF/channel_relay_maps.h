/* The maps shared by jingle-relay's kernel fast path (turn_channel_relay.bpf.c) and its loader
 * (RelayFastPath): one layout for both sides. Addresses are 16 bytes, an IPv4 address in the
 * first 4 (the rest zero); ports and channel numbers in network byte order; families AF_INET (2)
 * or AF_INET6 (10). SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause */
#ifndef CHANNEL_RELAY_MAPS_H
#define CHANNEL_RELAY_MAPS_H

#include <linux/types.h>

/* Entries in each map; counter slots are twice as many (one per direction). */
#define CHANNEL_RELAY_MAX_ENTRIES 65536

/* Client to peer: the client's 5-tuple with the relay's listening address, and the channel. */
struct channel_relay_channel_key {
    __u8 client_ip[16];
    __u8 server_ip[16];
    __u16 client_port;
    __u16 server_port;
    __u16 channel;
    __u16 family;
};

struct channel_relay_channel_value {
    __u8 peer_ip[16];
    __u8 relay_ip[16];
    __u16 peer_port;
    __u16 relay_port;
    /* Counters: slot 2n for this direction. */
    __u32 counter_slot;
    /* The interface toward the peer (its route, as user space read it), or the loopback
     * interface with CHANNEL_RELAY_LOCAL for a peer on this host. */
    __u32 out_ifindex;
    __u32 flags;
    /* CLOCK_MONOTONIC (bpf_ktime_get_ns): the earlier of the channel's and the permission's end. */
    __u64 expires_ns;
};

/* The destination is an address of this host: delivered through the loopback interface. */
#define CHANNEL_RELAY_LOCAL 1
/* The destination is of the other address family than the packet that arrives (an IPv6 client
 * with an IPv4 relayed address, or the reverse): the IP header is replaced, not rewritten. */
#define CHANNEL_RELAY_OTHER_FAMILY 2

/* Peer to client: the peer's address and the relayed address it sent to. */
struct channel_relay_peer_key {
    __u8 peer_ip[16];
    __u8 relay_ip[16];
    __u16 peer_port;
    __u16 relay_port;
    __u16 family;
    __u16 pad;
};

struct channel_relay_peer_value {
    __u8 client_ip[16];
    __u8 server_ip[16];
    __u16 client_port;
    __u16 server_port;
    __u16 channel;
    __u16 pad;
    /* Counters: slot 2n + 1 for this direction. */
    __u32 counter_slot;
    /* The interface toward the client, and CHANNEL_RELAY_LOCAL, as for the peer. */
    __u32 out_ifindex;
    __u32 flags;
    __u64 expires_ns;
};

/* Per CPU, per slot: datagrams and payload bytes relayed in the kernel. */
struct channel_relay_counter {
    __u64 packets;
    __u64 bytes;
};

#endif
