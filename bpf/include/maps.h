/* Every map of the datapath; those holding state are pinned by name, so the agent and restarted programs share them. */
#ifndef KBP_MAPS_H
#define KBP_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "types.h"

#ifndef KBP_SVC_MAX
#define KBP_SVC_MAX 131072
#endif
#ifndef KBP_BACKEND_MAX
#define KBP_BACKEND_MAX 262144
#endif
#ifndef KBP_CT_MAX
#define KBP_CT_MAX 262144
#endif
#ifndef KBP_AFFINITY_MAX
#define KBP_AFFINITY_MAX 65536
#endif

/* Frontends: (vip, port, proto, scope) -> service. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KBP_SVC_MAX);
	__type(key, struct svc_key_v4);
	__type(value, struct svc_val_v4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} svc_v4 SEC(".maps");

/* Backends by id (id 0 is never used: an empty Maglev slot reads as 0). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KBP_BACKEND_MAX);
	__type(key, __u32);
	__type(value, struct backend_v4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} backends_v4 SEC(".maps");

/*
 * Template of a per-service Maglev table: BPF_F_INNER_MAP lets each service's table have its own
 * size, BPF_F_MMAPABLE lets the agent write a whole table with one copy.
 */
struct maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
};

/* svc_id -> that service's Maglev table (slot -> backend id): patched in place, or swapped when its size changes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, KBP_SVC_MAX);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct maglev_inner);
} maglev_v4 SEC(".maps");

/* revnat_id -> the service address replies must appear to come from. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KBP_SVC_MAX);
	__type(key, __u32);
	__type(value, struct revnat_v4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} revnat_v4 SEC(".maps");

/* Connection tracking: both legs of every translated flow. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KBP_CT_MAX);
	__type(key, struct ct_key_v4);
	__type(value, struct ct_entry_v4);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ct_v4 SEC(".maps");

/* ClientIP session affinity: (svc, client) -> backend last used. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KBP_AFFINITY_MAX);
	__type(key, struct affinity_key_v4);
	__type(value, struct affinity_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} affinity_v4 SEC(".maps");

/* loadBalancerSourceRanges of the services that have them: (svc_id, source prefix) -> 1. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, KBP_SVC_MAX);
	__type(key, struct src_range_key_v4);
	__type(value, __u8);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_src_v4 SEC(".maps");

/* Host-network sockets pointed at a backend -> the service address they asked for (sock.h). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, KBP_CT_MAX);
	__type(key, struct sock_key_v4);
	__type(value, struct revnat_v4);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sock_revnat_v4 SEC(".maps");

/* Recent FIB answers by destination (external.h); a cache, so not pinned: each load starts empty. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __be32);
	__type(value, struct next_hop);
} next_hop_v4 SEC(".maps");

/* Packet counters by enum stat_reason, per CPU so no atomics are needed. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT__MAX);
	__type(key, __u32);
	__type(value, struct stat_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

#endif
