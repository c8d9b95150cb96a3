// SPDX-License-Identifier: GPL-2.0
/*
 * Programs that do nothing: what BPF_PROG_TEST_RUN costs around any program (subtracted by the
 * benchmark), and, on a veth, what makes it receive the frames its peer sends with XDP_TX (a veth
 * takes them in only with an XDP program of its own).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int kbp_baseline(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

SEC("xdp")
int kbp_baseline_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
