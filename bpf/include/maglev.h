/* Frontend lookup and backend selection for a new flow: session affinity first, then the service's Maglev table. */
#ifndef KBP_MAGLEV_H
#define KBP_MAGLEV_H

#include "maps.h"
#include "parse.h"
#include "jhash.h"

/* The flow hash must be the same on every node, so it is seeded by a constant, not per boot. */
#define FLOW_HASH_SEED 0x6b627078

static __always_inline __u32 flow_hash(const struct flow4 *f)
{
	return jhash_3words(f->saddr, f->daddr, ((__u32)f->sport << 16) | f->dport, FLOW_HASH_SEED ^ f->proto);
}

/* Backend id for slot hash % M of the service's table, or 0 when the table or slot is missing. */
static __always_inline __u32 maglev_pick(const struct svc_val_v4 *svc, __u32 hash)
{
	__u32 slot, *backend_id;
	void *table;

	if (!svc->lb_size)
		return 0;
	table = bpf_map_lookup_elem(&maglev_v4, &svc->svc_id);
	if (!table)
		return 0;
	slot = hash % svc->lb_size;
	backend_id = bpf_map_lookup_elem(table, &slot);
	return backend_id ? *backend_id : 0;
}

/* The client's affine backend when affinity is on, still present and not timed out; else 0. */
static __always_inline __u32 affinity_pick(const struct svc_val_v4 *svc, __be32 client, __u64 now)
{
	struct affinity_key_v4 key = { .svc_id = svc->svc_id, .client_ip = client };
	struct affinity_val *a;

	if (!(svc->flags & SVC_F_AFFINITY))
		return 0;
	a = bpf_map_lookup_elem(&affinity_v4, &key);
	if (!a || a->last_used_ns + (__u64)svc->affinity_timeout * NSEC_PER_SEC < now)
		return 0;
	return a->backend_id;
}

static __always_inline void affinity_record(const struct svc_val_v4 *svc, __be32 client, __u32 backend_id, __u64 now)
{
	struct affinity_key_v4 key = { .svc_id = svc->svc_id, .client_ip = client };
	struct affinity_val val = { .last_used_ns = now, .backend_id = backend_id };

	if (svc->flags & SVC_F_AFFINITY)
		bpf_map_update_elem(&affinity_v4, &key, &val, BPF_ANY);
}

/* The frontend a flow is addressed to in this scope, or NULL. */
static __always_inline struct svc_val_v4 *svc_lookup(const struct flow4 *f, enum svc_scope scope)
{
	struct svc_key_v4 key = { .vip = f->daddr, .port = f->dport, .proto = f->proto, .scope = scope };

	return bpf_map_lookup_elem(&svc_v4, &key);
}

/* The frontend a client on this node (a pod, a host process) reaches at f's destination: a cluster
 * IP, else an external frontend, whose Local policy does not bind this node's own clients. */
static __always_inline struct svc_val_v4 *svc_lookup_local_client(const struct flow4 *f)
{
	struct svc_val_v4 *svc = svc_lookup(f, SVC_SCOPE_INTERNAL);

	if (svc)
		return svc;
	svc = svc_lookup(f, SVC_SCOPE_EXTERNAL);
	if (svc && (svc->flags & SVC_F_LOCAL_ORIGIN))
		svc = svc_lookup(f, SVC_SCOPE_LOCAL_ORIGIN);
	return svc;
}

/*
 * A new flow to a cluster IP on a port or protocol that none of its service's ports declares (the
 * agent marks every cluster IP with a {vip, port 0, proto 0} entry): refused, as kube-proxy's nftables
 * mode does. Only the packets that could start a flow pay the lookup.
 */
static __always_inline bool svc_ip_unknown_port(const struct flow4 *f)
{
	struct svc_key_v4 key = { .vip = f->daddr, .port = 0, .proto = 0, .scope = SVC_SCOPE_INTERNAL };

	if (f->proto == IPPROTO_TCP && !tcp_syn_only(f))
		return false;
	return bpf_map_lookup_elem(&svc_v4, &key) != NULL;
}

/* Only sources within the service's loadBalancerSourceRanges, when it has any. */
static __always_inline bool source_allowed(const struct svc_val_v4 *svc, __be32 saddr)
{
	struct src_range_key_v4 key = { .prefixlen = 64, .svc_id = bpf_htonl(svc->svc_id), .addr = saddr };

	if (!(svc->flags & SVC_F_SOURCE_RANGES))
		return true;
	return bpf_map_lookup_elem(&lb_src_v4, &key) != NULL;
}

/* The backend for a new flow: the client's affine one when still usable, else the Maglev slot's.
 * Returns STAT_AFFINITY_HIT or STAT_CT_NEW with *be and *backend_id set, or a drop. */
static __always_inline int backend_for_new_flow(const struct svc_val_v4 *svc, const struct flow4 *f, __u64 now,
						struct backend_v4 **be, __u32 *backend_id)
{
	__u32 id = affinity_pick(svc, f->saddr, now);
	struct backend_v4 *b;
	int ret = STAT_AFFINITY_HIT;

	b = id ? bpf_map_lookup_elem(&backends_v4, &id) : NULL;
	if (!b || (b->flags & BACKEND_F_TERMINATING)) {
		ret = STAT_CT_NEW;
		id = maglev_pick(svc, flow_hash(f));
		if (!id)
			return -STAT_DROP_NO_SLOT;
		b = bpf_map_lookup_elem(&backends_v4, &id);
		if (!b)
			return -STAT_DROP_NO_BACKEND_ENTRY;
	}
	*be = b;
	*backend_id = id;
	return ret;
}

#endif
