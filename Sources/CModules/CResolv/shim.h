#ifndef JINGLEKIT_CRESOLV_SHIM_H
#define JINGLEKIT_CRESOLV_SHIM_H
/*
 * glibc's stub resolver (libresolv) for the XMPP SRV look-up, with a resolver state per call
 * (res_ninit/res_nsearch/res_nclose are thread-safe on a state of their own, unlike the global
 * _res). <resolv.h> renames res_ninit and friends with macros (res_ninit -> __res_ninit), which
 * Swift does not see through, and the state's ndots is a bit-field; the wrappers below give Swift
 * plain functions. The setters exist to point a state at other name servers or search domains
 * than /etc/resolv.conf's (the agent's hidden --dns-server, and the tests' DNS server on
 * loopback); glibc then uses the state's fields as set (a modified state is not reloaded).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

/* A resolver state of its own, initialised from /etc/resolv.conf (and the RES_OPTIONS and
 * LOCALDOMAIN environment variables); NULL when that fails. Free it with jk_resolv_close. */
static inline struct __res_state *jk_resolv_open(void) {
    struct __res_state *state = calloc(1, sizeof(struct __res_state));
    if (state == NULL) return NULL;
    if (res_ninit(state) != 0) {
        free(state);  /* res_ninit allocates nothing when it fails */
        return NULL;
    }
    return state;
}

static inline void jk_resolv_close(struct __res_state *state) {
    res_nclose(state);
    free(state);
}

/* res_nsearch for name's records of class IN and `type` (ns_t_srv is 33): the answer's length
 * (which may exceed `length` when the answer did not fit), or -1 with jk_resolv_error set. */
static inline int jk_resolv_search(struct __res_state *state, const char *name, int type,
                                   unsigned char *answer, int length) {
    return res_nsearch(state, name, ns_c_in, type, answer, length);
}

/* Why the last search failed: HOST_NOT_FOUND (no such name), NO_DATA (no records of the
 * type), TRY_AGAIN (no server answered, or SERVFAIL), NO_RECOVERY (REFUSED, FORMERR...). */
static inline int jk_resolv_error(const struct __res_state *state) { return state->res_h_errno; }

static inline int jk_resolv_nameserver_count(const struct __res_state *state) { return state->nscount; }
static inline int jk_resolv_retrans(const struct __res_state *state) { return state->retrans; }
static inline int jk_resolv_retry(const struct __res_state *state) { return state->retry; }

/* Seconds to wait for each server's answer, and rounds over the servers (resolv.conf's
 * `options timeout:N attempts:N`). */
static inline void jk_resolv_set_timing(struct __res_state *state, int retrans, int retry) {
    if (retrans > 0) state->retrans = retrans;
    if (retry > 0) state->retry = retry;
}

/* resolv.conf's `options ndots:N` (0 to 15). */
static inline void jk_resolv_set_ndots(struct __res_state *state, unsigned ndots) {
    state->ndots = ndots > RES_MAXNDOTS ? RES_MAXNDOTS : ndots;
    state->options |= RES_NORELOAD;
}

/* Replaces the name servers: `count` (at most MAXNS) numeric IPv4 or IPv6 addresses with their
 * ports. Returns 0, or -1 (state unchanged) when an address is not numeric. Must be called before
 * the state's first query. IPv6 servers live in the extended state (as res_ninit puts them). */
static inline int jk_resolv_set_nameservers(struct __res_state *state, const char *const *hosts,
                                            const unsigned short *ports, int count) {
    if (count < 0 || count > MAXNS) return -1;
    struct sockaddr_in v4[MAXNS];
    struct sockaddr_in6 v6[MAXNS];
    int is6[MAXNS];
    for (int i = 0; i < count; i++) {
        memset(&v4[i], 0, sizeof v4[i]);
        memset(&v6[i], 0, sizeof v6[i]);
        if (inet_pton(AF_INET, hosts[i], &v4[i].sin_addr) == 1) {
            v4[i].sin_family = AF_INET;
            v4[i].sin_port = htons(ports[i]);
            is6[i] = 0;
        } else if (inet_pton(AF_INET6, hosts[i], &v6[i].sin6_addr) == 1) {
            v6[i].sin6_family = AF_INET6;
            v6[i].sin6_port = htons(ports[i]);
            is6[i] = 1;
        } else {
            return -1;
        }
    }
    for (int i = 0; i < MAXNS; i++) {
        free(state->_u._ext.nsaddrs[i]);
        state->_u._ext.nsaddrs[i] = NULL;
        memset(&state->nsaddr_list[i], 0, sizeof state->nsaddr_list[i]);
    }
    for (int i = 0; i < count; i++) {
        if (is6[i]) {
            struct sockaddr_in6 *copy = malloc(sizeof *copy);
            if (copy == NULL) return -1;
            *copy = v6[i];
            state->_u._ext.nsaddrs[i] = copy;  /* nsaddr_list[i].sin_family stays 0 */
        } else {
            state->nsaddr_list[i] = v4[i];
        }
    }
    state->nscount = count;
    state->_u._ext.nscount = 0;  /* res_send copies the list again at the first query */
    state->options |= RES_NORELOAD;
    return 0;
}

/* Replaces the search list (resolv.conf's `search`): at most MAXDNSRCH domains, stored in the
 * state's own buffer. Returns the number kept (a domain that no longer fits is dropped). */
static inline int jk_resolv_set_search(struct __res_state *state, const char *const *domains, int count) {
    size_t used = 0;
    int kept = 0;
    for (int i = 0; i < count && kept < MAXDNSRCH; i++) {
        size_t length = strlen(domains[i]);
        if (length == 0 || used + length + 1 > sizeof state->defdname) continue;
        memcpy(state->defdname + used, domains[i], length + 1);
        state->dnsrch[kept++] = state->defdname + used;
        used += length + 1;
    }
    state->dnsrch[kept] = NULL;
    if (kept == 0) state->defdname[0] = '\0';
    state->options |= RES_NORELOAD;
    return kept;
}

static inline int jk_resolv_is_numeric_address(const char *host) {
    unsigned char buffer[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buffer) == 1 || inet_pton(AF_INET6, host, buffer) == 1;
}

#endif
