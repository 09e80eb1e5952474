// Entry points for the fuzz executables.
//
// SwiftPM links an executable's `main` to `<module>_main` (so executables can be linked into
// tests), which means libFuzzer's own main() is never used. Swift cannot define that symbol
// itself here: under -sanitize=fuzzer the compiler turns a module's entry point into
// LLVMFuzzerTestOneInput. So each target's `<module>_main` is defined here, in C, and starts
// libFuzzer's driver over the target's @_cdecl("LLVMFuzzerTestOneInput") function. Every fuzz
// executable links all of them; only its own is called. A new target adds one line below.
#include <stddef.h>
#include <stdint.h>
#include "CFuzzerDriver.h"

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ENTRY(module) \
    int module##_main(int argc, char **argv) { return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput); }

FUZZ_ENTRY(fuzz_xml_stream)
FUZZ_ENTRY(fuzz_jingle)
FUZZ_ENTRY(fuzz_sdp)
FUZZ_ENTRY(fuzz_stun)
