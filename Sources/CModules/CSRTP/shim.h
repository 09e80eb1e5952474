#ifndef JINGLEKIT_CSRTP_SHIM_H
#define JINGLEKIT_CSRTP_SHIM_H
#include <srtp2/srtp.h>

/* SRTP_MAX_TRAILER_LEN is a macro over other macros: room protect needs after the packet. */
static inline int jk_srtp_max_trailer_len(void) { return SRTP_MAX_TRAILER_LEN; }
#endif
