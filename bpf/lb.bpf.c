// SPDX-License-Identifier: GPL-2.0
/*
 * Service load balancing. On the host side of every pod interface:
 *   kbp_from_pod   (tc ingress): a pod's packet to a service is DNATed to a backend chosen by
 *                                conntrack, session affinity or Maglev; hairpin replies are handed back.
 *   kbp_to_pod     (tc egress):  a backend's reply is reverse-NATed to the service address.
 * On the node's own interface (see external.h):
 *   kbp_from_world (xdp):        outside traffic to node ports, load-balancer and external IPs.
 *   kbp_to_world   (tc egress):  local backends' replies to it, reverse-NATed.
 * On the node's own sockets (cgroup, see sock.h): kbp_sock_* point host-network clients at backends.
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
#include "external.h"
#include "sock.h"
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
	case STAT_EXTERNAL_REPLY:
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

/* Parses a tc packet into *f: true for a flow to handle; otherwise the packet is counted and
 * *verdict is what to return for it. */
static __always_inline bool parse_or_finish(struct __sk_buff *skb, struct flow4 *f, __u32 len, int *verdict)
{
	int ret = parse_flow4(skb, f);

	if (ret == PARSE_OK)
		return true;
	*verdict = finish(skb, ret < 0 ? -ret : STAT_PASS, len);
	return false;
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
	ct = ct_lookup_flow(&key, f, skb->len, now, &be);
	if (ct)
		backend_id = ct->backend_id;
	if (!be) { /* new flow, or its backend is gone: choose (again) */
		if (!svc->backend_count) {
			err = f->proto == IPPROTO_TCP ? reject_tcp(skb, f) : reject_udp(skb, f);
			return err ? -err : STAT_REJECT_NO_BACKEND;
		}
		be = backend_for_new_flow(svc, f, now, &backend_id, &reason);
		if (!be)
			return reason;
		hairpin = be->ip == f->saddr;
		struct ct_reply_leg reply = {
			.service_dir = CT_DIR_SERVICE,
			.reply_dir = CT_DIR_REPLY,
			.flags = hairpin ? CT_F_HAIRPIN : 0,
			.daddr = hairpin ? hairpin_addr : f->saddr,
			.dport = f->sport,
		};

		err = ct_create(f, svc, be, backend_id, &reply, skb->len, now);
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
	int verdict;

	if (!parse_or_finish(skb, &f, len, &verdict))
		return verdict;
	if (f.daddr == hairpin_addr)
		return finish(skb, lookup_reply(skb, &f), len);

	key.vip = f.daddr;
	key.port = f.dport;
	key.proto = f.proto;
	key.scope = SVC_SCOPE_INTERNAL;
	svc = bpf_map_lookup_elem(&svc_v4, &key);
	if (!svc) {
		/* A pod may also use a node port of its own node, a load-balancer or an external IP:
		 * served here, since such packets never reach the node's interface. */
		key.scope = SVC_SCOPE_EXTERNAL;
		svc = bpf_map_lookup_elem(&svc_v4, &key);
	}
	if (!svc)
		return finish(skb, STAT_PASS, len);
	return finish(skb, lb_to_service(skb, &f, svc), len);
}

SEC("tc")
int kbp_to_pod(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	struct flow4 f;
	int verdict;

	if (!parse_or_finish(skb, &f, len, &verdict))
		return verdict;
	return finish(skb, lookup_reply(skb, &f), len);
}

SEC("xdp")
int kbp_from_world(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	struct svc_key_v4 key = {};
	struct svc_val_v4 *svc;
	int action = XDP_PASS;
	struct flow4 f;
	int reason = parse_flow4_xdp(ctx, &f);

	if (reason == PARSE_OK) {
		key.vip = f.daddr;
		key.port = f.dport;
		key.proto = f.proto;
		key.scope = SVC_SCOPE_EXTERNAL;
		svc = bpf_map_lookup_elem(&svc_v4, &key);
		reason = svc ? external_to_service(ctx, &f, svc, &action) : external_reply(ctx, &f, &action);
	} else {
		reason = reason == PARSE_NOT_FLOW ? STAT_PASS : -reason;
	}
	if (reason < 0)
		reason = -reason;
	stats_count(reason, len);
	switch (reason) {
	case STAT_PASS:
	case STAT_CT_NEW:
	case STAT_CT_HIT:
	case STAT_AFFINITY_HIT:
	case STAT_EXTERNAL_LOCAL:
	case STAT_EXTERNAL_REMOTE:
	case STAT_EXTERNAL_REPLY:
	case STAT_REJECT_NO_BACKEND:
		return action;
	default:
		return XDP_DROP;
	}
}

SEC("tc")
int kbp_to_world(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	struct flow4 f;
	int verdict;

	if (!parse_or_finish(skb, &f, len, &verdict))
		return verdict;
	return finish(skb, external_local_reply(skb, &f), len);
}

SEC("cgroup/connect4")
int kbp_sock_connect(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return 1;
	return sock_to_service(ctx, ctx->protocol);
}

SEC("cgroup/sendmsg4")
int kbp_sock_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock_to_service(ctx, IPPROTO_UDP);
}

SEC("cgroup/recvmsg4")
int kbp_sock_recvmsg(struct bpf_sock_addr *ctx)
{
	return sock_from_backend(ctx);
}

SEC("cgroup/getpeername4")
int kbp_sock_getpeername(struct bpf_sock_addr *ctx)
{
	return sock_from_backend(ctx);
}

char LICENSE[] SEC("license") = "GPL";
