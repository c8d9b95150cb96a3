/*
 * Traffic from outside the node to its external frontends (node ports, load-balancer and external
 * IPs), at XDP on the node's interface:
 *   - a backend on this node: DNAT and pass to the stack, which routes to the pod; the reply is
 *     reverse-NATed on its way out of the same interface (tc egress), the client's IP is kept;
 *   - a backend on another node: SNAT to this node's address and a port of its own range, DNAT,
 *     and send it straight back out toward that node; the reply comes back here and is reversed.
 * Both legs live in ct_v4 (CT_DIR_EXTERNAL, CT_DIR_EXTERNAL_REPLY), apart from pod flows.
 */
#ifndef KBP_EXTERNAL_H
#define KBP_EXTERNAL_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "config.h"
#include "maps.h"
#include "parse.h"
#include "nat.h"
#include "conntrack.h"
#include "maglev.h"
#include "reject.h"

#ifndef AF_INET
#define AF_INET 2
#endif

/* Source ports for flows NATed to a remote backend: above Linux's default ephemeral range
 * (32768-60999), so the node's own connections never collide with them. */
#define NAT_PORT_MIN 61000
#define NAT_PORT_COUNT (65535 - NAT_PORT_MIN + 1)
#define NAT_PORT_TRIES 16

/* A FIB answer is trusted this long: a route or neighbour change is followed within it. */
#define NEXT_HOP_TTL_NS (1 * NSEC_PER_SEC)

/*
 * Sends a rewritten frame toward (saddr -> daddr): the FIB (or its recent answer) gives the next
 * hop's and our MACs, *action the way out (XDP_TX or a redirect). A next hop without a neighbour
 * entry yet goes through the stack (XDP_PASS), which resolves it. Returns 0 or a drop.
 */
static __always_inline int fib_forward(struct xdp_md *ctx, __be32 saddr, __be32 daddr, __u8 proto, __u16 ip_len,
				       int *action)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	struct next_hop *hop = bpf_map_lookup_elem(&next_hop_v4, &daddr);
	struct next_hop fresh;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if (!hop || hop->expires_ns < now) {
		struct bpf_fib_lookup p = {
			.family = AF_INET,
			.l4_protocol = proto,
			.tot_len = ip_len,
			.ifindex = ctx->ingress_ifindex,
			.ipv4_src = saddr,
			.ipv4_dst = daddr,
		};
		int rc = bpf_fib_lookup(ctx, &p, sizeof(p), 0);

		if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
			*action = XDP_PASS;
			return 0;
		}
		if (rc != BPF_FIB_LKUP_RET_SUCCESS)
			return -STAT_DROP_NO_ROUTE;
		fresh.expires_ns = now + NEXT_HOP_TTL_NS;
		fresh.ifindex = p.ifindex;
		__builtin_memcpy(fresh.smac, p.smac, ETH_ALEN);
		__builtin_memcpy(fresh.dmac, p.dmac, ETH_ALEN);
		bpf_map_update_elem(&next_hop_v4, &daddr, &fresh, BPF_ANY);
		hop = &fresh;
	}
	if ((void *)(eth + 1) > data_end)
		return -STAT_DROP_REWRITE;
	__builtin_memcpy(eth->h_dest, hop->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, hop->smac, ETH_ALEN);
	*action = hop->ifindex == ctx->ingress_ifindex ? XDP_TX : (int)bpf_redirect(hop->ifindex, 0);
	return 0;
}

/* A node port for a new flow to a remote backend, free for that backend; 0 when none is. */
static __always_inline __be16 nat_port_for(const struct flow4 *f, const struct backend_v4 *be, __be32 snat_addr,
					   __u64 now)
{
	__u32 start = flow_hash(f);
	struct ct_key_v4 key;
	__be16 port;

	for (int i = 0; i < NAT_PORT_TRIES; i++) {
		port = bpf_htons(NAT_PORT_MIN + (start + i * 7919) % NAT_PORT_COUNT);
		ct_reply_key(&key, be, snat_addr, port, f->proto, CT_DIR_EXTERNAL_REPLY);
		if (!ct_lookup(&key, now))
			return port;
	}
	return 0;
}

/* A packet from outside to an external frontend. Returns its outcome or a drop; *action stays
 * XDP_PASS unless the frame is sent back out (an answer, a remote backend). */
static __always_inline int external_to_service(struct xdp_md *ctx, const struct flow4 *f, const struct svc_val_v4 *svc,
					       int *action)
{
	__u32 len = ctx->data_end - ctx->data;
	__be32 snat_addr = node_addr ? node_addr : f->daddr;
	__u64 now = bpf_ktime_get_coarse_ns();
	struct backend_v4 *be = NULL;
	struct ct_entry_v4 *ct;
	struct ct_key_v4 key;
	__u32 backend_id = 0;
	__be16 nat_port = 0;
	bool midflow = false;
	int ret;

	if (!source_allowed(svc, f->saddr))
		return -STAT_DROP_SOURCE_RANGE;
	ct_key_from_flow(&key, f, CT_DIR_EXTERNAL);
	ct = ct_lookup_flow(&key, f, len, now, &be);
	if (ct && be) {
		backend_id = ct->backend_id;
		nat_port = ct->nat_port;
	} else {
		if (!svc->backend_count) {
			/* Local policy: this node has no endpoint, others have (the load balancer's health
			 * check steers away). Otherwise there is none: refused, as kube-proxy does. */
			if (svc->flags & SVC_F_DROP_WHEN_EMPTY)
				return -STAT_DROP_NO_LOCAL_BACKEND;
			return reject_xdp(ctx, f, action);
		}
		ret = backend_for_new_flow(svc, f, now, &be, &backend_id);
		if (ret < 0)
			return ret;
		midflow = ret == STAT_CT_NEW && ct_midflow(f);
		if (!(be->flags & BACKEND_F_LOCAL)) {
			nat_port = nat_port_for(f, be, snat_addr, now);
			if (!nat_port)
				return -STAT_DROP_NAT_PORTS;
		}
		struct ct_reply_leg reply = {
			.service_dir = CT_DIR_EXTERNAL,
			.reply_dir = CT_DIR_EXTERNAL_REPLY,
			.daddr = nat_port ? snat_addr : f->saddr,
			.dport = nat_port ? nat_port : f->sport,
			.nat_port = nat_port,
		};

		ret = ct_create(f, svc, be, backend_id, &reply, len, now);
		if (ret)
			return ret;
		affinity_record(svc, f->saddr, backend_id, now);
	}

	ret = nat_rewrite_xdp(ctx, f, NAT_DST, be->ip, be->port);
	if (ret)
		return ret;
	if (!nat_port)
		return midflow ? STAT_CT_MIDFLOW : STAT_EXTERNAL_LOCAL;
	ret = nat_rewrite_xdp(ctx, f, NAT_SRC, snat_addr, nat_port);
	if (!ret)
		ret = fib_forward(ctx, snat_addr, be->ip, f->proto, f->ip_len, action);
	if (ret)
		return ret;
	return midflow ? STAT_CT_MIDFLOW : STAT_EXTERNAL_REMOTE;
}

/* A remote backend's reply to a flow this node source-NATed: back to the client, from the frontend. */
static __always_inline int external_reply(struct xdp_md *ctx, const struct flow4 *f, int *action)
{
	struct ct_entry_v4 *ct;
	struct revnat_v4 *rn;
	int err;

	if (bpf_ntohs(f->dport) < NAT_PORT_MIN) /* not one of ours: no lookup for the node's own traffic */
		return STAT_PASS;
	ct = ct_lookup_reply(f, CT_DIR_EXTERNAL_REPLY, true, ctx->data_end - ctx->data, &rn);
	if (!ct)
		return STAT_PASS;
	err = nat_rewrite_xdp(ctx, f, NAT_SRC, rn->vip, rn->port);
	if (!err)
		err = nat_rewrite_xdp(ctx, f, NAT_DST, ct->client_ip, ct->client_port);
	if (!err)
		err = fib_forward(ctx, rn->vip, ct->client_ip, f->proto, f->ip_len, action);
	return err ? err : STAT_EXTERNAL_REPLY;
}

/* A local backend's reply leaving the node (tc egress): it must come from the frontend. */
static __always_inline int external_local_reply(struct __sk_buff *skb, const struct flow4 *f)
{
	struct revnat_v4 *rn;
	int err;

	if (!ct_lookup_reply(f, CT_DIR_EXTERNAL_REPLY, false, skb->len, &rn))
		return STAT_PASS;
	err = nat_rewrite(skb, f, NAT_SRC, rn->vip, rn->port);
	return err ? err : STAT_EXTERNAL_REPLY;
}

#endif
