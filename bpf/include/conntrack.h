/* Connection tracking: lookup with expiry, creation of both legs, lifetimes by TCP state. */
#ifndef KBP_CONNTRACK_H
#define KBP_CONNTRACK_H

#include <stdbool.h>
#include "maps.h"
#include "parse.h"

#define NSEC_PER_SEC 1000000000ULL
#define CT_LIFETIME_TCP_SYN (60 * NSEC_PER_SEC)
#define CT_LIFETIME_TCP_ESTABLISHED (6 * 3600 * NSEC_PER_SEC)
#define CT_LIFETIME_TCP_CLOSING (10 * NSEC_PER_SEC)
#define CT_LIFETIME_NON_TCP (60 * NSEC_PER_SEC)

static __always_inline void ct_key_from_flow(struct ct_key_v4 *key, const struct flow4 *f, enum ct_dir dir)
{
	key->saddr = f->saddr;
	key->daddr = f->daddr;
	key->sport = f->sport;
	key->dport = f->dport;
	key->proto = f->proto;
	key->dir = dir;
	key->pad = 0;
}

/* A live entry for key, or NULL (absent or expired). */
static __always_inline struct ct_entry_v4 *ct_lookup(const struct ct_key_v4 *key, __u64 now)
{
	struct ct_entry_v4 *e = bpf_map_lookup_elem(&ct_v4, key);

	if (!e || e->expires_ns < now)
		return NULL;
	return e;
}

static __always_inline __u64 ct_lifetime(const struct flow4 *f, __u16 ct_flags)
{
	if (f->proto != IPPROTO_TCP)
		return CT_LIFETIME_NON_TCP;
	if (ct_flags & CT_F_CLOSING)
		return CT_LIFETIME_TCP_CLOSING;
	if (ct_flags & CT_F_SEEN_REPLY)
		return CT_LIFETIME_TCP_ESTABLISHED;
	return CT_LIFETIME_TCP_SYN;
}

/* Accounts one packet on a live entry and moves its deadline by the flow's state. */
static __always_inline void ct_refresh(struct ct_entry_v4 *e, const struct flow4 *f, __u32 len, __u64 now,
				       __u16 set_flags)
{
	__u16 flags = e->flags | set_flags;

	if (f->tcp_flags & (TCP_F_FIN | TCP_F_RST))
		flags |= CT_F_CLOSING;
	if (flags != e->flags)
		e->flags = flags;
	e->expires_ns = now + ct_lifetime(f, flags);
	/* Plain adds: a flow runs on one CPU at a time as a rule, and an exact count is not worth a
	 * locked instruction per packet. */
	e->packets++;
	e->bytes += len;
}

/*
 * The live service-leg entry of a flow and its backend (*be), refreshed; NULL for a new flow. A SYN
 * on a closing flow is a new connection reusing the port: it is balanced afresh, as netfilter does
 * for a SYN on a TIME_WAIT entry. An entry whose backend is gone is returned with *be NULL.
 */
static __always_inline struct ct_entry_v4 *ct_lookup_flow(const struct ct_key_v4 *key, const struct flow4 *f, __u32 len,
							  __u64 now, struct backend_v4 **be)
{
	struct ct_entry_v4 *ct = ct_lookup(key, now);

	*be = NULL;
	if (!ct || ((ct->flags & CT_F_CLOSING) && (f->tcp_flags & (TCP_F_SYN | TCP_F_ACK)) == TCP_F_SYN))
		return NULL;
	*be = bpf_map_lookup_elem(&backends_v4, &ct->backend_id);
	if (*be)
		ct_refresh(ct, f, len, now, 0);
	return ct;
}

/*
 * The live reply leg a reply packet belongs to and the frontend it must come from (*rn), refreshed as
 * seen; NULL when there is none. `snat`: only flows source-NATed to this node (a remote backend's
 * reply), or only those that were not (pod flows never are).
 */
static __always_inline struct ct_entry_v4 *ct_lookup_reply(const struct flow4 *f, enum ct_dir dir, bool snat, __u32 len,
							   struct revnat_v4 **rn)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct ct_entry_v4 *ct;
	struct ct_key_v4 key;

	ct_key_from_flow(&key, f, dir);
	ct = ct_lookup(&key, now);
	if (!ct || (ct->nat_port != 0) != snat)
		return NULL;
	*rn = bpf_map_lookup_elem(&revnat_v4, &ct->revnat_id);
	if (!*rn) /* the service is gone: nothing to translate back to */
		return NULL;
	ct_refresh(ct, f, len, now, CT_F_SEEN_REPLY);
	return ct;
}

/* How the reply leg of a new flow is keyed: as the backend's reply will reach us. */
struct ct_reply_leg {
	__u8 service_dir; /* CT_DIR_SERVICE or CT_DIR_EXTERNAL: the client's leg */
	__u8 reply_dir;   /* its CT_DIR_*REPLY */
	__u16 flags;      /* enum ct_flags of the new flow */
	__be32 daddr;     /* the reply's destination: the client, the hairpin address or this node */
	__be16 dport;     /* ... and port: the client's, or the node's NAT port */
	__be16 nat_port;  /* the NAT port when the flow is source-NATed to this node, else 0 */
};

/* The key of a reply from `be` to (daddr, dport). */
static __always_inline void ct_reply_key(struct ct_key_v4 *key, const struct backend_v4 *be, __be32 daddr, __be16 dport,
					 __u8 proto, __u8 dir)
{
	key->saddr = be->ip;
	key->daddr = daddr;
	key->sport = be->port;
	key->dport = dport;
	key->proto = proto;
	key->dir = dir;
	key->pad = 0;
}

/*
 * Creates both legs of a new translated flow: the client's leg keyed by its packet as sent (to the
 * frontend) and the reply leg keyed as the backend's reply will arrive. Returns 0 or -STAT_DROP_CT_FULL.
 */
static __always_inline int ct_create(const struct flow4 *f, const struct svc_val_v4 *svc, const struct backend_v4 *be,
				     __u32 backend_id, const struct ct_reply_leg *reply, __u32 len, __u64 now)
{
	struct ct_entry_v4 e = {
		.expires_ns = now + ct_lifetime(f, 0),
		.packets = 1,
		.bytes = len,
		.backend_id = backend_id,
		.revnat_id = svc->revnat_id,
		.svc_id = svc->svc_id,
		.client_ip = f->saddr,
		.flags = reply->flags,
		.client_port = f->sport,
		.nat_port = reply->nat_port,
	};
	struct ct_key_v4 key;

	ct_key_from_flow(&key, f, reply->service_dir);
	if (bpf_map_update_elem(&ct_v4, &key, &e, BPF_ANY) < 0)
		return -STAT_DROP_CT_FULL;
	ct_reply_key(&key, be, reply->daddr, reply->dport, f->proto, reply->reply_dir);
	e.packets = 0;
	e.bytes = 0;
	if (bpf_map_update_elem(&ct_v4, &key, &e, BPF_ANY) < 0)
		return -STAT_DROP_CT_FULL;
	return 0;
}

#endif
