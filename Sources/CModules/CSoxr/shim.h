#ifndef JINGLEKIT_CSOXR_SHIM_H
#define JINGLEKIT_CSOXR_SHIM_H
#include <soxr.h>

/* SOXR_VHQ and SOXR_FLOAT32_I are macros or enum values Swift sees untyped; soxr_error_t is a
   const char pointer, NULL on success. */
static inline soxr_quality_spec_t jk_soxr_very_high_quality(void) { return soxr_quality_spec(SOXR_VHQ, 0); }
static inline soxr_io_spec_t jk_soxr_float32_mono_io(void) { return soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I); }
#endif
