// SPDX-License-Identifier: GPL-2.0
/*
 * Service load balancing for pod traffic, attached to the host side of every pod interface:
 *   kbp_from_pod (tc ingress): a pod's packet to a service is DNATed to a backend chosen by
 *                              conntrack, session affinity or Maglev; hairpin replies are handed back.
 *   kbp_to_pod   (tc egress):  a backend's reply is reverse-NATed to the service address.
 * Each program has one exit that records the packet's reason in the stats map.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "types.h"
#include "maps.h"
#include "parse.h"
#include "nat.h"
#include "conntrack.h"
#include "maglev.h"
#include "reject.h"
#include "stats.h"

/* Source address for a pod reaching itself through its service (set by the agent at load). */
const volatile __be32 hairpin_addr = bpf_htonl(0xa9fe2a01); /* 169.254.42.1 */

/* Reasons whose packet goes back out of the interface it came in on. */
static __always_inline int verdict(struct __sk_buff *skb, int reason)
{
	switch (reason) {
	case STAT_PASS:
	case STAT_CT_NEW:
	case STAT_CT_HIT:
	case STAT_REVNAT:
	case STAT_AFFINITY_HIT:
		return TC_ACT_OK;
	case STAT_HAIRPIN:
	case STAT_REJECT_NO_BACKEND:
		return bpf_redirect(skb->ifindex, 0);
	default:
		return TC_ACT_SHOT;
	}
}

static __always_inline int finish(struct __sk_buff *skb, int reason, __u32 len)
{
	stats_count(reason, len);
	return verdict(skb, reason);
}

static __always_inline struct backend_v4 *backend_for_new_flow(const struct svc_val_v4 *svc, const struct flow4 *f,
							       __u64 now, __u32 *backend_id, int *reason)
{
	struct backend_v4 *be;
	__u32 id = affinity_pick(svc, f->saddr, now);

	if (id) {
		be = bpf_map_lookup_elem(&backends_v4, &id);
		if (be && !(be->flags & BACKEND_F_TERMINATING)) {
			*backend_id = id;
			*reason = STAT_AFFINITY_HIT;
			return be;
		}
	}
	id = maglev_pick(svc, flow_hash(f));
	if (!id) {
		*reason = STAT_DROP_NO_SLOT;
		return NULL;
	}
	be = bpf_map_lookup_elem(&backends_v4, &id);
	if (!be) {
		*reason = STAT_DROP_NO_BACKEND_ENTRY;
		return NULL;
	}
	*backend_id = id;
	*reason = STAT_CT_NEW;
	return be;
}

/* A packet from a pod to a service frontend. Returns the stat reason. */
static __always_inline int lb_to_service(struct __sk_buff *skb, const struct flow4 *f, const struct svc_val_v4 *svc)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct ct_entry_v4 *ct;
	struct backend_v4 *be = NULL;
	struct ct_key_v4 key;
	__u32 backend_id = 0;
	int reason = STAT_CT_HIT;
	bool hairpin;
	int err;

	ct_key_from_flow(&key, f, CT_DIR_SERVICE);
	ct = ct_lookup(&key, now);
	/* A SYN on a closing flow is a new connection reusing the port: it is balanced afresh, as
	 * netfilter does for a SYN on a TIME_WAIT entry. */
	if (ct && (ct->flags & CT_F_CLOSING) && (f->tcp_flags & (TCP_F_SYN | TCP_F_ACK)) == TCP_F_SYN)
		ct = NULL;
	if (ct) {
		backend_id = ct->backend_id;
		be = bpf_map_lookup_elem(&backends_v4, &backend_id);
		if (be)
			ct_refresh(ct, f, skb->len, now, 0);
	}
	if (!be) { /* new flow, or its backend is gone: choose (again) */
		if (!svc->backend_count) {
			err = f->proto == IPPROTO_TCP ? reject_tcp(skb, f) : reject_udp(skb, f);
			return err ? -err : STAT_REJECT_NO_BACKEND;
		}
		be = backend_for_new_flow(svc, f, now, &backend_id, &reason);
		if (!be)
			return reason;
		hairpin = be->ip == f->saddr;
		err = ct_create(f, be, backend_id, svc, hairpin ? hairpin_addr : f->saddr, skb->len, now);
		if (err)
			return -err;
		affinity_record(svc, f->saddr, backend_id, now);
	}

	hairpin = be->ip == f->saddr;
	err = nat_rewrite(skb, f, NAT_DST, be->ip, be->port);
	if (!err && hairpin)
		err = nat_rewrite(skb, f, NAT_SRC, hairpin_addr, f->sport);
	if (!err && hairpin)
		err = swap_macs(skb);
	if (err)
		return -err;
	return hairpin ? STAT_HAIRPIN : reason;
}

/* Rewrites a reply of a tracked flow so it comes from the service; dst to client for hairpin. */
static __always_inline int reverse_nat(struct __sk_buff *skb, const struct flow4 *f, struct ct_entry_v4 *ct, __u64 now)
{
	struct revnat_v4 *rn = bpf_map_lookup_elem(&revnat_v4, &ct->revnat_id);
	int err;

	if (!rn) /* the service is gone: nothing to translate back to */
		return STAT_PASS;
	ct_refresh(ct, f, skb->len, now, CT_F_SEEN_REPLY);
	err = nat_rewrite(skb, f, NAT_SRC, rn->vip, rn->port);
	if (err)
		return -err;
	if (!(ct->flags & CT_F_HAIRPIN))
		return STAT_REVNAT;
	err = nat_rewrite(skb, f, NAT_DST, ct->client_ip, f->dport);
	if (!err)
		err = swap_macs(skb);
	return err ? -err : STAT_HAIRPIN;
}

static __always_inline int lookup_reply(struct __sk_buff *skb, const struct flow4 *f)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct ct_entry_v4 *ct;
	struct ct_key_v4 key;

	ct_key_from_flow(&key, f, CT_DIR_REPLY);
	ct = ct_lookup(&key, now);
	return ct ? reverse_nat(skb, f, ct, now) : STAT_PASS;
}

SEC("tc")
int kbp_from_pod(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	struct svc_key_v4 key = {};
	struct svc_val_v4 *svc;
	struct flow4 f;
	int ret = parse_flow4(skb, &f);

	if (ret < 0)
		return finish(skb, -ret, len);
	if (ret == PARSE_NOT_FLOW)
		return finish(skb, STAT_PASS, len);
	if (f.daddr == hairpin_addr)
		return finish(skb, lookup_reply(skb, &f), len);

	key.vip = f.daddr;
	key.port = f.dport;
	key.proto = f.proto;
	key.scope = SVC_SCOPE_INTERNAL;
	svc = bpf_map_lookup_elem(&svc_v4, &key);
	if (!svc)
		return finish(skb, STAT_PASS, len);
	return finish(skb, lb_to_service(skb, &f, svc), len);
}

SEC("tc")
int kbp_to_pod(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	struct flow4 f;
	int ret = parse_flow4(skb, &f);

	if (ret < 0)
		return finish(skb, -ret, len);
	if (ret == PARSE_NOT_FLOW)
		return finish(skb, STAT_PASS, len);
	return finish(skb, lookup_reply(skb, &f), len);
}

char LICENSE[] SEC("license") = "GPL";
