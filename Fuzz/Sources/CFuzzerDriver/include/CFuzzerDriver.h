#ifndef C_FUZZER_DRIVER_H
#define C_FUZZER_DRIVER_H
// Nothing to import: this module only supplies the fuzz executables' entry points (see the .c file).
#endif
