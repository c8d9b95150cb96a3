/* Per-reason packet counters: every verdict of every program is recorded here exactly once. */
#ifndef KBP_STATS_H
#define KBP_STATS_H

#include "maps.h"

/* Counts an outcome (ret >= 0) or a drop (ret < 0) under its reason. */
static __always_inline void stats_count(int ret, __u32 len)
{
	__u32 reason = ret < 0 ? -ret : ret;
	struct stat_val *v = bpf_map_lookup_elem(&stats, &reason);

	if (v) {
		v->packets++;
		v->bytes += len;
	}
}

#endif
