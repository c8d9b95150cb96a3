/*
 * Service translation at the socket, for clients in the node's own network namespace (host network):
 * their packets never cross a pod interface, so connect() and sendmsg() are pointed at a backend
 * instead, once per socket, and recvmsg()/getpeername() show the service address back. Attached to
 * one cgroup (v2), these apply only to the processes in it.
 */
#ifndef KBP_SOCK_H
#define KBP_SOCK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "config.h"
#include "maps.h"
#include "maglev.h"

static __always_inline bool in_host_netns(struct bpf_sock_addr *ctx)
{
	return !host_netns_cookie || bpf_get_netns_cookie(ctx) == host_netns_cookie;
}

/* The socket's destination is a service: point it at a backend. Returns STAT_SOCK_TRANSLATED, STAT_PASS
 * (not a service), STAT_REJECT_NO_BACKEND or a drop; the exit refuses the last two. */
static __always_inline int sock_to_service(struct bpf_sock_addr *ctx, __u8 proto)
{
	__u64 cookie = bpf_get_socket_cookie(ctx);
	__u64 now = bpf_ktime_get_coarse_ns();
	/* No 5-tuple yet at connect(): the socket's cookie stands in for it, one backend per socket.
	 * Host clients share the node's address, which is also their affinity key. */
	struct flow4 f = {
		.saddr = 0,
		.daddr = ctx->user_ip4,
		.sport = (__be16)cookie,
		.dport = (__be16)ctx->user_port,
		.proto = proto,
		.tcp_flags = TCP_F_SYN, /* a connect() starts a flow */
	};
	struct sock_key_v4 rkey = {};
	struct revnat_v4 rn = {};
	struct backend_v4 *be;
	struct svc_val_v4 *svc;
	__u32 backend_id = 0;
	int ret;

	if (!in_host_netns(ctx))
		return STAT_PASS;
	svc = svc_lookup_local_client(&f);
	if (!svc) /* a cluster IP on a port none of its service's declares is refused; the rest is no service */
		return svc_ip_unknown_port(&f) ? STAT_REJECT_NO_BACKEND : STAT_PASS;
	/* A host client's packets leave from the node's address (or loop back from the VIP itself, which
	 * the ranges then hold: see the compiler). */
	if (!source_allowed(svc, node_addr))
		return -STAT_DROP_SOURCE_RANGE;
	if (!svc->backend_count) /* refused at once (EPERM), as a rejected connection would be */
		return svc->flags & SVC_F_DROP_WHEN_EMPTY ? -STAT_DROP_NO_LOCAL_BACKEND : STAT_REJECT_NO_BACKEND;
	ret = backend_for_new_flow(svc, &f, now, &be, &backend_id);
	if (ret < 0)
		return ret;
	affinity_record(svc, 0, backend_id, now);
	rkey.cookie = cookie;
	rkey.backend_ip = be->ip;
	rkey.backend_port = be->port;
	rn.vip = f.daddr;
	rn.port = f.dport;
	bpf_map_update_elem(&sock_revnat_v4, &rkey, &rn, BPF_ANY);
	ctx->user_ip4 = be->ip;
	ctx->user_port = be->port;
	return STAT_SOCK_TRANSLATED;
}

/* A datagram or peer address from a backend the socket was pointed at: show the service instead. */
static __always_inline int sock_from_backend(struct bpf_sock_addr *ctx)
{
	struct sock_key_v4 rkey = {
		.cookie = bpf_get_socket_cookie(ctx),
		.backend_ip = ctx->user_ip4,
		.backend_port = (__be16)ctx->user_port,
	};
	struct revnat_v4 *rn = in_host_netns(ctx) ? bpf_map_lookup_elem(&sock_revnat_v4, &rkey) : NULL;

	if (rn) {
		ctx->user_ip4 = rn->vip;
		ctx->user_port = rn->port;
	}
	return STAT_PASS;
}

#endif
