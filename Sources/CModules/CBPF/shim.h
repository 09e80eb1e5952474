#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <net/if.h>
#include "channel_relay_maps.h"
