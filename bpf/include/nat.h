/* Address and port rewrites with incremental checksum updates (L3 and L4, pseudo header included). */
#ifndef KBP_NAT_H
#define KBP_NAT_H

#include "parse.h"
#include "csum.h"

enum nat_side {
	NAT_SRC,
	NAT_DST,
};

/* The IPv4 header and the L4 ports of the frame at [data, data_end), bounds-checked; NULL ip if out of bounds. */
static __always_inline struct iphdr *nat_headers(void *data, void *data_end, const struct flow4 *f, __be16 **ports)
{
	struct iphdr *ip = data + ETH_HLEN;

	if ((void *)(ip + 1) > data_end || f->l4_off > ETH_HLEN + 60)
		return NULL;
	*ports = data + f->l4_off;
	if ((void *)(*ports + 2) > data_end)
		return NULL;
	return ip;
}

/* Writes one side's new address and port, updating the IPv4 header checksum (the L4 one is the caller's). */
static __always_inline void nat_write(struct iphdr *ip, __be16 *ports, enum nat_side side, __be32 old_addr, __be32 addr,
				      __be16 port)
{
	ip->check = csum_replace4(ip->check, old_addr, addr);
	if (side == NAT_SRC) {
		ip->saddr = addr;
		ports[0] = port;
	} else {
		ip->daddr = addr;
		ports[1] = port;
	}
}

/*
 * Rewrites one side of the flow to (addr, port). Returns 0, or -STAT_DROP_REWRITE.
 * The L4 checksum goes through the kernel's helper, which alone knows whether the skb carries a full
 * checksum or a CHECKSUM_PARTIAL seed (where only the pseudo header counts); the IPv4 header checksum
 * is updated here, and the fields are written in place.
 */
static __always_inline int nat_rewrite(struct __sk_buff *skb, const struct flow4 *f, enum nat_side side, __be32 addr,
				       __be16 port)
{
	__be32 old_addr = side == NAT_SRC ? f->saddr : f->daddr;
	__be16 old_port = side == NAT_SRC ? f->sport : f->dport;
	__u32 csum_off = l4_csum_off(f->proto, f->l4_off);
	__u64 mangled0 = 0;
	struct iphdr *ip;
	__be16 *ports;

	if (f->proto == IPPROTO_UDP) {
		__u16 check;

		if (bpf_skb_load_bytes(skb, csum_off, &check, sizeof(check)) < 0)
			return -STAT_DROP_REWRITE;
		/* A zero UDP checksum means "none": keep it so; never let an update produce it. */
		if (!check)
			csum_off = 0;
		mangled0 = BPF_F_MARK_MANGLED_0;
	}
	if (csum_off && old_addr != addr &&
	    bpf_l4_csum_replace(skb, csum_off, old_addr, addr, BPF_F_PSEUDO_HDR | mangled0 | sizeof(addr)) < 0)
		return -STAT_DROP_REWRITE;
	if (csum_off && old_port != port &&
	    bpf_l4_csum_replace(skb, csum_off, old_port, port, mangled0 | sizeof(port)) < 0)
		return -STAT_DROP_REWRITE;

	ip = nat_headers((void *)(long)skb->data, (void *)(long)skb->data_end, f, &ports);
	if (!ip)
		return -STAT_DROP_REWRITE;
	nat_write(ip, ports, side, old_addr, addr, port);
	return 0;
}

/*
 * The same rewrite on an XDP frame, by direct access. A frame at XDP carries its full L4 checksum
 * (there is no CHECKSUM_PARTIAL before the stack), so both checksums are updated incrementally here.
 */
static __always_inline int nat_rewrite_xdp(struct xdp_md *ctx, const struct flow4 *f, enum nat_side side, __be32 addr,
					   __be16 port)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__be32 old_addr = side == NAT_SRC ? f->saddr : f->daddr;
	__be16 old_port = side == NAT_SRC ? f->sport : f->dport;
	__be16 *ports;
	__u16 *check;
	struct iphdr *ip = nat_headers(data, data_end, f, &ports);

	if (!ip)
		return -STAT_DROP_REWRITE;
	check = data + l4_csum_off(f->proto, f->l4_off);
	if ((void *)(check + 1) > data_end)
		return -STAT_DROP_REWRITE;
	/* A zero UDP checksum means "none": keep it so; never let an update produce it. */
	if (f->proto == IPPROTO_TCP || *check) {
		__u16 sum = csum_replace2(csum_replace4(*check, old_addr, addr), old_port, port);

		*check = f->proto == IPPROTO_UDP && !sum ? 0xffff : sum;
	}
	nat_write(ip, ports, side, old_addr, addr, port);
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
