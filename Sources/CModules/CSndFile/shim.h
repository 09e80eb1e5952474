#ifndef JINGLEKIT_CSNDFILE_SHIM_H
#define JINGLEKIT_CSNDFILE_SHIM_H
#include <sndfile.h>

/* The SFM_* and SF_FORMAT_* constants are anonymous enums; give Swift typed values. */
static inline int jk_sf_mode_read(void) { return SFM_READ; }
static inline int jk_sf_format_typemask(void) { return SF_FORMAT_TYPEMASK; }
static inline int jk_sf_format_submask(void) { return SF_FORMAT_SUBMASK; }
#endif
