/* Checksum arithmetic for rewritten and generated packets. */
#ifndef KBP_CSUM_H
#define KBP_CSUM_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u16 csum_fold(__s64 sum)
{
	__u32 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* RFC 1624 incremental update of a checksum for one 32-bit field changing from `from` to `to`. */
static __always_inline __u16 csum_replace4(__u16 check, __be32 from, __be32 to)
{
	__u32 sum = (__u16)~check;

	sum += (~from & 0xffff) + (~from >> 16) + (to & 0xffff) + (to >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* The same for one 16-bit field. */
static __always_inline __u16 csum_replace2(__u16 check, __be16 from, __be16 to)
{
	__u32 sum = (__u16)~check;

	sum += (__u16)~from + to;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Partial sum of the TCP/UDP pseudo header. */
static __always_inline __s64 csum_pseudo4(__be32 saddr, __be32 daddr, __u8 proto, __u16 l4_len)
{
	__be32 words[3] = { saddr, daddr, bpf_htonl(((__u32)proto << 16) | l4_len) };

	return bpf_csum_diff(0, 0, words, sizeof(words), 0);
}

/* Offset of the L4 checksum field, or 0 when the packet carries none (UDP checksum 0). */
static __always_inline __u32 l4_csum_off(__u8 proto, __u32 l4_off)
{
	return l4_off + (proto == IPPROTO_TCP ? 16 : 6);
}

#endif
