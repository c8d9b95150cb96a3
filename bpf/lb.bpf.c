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
 * Helpers return an int: an outcome of enum stat_reason (>= 0; 0 for a step that succeeded) or a drop
 * (< 0, the negated reason); parse_flow4* return the L4 protocol as their outcome. Each kind of program
 * has one exit that counts the reason in the stats map and turns it into the verdict.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "types.h"
#include "config.h"
#include "maps.h"
#include "parse.h"
#include "nat.h"
#include "conntrack.h"
#include "maglev.h"
#include "reject.h"
#include "external.h"
#include "sock.h"
#include "stats.h"

/* tc: a hairpin or an answer goes back out of the interface it came in on. */
static __always_inline int tc_exit(struct __sk_buff *skb, int ret, __u32 len)
{
	stats_count(ret, len);
	if (ret < 0)
		return TC_ACT_SHOT;
	if (ret == STAT_HAIRPIN || ret == STAT_REJECT_NO_BACKEND)
		return bpf_redirect(skb->ifindex, 0);
	return TC_ACT_OK;
}

/* xdp: `action` is the way out the path chose (XDP_PASS unless it sent the frame elsewhere). */
static __always_inline int xdp_exit(int ret, int action, __u32 len)
{
	stats_count(ret, len);
	return ret < 0 ? XDP_DROP : action;
}

/* Socket calls: refused (EPERM) on a drop or a reject. A call that is not for a service is no packet
 * and is not counted. */
static __always_inline int sock_exit(int ret)
{
	if (ret != STAT_PASS)
		stats_count(ret, 0);
	return ret < 0 || ret == STAT_REJECT_NO_BACKEND ? 0 : 1;
}

/* A packet from a pod to a service frontend. */
static __always_inline int lb_to_service(struct __sk_buff *skb, const struct flow4 *f, const struct svc_val_v4 *svc)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct ct_entry_v4 *ct;
	struct backend_v4 *be = NULL;
	struct ct_key_v4 key;
	__u32 backend_id = 0;
	int ret = STAT_CT_HIT;
	bool hairpin;
	int err;

	ct_key_from_flow(&key, f, CT_DIR_SERVICE);
	ct = ct_lookup_flow(&key, f, skb->len, now, &be);
	if (ct)
		backend_id = ct->backend_id;
	if (!be) { /* new flow, or its backend is gone: choose (again) */
		if (!svc->backend_count)
			return svc->flags & SVC_F_DROP_WHEN_EMPTY ? -STAT_DROP_NO_LOCAL_BACKEND : reject(skb, f);
		ret = backend_for_new_flow(svc, f, now, &be, &backend_id);
		if (ret < 0)
			return ret;
		if (ret == STAT_CT_NEW && ct_midflow(f))
			ret = STAT_CT_MIDFLOW;
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
			return err;
		affinity_record(svc, f->saddr, backend_id, now);
	}

	hairpin = be->ip == f->saddr;
	err = nat_rewrite(skb, f, NAT_DST, be->ip, be->port);
	if (!err && hairpin)
		err = nat_rewrite(skb, f, NAT_SRC, hairpin_addr, f->sport);
	if (!err && hairpin)
		err = swap_macs(skb);
	if (err)
		return err;
	return hairpin ? STAT_HAIRPIN : ret;
}

/* A reply of a tracked pod flow, rewritten to come from the service; dst to the client for hairpin. */
static __always_inline int reverse_nat(struct __sk_buff *skb, const struct flow4 *f)
{
	struct ct_entry_v4 *ct;
	struct revnat_v4 *rn;
	int err;

	ct = ct_lookup_reply(f, CT_DIR_REPLY, false, skb->len, &rn);
	if (!ct)
		return STAT_PASS;
	err = nat_rewrite(skb, f, NAT_SRC, rn->vip, rn->port);
	if (err)
		return err;
	if (!(ct->flags & CT_F_HAIRPIN))
		return STAT_REVNAT;
	err = nat_rewrite(skb, f, NAT_DST, ct->client_ip, f->dport);
	if (!err)
		err = swap_macs(skb);
	return err ? err : STAT_HAIRPIN;
}

/* A pod's packet: a hairpin reply, or to a service. A pod may also use a node port of its own node, a
 * load-balancer or an external IP: served here, since such packets never reach the node's interface,
 * by every cluster endpoint and within the load balancer's source ranges, as kube-proxy does. */
static __always_inline int from_pod(struct __sk_buff *skb, const struct flow4 *f)
{
	struct svc_val_v4 *svc;

	if (f->daddr == hairpin_addr)
		return reverse_nat(skb, f);
	svc = svc_lookup_local_client(f);
	if (!svc)
		return svc_ip_unknown_port(f) ? reject(skb, f) : ct_retire_stale(f, CT_DIR_REPLY);
	if (!source_allowed(svc, f->saddr))
		return -STAT_DROP_SOURCE_RANGE;
	return lb_to_service(skb, f, svc);
}

enum tc_path {
	TC_FROM_POD,
	TC_TO_POD,
	TC_TO_WORLD,
};

/* Every tc program: parse, handle a flow by `path` (a constant: the other branches fold away), exit. */
static __always_inline int tc_run(struct __sk_buff *skb, enum tc_path path)
{
	__u32 len = skb->len;
	struct flow4 f;
	int ret = parse_flow4(skb, &f);

	if (ret <= 0)
		return tc_exit(skb, ret, len);
	if (path == TC_FROM_POD)
		ret = from_pod(skb, &f);
	else if (path == TC_TO_POD)
		ret = reverse_nat(skb, &f);
	else
		ret = external_local_reply(skb, &f);
	return tc_exit(skb, ret, len);
}

SEC("tc")
int kbp_from_pod(struct __sk_buff *skb)
{
	return tc_run(skb, TC_FROM_POD);
}

SEC("tc")
int kbp_to_pod(struct __sk_buff *skb)
{
	return tc_run(skb, TC_TO_POD);
}

SEC("tc")
int kbp_to_world(struct __sk_buff *skb)
{
	return tc_run(skb, TC_TO_WORLD);
}

SEC("xdp")
int kbp_from_world(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	struct svc_val_v4 *svc;
	int action = XDP_PASS;
	struct flow4 f;
	int ret = parse_flow4_xdp(ctx, &f);

	if (ret > 0) {
		/* An external frontend, else a cluster IP: a router may send the service range to a node,
		 * which then balances it like outside traffic (source-NATed toward remote backends). */
		svc = svc_lookup(&f, SVC_SCOPE_EXTERNAL);
		if (!svc)
			svc = svc_lookup(&f, SVC_SCOPE_INTERNAL);
		if (svc)
			ret = external_to_service(ctx, &f, svc, &action);
		else if (svc_ip_unknown_port(&f))
			ret = reject_xdp(ctx, &f, &action);
		else
			ret = external_reply(ctx, &f, &action);
		if (ret == STAT_PASS)
			ret = ct_retire_stale(&f, CT_DIR_EXTERNAL_REPLY);
	}
	return xdp_exit(ret, action, len);
}

SEC("cgroup/connect4")
int kbp_sock_connect(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return sock_exit(STAT_PASS);
	return sock_exit(sock_to_service(ctx, ctx->protocol));
}

SEC("cgroup/sendmsg4")
int kbp_sock_sendmsg(struct bpf_sock_addr *ctx)
{
	return sock_exit(sock_to_service(ctx, IPPROTO_UDP));
}

SEC("cgroup/recvmsg4")
int kbp_sock_recvmsg(struct bpf_sock_addr *ctx)
{
	return sock_exit(sock_from_backend(ctx));
}

SEC("cgroup/getpeername4")
int kbp_sock_getpeername(struct bpf_sock_addr *ctx)
{
	return sock_exit(sock_from_backend(ctx));
}

char LICENSE[] SEC("license") = "GPL";
