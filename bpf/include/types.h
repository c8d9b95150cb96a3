/* Map keys, values and enums shared by every program; src/dataplane/layout.ts mirrors them byte for byte. */
#ifndef KBP_TYPES_H
#define KBP_TYPES_H

#include <linux/types.h>

/* Frontend scope: which path a frontend is reached by. */
enum svc_scope {
	SVC_SCOPE_INTERNAL = 0,     /* from pods, tc */
	SVC_SCOPE_EXTERNAL = 1,     /* from outside the node, xdp */
	SVC_SCOPE_LOCAL_ORIGIN = 2, /* an external frontend of a Local-policy service, from this node's pods and host */
};

enum svc_flags {
	SVC_F_AFFINITY = 1 << 0,        /* ClientIP session affinity */
	SVC_F_DROP_WHEN_EMPTY = 1 << 1, /* no backend for new flows: drop, not reject (Local policy) */
	SVC_F_SOURCE_RANGES = 1 << 2,   /* loadBalancerSourceRanges: only sources in lb_src_v4 */
	SVC_F_LOCAL_ORIGIN = 1 << 3,    /* pods and the host use this frontend's SVC_SCOPE_LOCAL_ORIGIN entry */
};

enum backend_flags {
	BACKEND_F_TERMINATING = 1 << 0,
	BACKEND_F_LOCAL = 1 << 1,
};

/* Conntrack direction: the service leg is keyed by the original destination (VIP), the reply leg by
 * the translated addresses, so one backend behind two VIPs never collides. */
enum ct_dir {
	CT_DIR_SERVICE = 0,
	CT_DIR_REPLY = 1,
	CT_DIR_EXTERNAL = 2,       /* from outside the node to an external frontend (xdp) */
	CT_DIR_EXTERNAL_REPLY = 3, /* its backend's reply, keyed as it reaches this node */
};

enum ct_flags {
	CT_F_SEEN_REPLY = 1 << 0, /* the backend has answered (set on both legs) */
	CT_F_CLOSING = 1 << 1,    /* closed: a RST, or a FIN each way (set on both legs) */
	CT_F_HAIRPIN = 1 << 2,
	CT_F_FIN = 1 << 3, /* this leg's sender has sent its FIN (the other may still send) */
};

struct svc_key_v4 {
	__be32 vip;
	__be16 port;
	__u8 proto;
	__u8 scope;
};

struct svc_val_v4 {
	__u32 svc_id;
	__u32 revnat_id;
	__u32 lb_size;          /* M: slots in this service's Maglev table (0 when no backend may take new flows) */
	__u16 backend_count;    /* backends in the table; 0 means reject */
	__u16 flags;            /* enum svc_flags */
	__u32 affinity_timeout; /* seconds */
};

struct backend_v4 {
	__be32 ip;
	__be16 port;
	__u8 proto;
	__u8 flags; /* enum backend_flags */
};

struct revnat_v4 {
	__be32 vip;
	__be16 port;
	__u16 pad;
};

struct ct_key_v4 {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir; /* enum ct_dir */
	__u16 pad;
};

struct ct_entry_v4 {
	__u64 expires_ns; /* bpf_ktime_get_ns() deadline */
	__u64 packets;
	__u64 bytes;
	__u32 backend_id; /* service leg */
	__u32 revnat_id;
	__u32 svc_id;
	__be32 client_ip;   /* the flow's client: where hairpin and source-NATed replies go back to */
	__u16 flags;        /* enum ct_flags */
	__be16 client_port; /* the client's port, for source-NATed replies */
	__be16 nat_port;    /* the node's port a remote backend answers to (0: not source-NATed) */
	__u16 pad;
};

/* loadBalancerSourceRanges: (service, source prefix) as an LPM key; prefixlen counts svc_id's 32 bits. */
struct src_range_key_v4 {
	__u32 prefixlen;
	__be32 svc_id; /* network byte order, so that it is a prefix of the key */
	__be32 addr;
};

struct affinity_key_v4 {
	__u32 svc_id;
	__be32 client_ip;
};

struct affinity_val {
	__u64 last_used_ns;
	__u32 backend_id;
	__u32 pad;
};

/* What a host-network socket was pointed at, to show the service address back. */
struct sock_key_v4 {
	__u64 cookie;
	__be32 backend_ip;
	__be16 backend_port;
	__u16 pad;
};

/* The FIB's answer for a destination, kept briefly: a lookup costs several times the rest of the path. */
struct next_hop {
	__u64 expires_ns;
	__u32 ifindex;
	__u8 smac[6];
	__u8 dmac[6];
};

/*
 * Every outcome of a packet, and the index of its per-CPU counter. Helpers return an int: >= 0 an
 * outcome (step helpers: 0, go on), < 0 the negation of a STAT_DROP_* reason; each program's one exit
 * counts it and turns it into the verdict. src/dataplane/layout.ts follows this order; new reasons go
 * last (a reordering keeps the map's size, so an upgrade would reuse the pin with counts misnamed).
 */
enum stat_reason {
	STAT_PASS = 0,              /* not for a service: untouched */
	STAT_CT_NEW,                /* new flow load-balanced */
	STAT_CT_HIT,                /* established flow kept on its backend */
	STAT_REVNAT,                /* reply translated back to the service address */
	STAT_HAIRPIN,               /* flow from a pod to itself through its service */
	STAT_AFFINITY_HIT,          /* new flow sent to the client's affine backend */
	STAT_REJECT_NO_BACKEND,     /* no endpoint: answered with TCP RST / ICMP port unreachable */
	STAT_DROP_NO_BACKEND,       /* no endpoint, and the packet cannot be answered (a RST, IP options) */
	STAT_DROP_MALFORMED,        /* truncated or invalid headers */
	STAT_DROP_NO_SLOT,          /* Maglev table missing or slot empty */
	STAT_DROP_NO_BACKEND_ENTRY, /* slot names a backend id that is not in backends_v4 */
	STAT_DROP_CT_FULL,          /* conntrack entry could not be created */
	STAT_DROP_REWRITE,          /* a packet rewrite helper failed */
	STAT_EXTERNAL_LOCAL,        /* outside traffic DNATed to a backend on this node */
	STAT_EXTERNAL_REMOTE,       /* outside traffic source- and destination-NATed to another node's backend */
	STAT_EXTERNAL_REPLY,        /* a reply of outside traffic translated back to the frontend */
	STAT_DROP_NO_LOCAL_BACKEND, /* externalTrafficPolicy Local without a backend on this node */
	STAT_DROP_SOURCE_RANGE,     /* source outside loadBalancerSourceRanges */
	STAT_DROP_NAT_PORTS,        /* no free node port to source-NAT a flow to a remote backend */
	STAT_DROP_NO_ROUTE,         /* no route to the remote backend or back to the client */
	STAT_SOCK_TRANSLATED,       /* a host-network socket pointed at a backend (connect, sendmsg) */
	STAT_CT_MIDFLOW,            /* a TCP packet other than a SYN with no flow entry (expired, or evicted from a full
				     * table), balanced as a new flow: Maglev gives it the same backend while the set holds */
	STAT_CT_RETIRED,            /* a SYN straight to a backend retired a stale service flow on the same ports */
	STAT__MAX,
};

struct stat_val {
	__u64 packets;
	__u64 bytes;
};

#endif
