/* Address and port rewrites with incremental checksum updates (L3 and L4, pseudo header included). */
#ifndef KBP_NAT_H
#define KBP_NAT_H

#include "parse.h"
#include "csum.h"

enum nat_side {
	NAT_SRC,
	NAT_DST,
};

/* Rewrites one side of the flow to (addr, port). Returns 0, or -STAT_DROP_REWRITE. */
static __always_inline int nat_rewrite(struct __sk_buff *skb, const struct flow4 *f, enum nat_side side,
				       __be32 addr, __be16 port)
{
	__be32 old_addr = side == NAT_SRC ? f->saddr : f->daddr;
	__be16 old_port = side == NAT_SRC ? f->sport : f->dport;
	__u32 addr_off = side == NAT_SRC ? IP_SADDR_OFF : IP_DADDR_OFF;
	__u32 port_off = f->l4_off + (side == NAT_SRC ? 0 : 2);
	__u32 csum_off = l4_csum_off(f->proto, f->l4_off);
	__u64 mangled0 = 0;

	if (f->proto == IPPROTO_UDP) {
		__u16 check;

		if (bpf_skb_load_bytes(skb, csum_off, &check, sizeof(check)) < 0)
			return -STAT_DROP_REWRITE;
		/* A zero UDP checksum means "none": keep it so; never let an update produce it. */
		if (!check)
			csum_off = 0;
		mangled0 = BPF_F_MARK_MANGLED_0;
	}
	if (old_addr != addr) {
		if (csum_off && bpf_l4_csum_replace(skb, csum_off, old_addr, addr,
						    BPF_F_PSEUDO_HDR | mangled0 | sizeof(addr)) < 0)
			return -STAT_DROP_REWRITE;
		if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_addr, addr, sizeof(addr)) < 0)
			return -STAT_DROP_REWRITE;
		if (bpf_skb_store_bytes(skb, addr_off, &addr, sizeof(addr), 0) < 0)
			return -STAT_DROP_REWRITE;
	}
	if (old_port != port) {
		if (csum_off && bpf_l4_csum_replace(skb, csum_off, old_port, port, mangled0 | sizeof(port)) < 0)
			return -STAT_DROP_REWRITE;
		if (bpf_skb_store_bytes(skb, port_off, &port, sizeof(port), 0) < 0)
			return -STAT_DROP_REWRITE;
	}
	return 0;
}

/* Swaps the Ethernet addresses so a frame can be sent back out of the interface it came from. */
static __always_inline int swap_macs(struct __sk_buff *skb)
{
	__u8 macs[2 * ETH_ALEN], swapped[2 * ETH_ALEN];

	if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)) < 0)
		return -STAT_DROP_REWRITE;
	__builtin_memcpy(swapped, macs + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(swapped + ETH_ALEN, macs, ETH_ALEN);
	if (bpf_skb_store_bytes(skb, 0, swapped, sizeof(swapped), 0) < 0)
		return -STAT_DROP_REWRITE;
	return 0;
}

#endif
