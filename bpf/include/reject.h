/*
 * Refusing a flow to a service without endpoints, as kube-proxy does: the packet is turned into a
 * TCP RST or an ICMP port unreachable in place and sent back out of the interface it came from.
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

/*
 * Resizes the frame to the answer's length, then writes an Ethernet header back to the sender, an IPv4
 * header from the service address to the client, and the L4 part given by the caller.
 */
static __always_inline int write_answer(struct __sk_buff *skb, const struct flow4 *f, __u8 proto, void *l4,
					__u32 l4_len)
{
	struct iphdr ip = {};
	struct ethhdr eth;
	__u8 tmp[ETH_ALEN];

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
		return -STAT_DROP_MALFORMED;
	__builtin_memcpy(tmp, eth.h_source, ETH_ALEN);
	__builtin_memcpy(eth.h_source, eth.h_dest, ETH_ALEN);
	__builtin_memcpy(eth.h_dest, tmp, ETH_ALEN);
	ip.version = 4;
	ip.ihl = 5;
	ip.tot_len = bpf_htons(sizeof(ip) + l4_len);
	ip.frag_off = bpf_htons(0x4000); /* DF */
	ip.ttl = 64;
	ip.protocol = proto;
	ip.saddr = f->daddr;
	ip.daddr = f->saddr;
	ip.check = csum_fold(bpf_csum_diff(0, 0, (__be32 *)&ip, sizeof(ip), 0));

	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(ip) + l4_len, 0) < 0 ||
	    bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0) < 0 ||
	    bpf_skb_store_bytes(skb, IP_OFF, &ip, sizeof(ip), 0) < 0 ||
	    bpf_skb_store_bytes(skb, IP_OFF + sizeof(ip), l4, l4_len, 0) < 0)
		return -STAT_DROP_REWRITE;
	return 0;
}

/* Rewrites a TCP segment into the RST that answers it. Returns 0, or a negative stat reason. */
static __always_inline int reject_tcp(struct __sk_buff *skb, const struct flow4 *f)
{
	struct tcphdr in, rst = {};
	__u32 payload;

	if (f->tcp_flags & TCP_F_RST) /* never answer a reset */
		return -STAT_DROP_NO_BACKEND;
	if (bpf_skb_load_bytes(skb, f->l4_off, &in, sizeof(in)) < 0)
		return -STAT_DROP_MALFORMED;
	if (in.doff * 4 > f->ip_len - f->ihl_bytes)
		return -STAT_DROP_MALFORMED;
	payload = f->ip_len - f->ihl_bytes - in.doff * 4;

	rst.source = f->dport;
	rst.dest = f->sport;
	rst.doff = 5;
	rst.rst = 1;
	if (in.ack) {
		rst.seq = in.ack_seq;
	} else {
		rst.ack = 1;
		rst.ack_seq = bpf_htonl(bpf_ntohl(in.seq) + payload + in.syn + in.fin);
	}
	rst.check = csum_fold(bpf_csum_diff(0, 0, (__be32 *)&rst, sizeof(rst),
					    csum_pseudo4(f->daddr, f->saddr, IPPROTO_TCP, sizeof(rst))));
	return write_answer(skb, f, IPPROTO_TCP, &rst, sizeof(rst));
}

/* Rewrites a UDP datagram into the ICMP port unreachable that answers it. */
static __always_inline int reject_udp(struct __sk_buff *skb, const struct flow4 *f)
{
	struct icmp_unreach_body body = {};

	if (f->ihl_bytes != sizeof(struct iphdr)) /* the quote is sized for a header without options */
		return -STAT_DROP_NO_BACKEND;
	if (bpf_skb_load_bytes(skb, IP_OFF, body.quote, sizeof(body.quote)) < 0)
		return -STAT_DROP_MALFORMED;
	body.icmp.type = ICMP_DEST_UNREACH;
	body.icmp.code = ICMP_PORT_UNREACH;
	body.icmp.checksum = csum_fold(bpf_csum_diff(0, 0, (__be32 *)&body, sizeof(body), 0));
	return write_answer(skb, f, IPPROTO_ICMP, &body, sizeof(body));
}

#endif
