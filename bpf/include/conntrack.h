/* Connection tracking: lookup with expiry, creation of both legs, lifetimes by TCP state. */
#ifndef KBP_CONNTRACK_H
#define KBP_CONNTRACK_H

#include <stdbool.h>
#include "config.h"
#include "maps.h"
#include "parse.h"

#define NSEC_PER_SEC 1000000000ULL
/* Not settings: a handshake that never completes, and a flow closed by RST or by a FIN each way
 * (long enough for the last ACK and retransmits; a SYN reusing the ports is balanced afresh). */
#define CT_LIFETIME_TCP_SYN (60 * NSEC_PER_SEC)
#define CT_LIFETIME_TCP_CLOSED (10 * NSEC_PER_SEC)

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

/* How long a leg lives after its last packet (the settings are in config.h). */
static __always_inline __u64 ct_lifetime(__u8 proto, __u16 ct_flags)
{
	if (proto != IPPROTO_TCP)
		return ct_flags & CT_F_SEEN_REPLY ? ct_udp_stream_ns : ct_udp_ns;
	if (ct_flags & CT_F_CLOSING)
		return CT_LIFETIME_TCP_CLOSED;
	if (ct_flags & CT_F_FIN)
		return ct_tcp_close_wait_ns;
	if (ct_flags & CT_F_SEEN_REPLY)
		return ct_tcp_established_ns;
	return CT_LIFETIME_TCP_SYN;
}

/* The flags a packet adds to its own leg: a FIN finishes this direction only, a RST the flow. */
static __always_inline __u16 ct_packet_flags(const struct flow4 *f)
{
	if (f->tcp_flags & TCP_F_RST)
		return CT_F_CLOSING;
	return f->tcp_flags & TCP_F_FIN ? CT_F_FIN : 0;
}

/* Accounts one packet on a live entry and moves its deadline by the flow's state. Returns the flags
 * it added (the caller tells the other leg). */
static __always_inline __u16 ct_refresh(struct ct_entry_v4 *e, const struct flow4 *f, __u32 len, __u64 now,
					__u16 set_flags)
{
	__u16 flags = e->flags | set_flags | ct_packet_flags(f);
	__u16 added = flags & ~e->flags;

	if (added)
		e->flags = flags;
	e->expires_ns = now + ct_lifetime(f->proto, flags);
	/* Plain adds: a flow runs on one CPU at a time as a rule, and an exact count is not worth a
	 * locked instruction per packet. */
	e->packets++;
	e->bytes += len;
	return added;
}

/*
 * Tells the other leg of a flow what this leg just learned: the first UDP reply (both legs then live
 * as a stream), a RST (both closed), a FIN (both closed once each direction has sent one; until then
 * the other direction keeps sending, a half-closed connection). Rare: once per change.
 */
static __always_inline void ct_tell_peer(struct ct_entry_v4 *e, const struct ct_key_v4 *peer_key, __u8 proto,
					 __u16 added, __u64 now)
{
	struct ct_entry_v4 *peer = bpf_map_lookup_elem(&ct_v4, peer_key);
	__u16 flags;

	if (!peer)
		return;
	flags = peer->flags | (added & (CT_F_SEEN_REPLY | CT_F_CLOSING));
	if ((e->flags & CT_F_FIN) && (flags & CT_F_FIN)) {
		flags |= CT_F_CLOSING;
		e->flags |= CT_F_CLOSING;
		e->expires_ns = now + CT_LIFETIME_TCP_CLOSED;
	}
	if (flags != peer->flags) {
		peer->flags = flags;
		peer->expires_ns = now + ct_lifetime(proto, flags);
	}
}

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

/* The client's leg of the flow a reply leg belongs to: keyed as the client's packets arrive. */
static __always_inline void ct_client_key(struct ct_key_v4 *key, const struct ct_entry_v4 *reply,
					  const struct revnat_v4 *rn, __u8 proto, __u8 client_dir)
{
	key->saddr = reply->client_ip;
	key->daddr = rn->vip;
	key->sport = reply->client_port;
	key->dport = rn->port;
	key->proto = proto;
	key->dir = client_dir;
	key->pad = 0;
}

/* Where a client leg's replies go: the hairpin address, this node (source-NATed: node_addr, else the
 * frontend's own address) or the client itself. */
static __always_inline __be32 ct_reply_daddr(const struct ct_entry_v4 *e, __be32 frontend)
{
	if (e->flags & CT_F_HAIRPIN)
		return hairpin_addr;
	if (e->nat_port)
		return node_addr ? node_addr : frontend;
	return e->client_ip;
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
	if (!ct || ((ct->flags & CT_F_CLOSING) && tcp_syn_only(f)))
		return NULL;
	*be = bpf_map_lookup_elem(&backends_v4, &ct->backend_id);
	if (*be) {
		/* A TCP client that acknowledges without a SYN has seen the backend's answer: established,
		 * learned here without asking the reply leg (which knows it from that answer). */
		bool acked = f->proto == IPPROTO_TCP && (f->tcp_flags & (TCP_F_SYN | TCP_F_ACK)) == TCP_F_ACK;
		__u16 added = ct_refresh(ct, f, len, now, acked ? CT_F_SEEN_REPLY : 0) & (CT_F_FIN | CT_F_CLOSING);

		if (added) {
			struct ct_key_v4 peer;

			ct_reply_key(&peer, *be, ct_reply_daddr(ct, key->daddr),
				     ct->nat_port ? ct->nat_port : key->sport, f->proto, key->dir + 1);
			ct_tell_peer(ct, &peer, f->proto, added, now);
		}
	}
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
	__u16 added;

	ct_key_from_flow(&key, f, dir);
	ct = ct_lookup(&key, now);
	if (!ct || (ct->nat_port != 0) != snat)
		return NULL;
	*rn = bpf_map_lookup_elem(&revnat_v4, &ct->revnat_id);
	if (!*rn) /* the service is gone: nothing to translate back to */
		return NULL;
	added = ct_refresh(ct, f, len, now, CT_F_SEEN_REPLY);
	/* A TCP client's leg learns of the answer from the client's own ACK (ct_lookup_flow). */
	if (f->proto == IPPROTO_TCP)
		added &= ~CT_F_SEEN_REPLY;
	if (added) {
		/* enum ct_dir pairs each client leg with its reply leg, the next value */
		ct_client_key(&key, ct, *rn, f->proto, dir - 1);
		ct_tell_peer(ct, &key, f->proto, added, now);
	}
	return ct;
}

/* A TCP packet other than a SYN that starts a flow entry: its entry expired or was evicted. */
static __always_inline bool ct_midflow(const struct flow4 *f)
{
	return f->proto == IPPROTO_TCP && !(f->tcp_flags & TCP_F_SYN);
}

/*
 * A SYN that is for no service, from a client straight to an address and port: when a service flow's
 * reply leg holds the reverse of its ports (the same client port used through the service to that
 * backend), that flow is over, and its entry would turn the backend's answer into one from the service
 * address. Both legs are retired. Returns STAT_CT_RETIRED or STAT_PASS.
 */
static __always_inline int ct_retire_stale(const struct flow4 *f, enum ct_dir reply_dir)
{
	struct ct_key_v4 key = {
		.saddr = f->daddr,
		.daddr = f->saddr,
		.sport = f->dport,
		.dport = f->sport,
		.proto = f->proto,
		.dir = reply_dir,
	};
	struct ct_entry_v4 *ct;
	struct revnat_v4 *rn;

	if (!tcp_syn_only(f))
		return STAT_PASS;
	ct = bpf_map_lookup_elem(&ct_v4, &key);
	if (!ct)
		return STAT_PASS;
	rn = bpf_map_lookup_elem(&revnat_v4, &ct->revnat_id);
	if (rn) {
		struct ct_key_v4 client;

		ct_client_key(&client, ct, rn, f->proto, reply_dir - 1);
		bpf_map_delete_elem(&ct_v4, &client);
	}
	bpf_map_delete_elem(&ct_v4, &key);
	return STAT_CT_RETIRED;
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

/*
 * Creates both legs of a new translated flow: the client's leg keyed by its packet as sent (to the
 * frontend) and the reply leg keyed as the backend's reply will arrive. Returns 0 or -STAT_DROP_CT_FULL.
 */
static __always_inline int ct_create(const struct flow4 *f, const struct svc_val_v4 *svc, const struct backend_v4 *be,
				     __u32 backend_id, const struct ct_reply_leg *reply, __u32 len, __u64 now)
{
	struct ct_entry_v4 e = {
		.expires_ns = now + ct_lifetime(f->proto, 0),
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
