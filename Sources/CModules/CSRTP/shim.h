#ifndef JINGLEKIT_CSRTP_SHIM_H
#define JINGLEKIT_CSRTP_SHIM_H
#include <srtp2/srtp.h>
#endif
