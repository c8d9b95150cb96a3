/* Per-reason packet counters: every verdict of every program is recorded here exactly once. */
#ifndef KBP_STATS_H
#define KBP_STATS_H

#include "maps.h"

static __always_inline void stats_count(__u32 reason, __u32 len)
{
	struct stat_val *v = bpf_map_lookup_elem(&stats, &reason);

	if (v) {
		v->packets++;
		v->bytes += len;
	}
}

#endif
