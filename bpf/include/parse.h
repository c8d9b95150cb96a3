/* Header parsing: Ethernet -> IPv4 -> TCP/UDP, with a bounds check before every access. */
#ifndef KBP_PARSE_H
#define KBP_PARSE_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "types.h"

#define IP_OFF ETH_HLEN
#define IP_CSUM_OFF (IP_OFF + offsetof(struct iphdr, check))
#define IP_SADDR_OFF (IP_OFF + offsetof(struct iphdr, saddr))
#define IP_DADDR_OFF (IP_OFF + offsetof(struct iphdr, daddr))
#define IP_MF 0x2000
#define IP_OFFSET_MASK 0x1fff
/* Ethernet + the longest IPv4 header + a TCP header without options. */
#define MAX_HDR_LEN (ETH_HLEN + 60 + sizeof(struct tcphdr))

/* What the datapath needs to know about one IPv4 TCP/UDP packet. */
struct flow4 {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 tcp_flags; /* TCP_F_* below */
	__u16 l4_off;   /* from the start of the frame */
	__u16 ip_len;   /* IPv4 total length */
	__u16 ihl_bytes;
};

#define TCP_F_FIN 0x01
#define TCP_F_SYN 0x02
#define TCP_F_RST 0x04
#define TCP_F_ACK 0x10

/* A TCP SYN without ACK: the first packet of a new connection. */
static __always_inline bool tcp_syn_only(const struct flow4 *f)
{
	return f->proto == IPPROTO_TCP && (f->tcp_flags & (TCP_F_SYN | TCP_F_ACK)) == TCP_F_SYN;
}

/* Makes sure the headers sit in the linear part of the skb, where direct access can reach them. */
static __always_inline void pull_headers(struct __sk_buff *skb)
{
	__u32 want = skb->len < MAX_HDR_LEN ? skb->len : MAX_HDR_LEN;

	if ((void *)(long)skb->data + want > (void *)(long)skb->data_end)
		bpf_skb_pull_data(skb, want);
}

/*
 * Parses the frame in [data, data_end) of `pkt_len` bytes in all. Returns the L4 protocol (> 0) with
 * *f filled; STAT_PASS (0) when it is nothing for us (not IPv4 TCP/UDP, or a non-first fragment); or
 * -STAT_DROP_MALFORMED for a broken IPv4 packet. Shared by tc and xdp.
 */
static __always_inline int parse_flow4_data(void *data, void *data_end, __u32 pkt_len, struct flow4 *f)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 ihl;

	if ((void *)(eth + 1) > data_end)
		return STAT_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return STAT_PASS;

	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return -STAT_DROP_MALFORMED;
	ihl = ip->ihl * 4;
	if (ip->version != 4 || ihl < sizeof(*ip) || bpf_ntohs(ip->tot_len) < ihl ||
	    ETH_HLEN + (__u32)bpf_ntohs(ip->tot_len) > pkt_len)
		return -STAT_DROP_MALFORMED;
	if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP)
		return STAT_PASS;
	if (ip->frag_off & bpf_htons(IP_OFFSET_MASK))
		return STAT_PASS;

	f->saddr = ip->saddr;
	f->daddr = ip->daddr;
	f->proto = ip->protocol;
	f->ip_len = bpf_ntohs(ip->tot_len);
	f->ihl_bytes = ihl;
	f->l4_off = ETH_HLEN + ihl;
	f->tcp_flags = 0;

	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)ip + ihl;

		if ((void *)(tcp + 1) > data_end || f->ip_len < ihl + sizeof(*tcp))
			return -STAT_DROP_MALFORMED;
		f->sport = tcp->source;
		f->dport = tcp->dest;
		f->tcp_flags = ((__u8 *)tcp)[13];
	} else {
		struct udphdr *udp = (void *)ip + ihl;

		if ((void *)(udp + 1) > data_end || f->ip_len < ihl + sizeof(*udp))
			return -STAT_DROP_MALFORMED;
		f->sport = udp->source;
		f->dport = udp->dest;
	}
	return f->proto;
}

static __always_inline int parse_flow4(struct __sk_buff *skb, struct flow4 *f)
{
	pull_headers(skb);
	return parse_flow4_data((void *)(long)skb->data, (void *)(long)skb->data_end, skb->len, f);
}

static __always_inline int parse_flow4_xdp(struct xdp_md *ctx, struct flow4 *f)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return parse_flow4_data(data, data_end, data_end - data, f);
}

#endif
