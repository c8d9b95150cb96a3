/*
 * Refusing a flow to a service without endpoints, as kube-proxy does: the packet is turned into a
 * TCP RST or an ICMP port unreachable in place and sent back out of the interface it came from.
 * reject() and reject_xdp() return STAT_REJECT_NO_BACKEND or a drop (a RST is never answered).
 */
#ifndef KBP_REJECT_H
#define KBP_REJECT_H

#include "parse.h"
#include "csum.h"

#define ICMP_DEST_UNREACH 3
#define ICMP_PORT_UNREACH 3
#define ICMP_QUOTE_LEN (sizeof(struct iphdr) + 8) /* RFC 792: IP header + first 8 bytes of the datagram */

/* <linux/icmp.h> drags in libc headers; this is the one ICMP header shape needed. */
struct icmp_unreach_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__u32 unused;
};

/* ICMP header and the quote of the offending datagram, sent after the IP header. */
struct icmp_unreach_body {
	struct icmp_unreach_hdr icmp;
	__u8 quote[ICMP_QUOTE_LEN];
};

/* The IPv4 header of an answer: from the service address back to the client. */
static __always_inline void answer_ip_header(struct iphdr *ip, const struct flow4 *f, __u8 proto, __u32 l4_len)
{
	__builtin_memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = bpf_htons(sizeof(*ip) + l4_len);
	ip->frag_off = bpf_htons(0x4000); /* DF */
	ip->ttl = 64;
	ip->protocol = proto;
	ip->saddr = f->daddr;
	ip->daddr = f->saddr;
	ip->check = csum_fold(bpf_csum_diff(0, 0, (__be32 *)ip, sizeof(*ip), 0));
}

/* The RST that answers TCP segment `in`. Returns 0 or a drop. */
static __always_inline int rst_for(const struct flow4 *f, const struct tcphdr *in, struct tcphdr *rst)
{
	__u32 payload;

	if (f->tcp_flags & TCP_F_RST) /* never answer a reset */
		return -STAT_DROP_NO_BACKEND;
	if (in->doff * 4 > f->ip_len - f->ihl_bytes)
		return -STAT_DROP_MALFORMED;
	payload = f->ip_len - f->ihl_bytes - in->doff * 4;
	__builtin_memset(rst, 0, sizeof(*rst));
	rst->source = f->dport;
	rst->dest = f->sport;
	rst->doff = 5;
	rst->rst = 1;
	if (in->ack) {
		rst->seq = in->ack_seq;
	} else {
		rst->ack = 1;
		rst->ack_seq = bpf_htonl(bpf_ntohl(in->seq) + payload + in->syn + in->fin);
	}
	rst->check = csum_fold(bpf_csum_diff(0, 0, (__be32 *)rst, sizeof(*rst),
					     csum_pseudo4(f->daddr, f->saddr, IPPROTO_TCP, sizeof(*rst))));
	return 0;
}

/* The ICMP port unreachable around `body->quote` (already holding the offending datagram's start). */
static __always_inline int unreach_for(const struct flow4 *f, struct icmp_unreach_body *body)
{
	if (f->ihl_bytes != sizeof(struct iphdr)) /* the quote is sized for a header without options */
		return -STAT_DROP_NO_BACKEND;
	body->icmp.type = ICMP_DEST_UNREACH;
	body->icmp.code = ICMP_PORT_UNREACH;
	body->icmp.checksum = 0;
	body->icmp.unused = 0;
	body->icmp.checksum = csum_fold(bpf_csum_diff(0, 0, (__be32 *)body, sizeof(*body), 0));
	return 0;
}

/*
 * Resizes the frame to the answer's length, then writes an Ethernet header back to the sender, an IPv4
 * header from the service address to the client, and the L4 part given by the caller.
 */
static __always_inline int write_answer(struct __sk_buff *skb, const struct flow4 *f, __u8 proto, void *l4,
					__u32 l4_len)
{
	struct iphdr ip;
	struct ethhdr eth;
	__u8 tmp[ETH_ALEN];

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return -STAT_DROP_MALFORMED;
	__builtin_memcpy(tmp, eth.h_source, ETH_ALEN);
	__builtin_memcpy(eth.h_source, eth.h_dest, ETH_ALEN);
	__builtin_memcpy(eth.h_dest, tmp, ETH_ALEN);
	answer_ip_header(&ip, f, proto, l4_len);

	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(ip) + l4_len, 0) < 0 ||
	    bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0) < 0 ||
	    bpf_skb_store_bytes(skb, IP_OFF, &ip, sizeof(ip), 0) < 0 ||
	    bpf_skb_store_bytes(skb, IP_OFF + sizeof(ip), l4, l4_len, 0) < 0)
		return -STAT_DROP_REWRITE;
	return 0;
}

/* Rewrites a TCP segment into the RST that answers it. Returns 0 or a drop. */
static __always_inline int reject_tcp(struct __sk_buff *skb, const struct flow4 *f)
{
	struct tcphdr in, rst;
	int err;

	if (bpf_skb_load_bytes(skb, f->l4_off, &in, sizeof(in)) < 0)
		return -STAT_DROP_MALFORMED;
	err = rst_for(f, &in, &rst);
	return err ? err : write_answer(skb, f, IPPROTO_TCP, &rst, sizeof(rst));
}

/* Rewrites a UDP datagram into the ICMP port unreachable that answers it. */
static __always_inline int reject_udp(struct __sk_buff *skb, const struct flow4 *f)
{
	struct icmp_unreach_body body = {};
	int err;

	if (bpf_skb_load_bytes(skb, IP_OFF, body.quote, sizeof(body.quote)) < 0)
		return -STAT_DROP_MALFORMED;
	err = unreach_for(f, &body);
	return err ? err : write_answer(skb, f, IPPROTO_ICMP, &body, sizeof(body));
}

/* The answer to a flow at tc; the exit sends it back out (bpf_redirect to the interface it came from). */
static __always_inline int reject(struct __sk_buff *skb, const struct flow4 *f)
{
	int err = f->proto == IPPROTO_TCP ? reject_tcp(skb, f) : reject_udp(skb, f);

	return err ? err : STAT_REJECT_NO_BACKEND;
}

/*
 * The same answers at XDP, sent back with XDP_TX: the frame is resized to the answer (the ICMP one
 * grows it) and written whole by direct access. Callers pass constant sizes, so the writes are bounded.
 */
static __always_inline int write_answer_xdp(struct xdp_md *ctx, const struct flow4 *f, __u8 proto, const void *l4,
					    const __u32 l4_len)
{
	const __u32 want = ETH_HLEN + sizeof(struct iphdr) + l4_len;
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	__u8 macs[2 * ETH_ALEN];
	int delta;

	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return -STAT_DROP_MALFORMED;
	__builtin_memcpy(macs, eth->h_source, ETH_ALEN);
	__builtin_memcpy(macs + ETH_ALEN, eth->h_dest, ETH_ALEN);
	delta = (int)want - (int)(ctx->data_end - ctx->data);
	/* Grow at the head, where drivers keep room for XDP (a veth has no tailroom); shrink at the tail. */
	if (delta > 0 ? bpf_xdp_adjust_head(ctx, -delta) < 0 : delta < 0 && bpf_xdp_adjust_tail(ctx, delta) < 0)
		return -STAT_DROP_REWRITE;
	data = (void *)(long)ctx->data;
	if (data + want > (void *)(long)ctx->data_end)
		return -STAT_DROP_REWRITE;
	eth = data;
	__builtin_memcpy(eth->h_dest, macs, ETH_ALEN);
	__builtin_memcpy(eth->h_source, macs + ETH_ALEN, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	answer_ip_header(data + ETH_HLEN, f, proto, l4_len);
	__builtin_memcpy(data + ETH_HLEN + sizeof(struct iphdr), l4, l4_len);
	return 0;
}

static __always_inline int reject_tcp_xdp(struct xdp_md *ctx, const struct flow4 *f)
{
	void *data = (void *)(long)ctx->data;
	struct tcphdr in, rst;
	int err;

	if (f->l4_off > ETH_HLEN + 60 || data + f->l4_off + sizeof(in) > (void *)(long)ctx->data_end)
		return -STAT_DROP_MALFORMED;
	__builtin_memcpy(&in, data + f->l4_off, sizeof(in));
	err = rst_for(f, &in, &rst);
	return err ? err : write_answer_xdp(ctx, f, IPPROTO_TCP, &rst, sizeof(rst));
}

static __always_inline int reject_udp_xdp(struct xdp_md *ctx, const struct flow4 *f)
{
	void *data = (void *)(long)ctx->data;
	struct icmp_unreach_body body = {};
	int err;

	if (data + IP_OFF + sizeof(body.quote) > (void *)(long)ctx->data_end)
		return -STAT_DROP_MALFORMED;
	__builtin_memcpy(body.quote, data + IP_OFF, sizeof(body.quote));
	err = unreach_for(f, &body);
	return err ? err : write_answer_xdp(ctx, f, IPPROTO_ICMP, &body, sizeof(body));
}

/* The answer to a flow at XDP, sent back with XDP_TX. */
static __always_inline int reject_xdp(struct xdp_md *ctx, const struct flow4 *f, int *action)
{
	int err = f->proto == IPPROTO_TCP ? reject_tcp_xdp(ctx, f) : reject_udp_xdp(ctx, f);

	if (err)
		return err;
	*action = XDP_TX;
	return STAT_REJECT_NO_BACKEND;
}

#endif
